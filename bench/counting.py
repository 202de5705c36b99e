"""DynamoDB, SQS and KMS requests, items read and written, and time in the SDK, counted by botocore hooks.

moto's ConsumedCapacity figures are fake (STYLE fact 8), so cost is counted from what each request
asks and answers: items read = GetItem 1 if found, Query/Scan ScannedCount (Count kept after the
FilterExpression is `returned`), BatchGetItem/TransactGetItems items answered; items written =
Put/Update/Delete 1, and every Put/Update/Delete of a TransactWriteItems or BatchWriteItem.
"""
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

WRITE_KINDS = ("Put", "Update", "Delete")


@dataclass
class Tally:
    requests: Counter = field(default_factory=Counter)  # DynamoDB operation name -> requests
    read: int = 0
    returned: int = 0
    written: int = 0
    kms: int = 0
    sqs: Counter = field(default_factory=Counter)       # SQS operation name -> requests
    failed: int = 0
    seconds: float = 0.0      # wall time inside boto3 calls: serialization, moto, parsing
    cpu_seconds: float = 0.0  # the same in CPU time of the calling thread (lists read their shards on threads)

    def describe(self) -> str:
        """'1 Query + 1 GetItem', in the order the requests were made."""
        return " + ".join(f"{n} {op}" for op, n in self.requests.items()) or "none"

    def __iadd__(self, other: "Tally") -> "Tally":
        self.requests += other.requests
        self.sqs += other.sqs
        for name in ("read", "returned", "written", "kms", "failed", "seconds", "cpu_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def items_read(operation: str, answer: dict) -> tuple[int, int]:
    """(items read, items returned) of one successful answer."""
    if operation == "GetItem":
        found = int("Item" in answer)
        return found, found
    if operation in ("Query", "Scan"):
        return answer.get("ScannedCount", 0), answer.get("Count", 0)
    if operation == "BatchGetItem":
        found = sum(len(items) for items in answer.get("Responses", {}).values())
        return found, found
    if operation == "TransactGetItems":
        found = sum(1 for response in answer.get("Responses", []) if response.get("Item"))
        return found, found
    return 0, 0


def items_written(operation: str, params: dict) -> int:
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    if operation == "TransactWriteItems":
        return sum(1 for action in params["TransactItems"] if set(action) & set(WRITE_KINDS))
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params["RequestItems"].values())
    return 0


class Meter:
    """Tallies every DynamoDB, SQS and KMS call of a boto3 session into the current phase.

    The phase is "overhead" unless the bench's innermost middleware has set "operation" around the
    route itself, so authentication and the rate limit are told apart from the operation's own cost;
    the agent's measurements name their own phases (`phase_of`).
    """

    def __init__(self):
        self.phase = "overhead"
        self.tallies: dict[str, Tally] = {}

    def attach(self, session) -> None:
        """Hook a session before it makes clients: each client copies the session's handlers."""
        for service in ("dynamodb", "kms", "sqs"):
            session.events.register(f"provide-client-params.{service}", self._started)
            session.events.register(f"after-call.{service}", self._answered)

    def route_phase(self, event, get_response):
        """Chalice http middleware: registered after the app's own, it runs innermost, around the route."""
        self.phase = "operation"
        try:
            return get_response(event)
        finally:
            self.phase = "overhead"

    @contextmanager
    def phase_of(self, name: str):
        """Count the calls made inside the block into phase `name`, then go back to the phase before."""
        before, self.phase = self.phase, name
        try:
            yield
        finally:
            self.phase = before

    def take_phase(self, name: str) -> Tally:
        """The tally of one phase since the last take, the others left in place."""
        return self.tallies.pop(name, None) or Tally()

    def take(self) -> dict[str, Tally]:
        """The tallies since the last take, by phase."""
        tallies, self.tallies = self.tallies, {}
        return tallies

    def _started(self, params, context, **_):
        # The thread's own CPU: a process clock would count every shard's parallel Query in each of them.
        context["bench"] = (params, time.perf_counter(), time.thread_time())

    def _answered(self, http_response, parsed, model, context, **_):
        params, started, cpu_started = context.pop("bench")
        tally = self.tallies.setdefault(self.phase, Tally())
        tally.seconds += time.perf_counter() - started
        tally.cpu_seconds += time.thread_time() - cpu_started
        ok = http_response.status_code < 300
        tally.failed += not ok
        service = model.service_model.service_name
        if service == "kms":
            tally.kms += 1
            return
        if service == "sqs":
            tally.sqs[model.name] += 1
            return
        tally.requests[model.name] += 1
        if ok:
            read, returned = items_read(model.name, parsed)
            tally.read += read
            tally.returned += returned
            tally.written += items_written(model.name, params)
