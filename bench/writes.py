"""The write path (issue 11): 16 concurrent writers creating and patching devices of one organization, without
and with injected transaction conflicts; DynamoDB requests per create, PATCH and status change; and the writes
each partition key takes per 10,000 calls, from which docs/capacity.md ("Write path") extrapolates to the targets.

Concurrent writers go through chalice's LocalGateway from 16 threads (local/concurrent_gateway.py), on moto
answering one DynamoDB request at a time. moto has no TransactionConflict: the second run answers every tenth
TransactWriteItems in moto's place with a cancellation for TransactionConflict (a botocore before-call hook on
our client, as the tests do), which the store's retry policy must absorb.
"""
import json
import random
import re
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager, nullcontext

from bench.counting import Tally
from bench.report import table

WRITERS = 16
CONCURRENT_CALLS = 160        # creates, then PATCHes of those devices, per run
SEQUENTIAL_CALLS = 30         # per kind, for the requests of one call
KEY_CALLS = 192               # per kind, for the writes per partition key (scaled to 10,000)
KEY_PROCESSES = 16            # ... sent by this many writer processes in turn (as Lambdas), KEY_CALLS / 16 each
TARGET_CALLS_PER_SECOND = 500  # DEVELOPERS.md: 500 API requests/s, taken here as all of one kind, in one organization
WRITE_OPERATIONS = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")


class Requests:
    """Every DynamoDB request our clients answer (after botocore's own retries), from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_operation: Counter = Counter()
        self.cancelled: Counter = Counter()     # TransactWriteItems cancellations by reason

    def hook(self, http_response, parsed, model, **_):
        with self._lock:
            self.by_operation[model.name] += 1
            if http_response.status_code >= 300:
                for reason in parsed.get("CancellationReasons") or []:
                    if reason.get("Code", "None") != "None":
                        self.cancelled[reason["Code"]] += 1

    def take(self) -> tuple[Counter, Counter]:
        with self._lock:
            taken = (self.by_operation, self.cancelled)
            self.by_operation, self.cancelled = Counter(), Counter()
            return taken


@contextmanager
def _hooked(event: str, hook, first: bool = False):
    from chalicelib import aws

    client = aws.dynamodb()
    (client.meta.events.register_first if first else client.meta.events.register)(event, hook)
    try:
        yield
    finally:
        client.meta.events.unregister(event, hook)


@contextmanager
def _every_tenth_transaction_conflicts():
    """Answers every tenth TransactWriteItems with a TransactionConflict cancellation, in moto's place."""
    from botocore.awsrequest import AWSResponse

    lock, seen = threading.Lock(), [0]

    def hook(params, **_):
        with lock:
            seen[0] += 1
            if seen[0] % 10:
                return None
        reasons = [{"Code": "None"} for _ in json.loads(params["body"])["TransactItems"]]
        reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        parsed = {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                  "CancellationReasons": reasons, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None), parsed

    with _hooked("before-call.dynamodb.TransactWriteItems", hook, first=True):
        yield


def _per_call(counts: Counter, calls: int) -> str:
    return " + ".join(f"{counts[op] / calls:.2f} {op}" for op in sorted(counts, key=lambda op: -counts[op])) or "none"


def _concurrent(clients, organization: int, device_type: int, label: str, prefix: str, requests: Requests) -> list:
    """A round of concurrent creates, then of concurrent PATCHes of those devices: one table row each."""
    rows = []
    bodies = [{"name": f"{prefix}-{n}", "serial_number": f"{prefix.upper()}-{n:05d}", "type": device_type,
               "organization_id": organization, "status": "Up" if n % 2 else "Down"} for n in range(CONCURRENT_CALLS)]
    requests.take()
    started = time.perf_counter()
    created = clients.at_once([lambda b=b: clients.send("POST", "/inventory_device/", b) for b in bodies], WRITERS)
    rows.append(_row("create", label, created, time.perf_counter() - started, requests.take()))
    ids = [answer.json_body["id"] for answer in created if answer.status_code == 201]
    picks = random.Random(7)
    patches = [(picks.choice(ids), n) for n in range(CONCURRENT_CALLS)]
    started = time.perf_counter()
    patched = clients.at_once([lambda d=d, n=n: clients.send("PATCH", f"/inventory_device/{d}/",
                                                             {"description": f"{prefix}-{n}"})
                               for d, n in patches], WRITERS)
    rows.append(_row("PATCH (description)", label, patched, time.perf_counter() - started, requests.take()))
    return rows


def _row(kind: str, label: str, answers: list, seconds: float, taken: tuple[Counter, Counter]) -> list:
    counts, cancelled = taken
    calls = len(answers)
    errors = Counter(answer.status_code for answer in answers if answer.status_code >= 300)
    transactions = counts["TransactWriteItems"]
    return [kind, label, calls, sum(errors.values()) or "0",
            ", ".join(f"{n} × {status}" for status, n in sorted(errors.items())) or "none",
            f"{transactions / calls:.2f}", f"{(transactions - calls) / calls:.2f}",
            ", ".join(f"{n} {code}" for code, n in sorted(cancelled.items())) or "none",
            _per_call(counts, calls), f"{calls / seconds:.0f}"]


class WrittenKeys:
    """The partition keys (table and index) each successful write request writes, by key."""

    def __init__(self):
        self.by_key: Counter = Counter()

    def started(self, params, context, model, **_):
        if model.name in WRITE_OPERATIONS:
            context["bench_keys"] = _keys_written(model.name, params)

    def answered(self, http_response, context, **_):
        keys = context.pop("bench_keys", None)
        if keys and http_response.status_code < 300:
            self.by_key.update(keys)

    def take(self) -> Counter:
        taken, self.by_key = self.by_key, Counter()
        return taken


def _keys_written(operation: str, params: dict) -> list[str]:
    """Table and index partition keys one write request writes: a Put's own, an Update's or Delete's item's
    as stored now (moto's table read directly: no request), since DynamoDB rewrites its index entries too."""
    if operation == "TransactWriteItems":
        actions = [(kind, body) for action in params["TransactItems"] for kind, body in action.items()]
    elif operation == "BatchWriteItem":
        actions = [("Put", r["PutRequest"]) if "PutRequest" in r else ("Delete", r["DeleteRequest"])
                   for requests in params["RequestItems"].values() for r in requests]
    else:
        actions = [({"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation], params)]
    keys = []
    for kind, body in actions:
        if kind == "ConditionCheck":
            continue
        item = body["Item"] if kind == "Put" else (_stored(body["Key"]) or body["Key"])
        keys += [f"{name}={item[name]}" for name in ("PK", "GSI1PK", "GSI2PK", "GSI3PK") if item.get(name)]
    return keys


def _stored(key: dict) -> dict | None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import aws
    from chalicelib.store import dynamo

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][aws.session().region_name]
    item = backend.get_item(dynamo.table_name(), {"PK": {"S": key["PK"]}, "SK": {"S": key["SK"]}})
    return {name: value.value for name, value in item.attrs.items()} if item else None


def _family(key: str) -> str:
    """A key with its ids and shard numbers replaced: `GSI2PK=DEVICES#<n>`."""
    return re.sub(r"(?<![A-Z])\d+", "<n>", key)


def _key_rows(kind: str, written: Counter, calls: int) -> list[list]:
    families: dict[str, list[int]] = defaultdict(list)
    for key, writes in written.items():
        families[_family(key)].append(writes)
    scale = 10_000 / calls
    rows = []
    for family, counts in sorted(families.items(), key=lambda f: -max(f[1])):
        busiest = max(counts) * scale
        rows.append([kind, f"`{family}`", len(counts), f"{sum(counts) * scale:,.0f}", f"{busiest:,.0f}",
                     f"{busiest / 10_000 * TARGET_CALLS_PER_SECOND:,.0f}"])
    return rows


def _sequential(client, meter, token: str, kind: str, calls: list, processes: int = 1) -> tuple[list, Counter]:
    """Requests of the route itself (the Meter's operation phase) per call, one call at a time; with `processes`,
    the calls are split into that many runs, each from a new writer process (its own id block and slot)."""
    from chalicelib.observability import metrics
    from chalicelib.store import dynamo

    tally = Tally()
    for n, (method, path, body) in enumerate(calls):
        if processes > 1 and n % (len(calls) // processes) == 0:
            dynamo.forget_sequences()
        meter.take()
        answer = client.http.request(method, path, body=json.dumps(body).encode(),
                                     headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
        metrics.clear_metrics()
        if answer.status_code >= 300:
            raise RuntimeError(f"{kind}: HTTP {answer.status_code} {answer.body[:200]!r}")
        tally += meter.take().get("operation", Tally())
    return [kind, len(calls), _per_call(tally.requests, len(calls)),
            f"{tally.written / len(calls):.1f}", f"{tally.read / len(calls):.1f}"], tally.requests


def measure() -> str:
    from app import app
    from bench.world import world
    from chalicelib.tokens import service as tokens
    from chalicelib.tokens.models import PERMISSIONS, TokenCreate
    from local.concurrent_gateway import ConcurrentClients, current_request_per_thread

    with world() as (client, meter), current_request_per_thread(app):
        token = tokens.create_token(None, TokenCreate(name="bench-writes", permissions=list(PERMISSIONS),
                                                      rate_limit_per_minute=100_000))["token"]
        clients = ConcurrentClients(app, token)
        device_type = clients.send("POST", "/admin/device_types/", {
            "short_name": "bench_writes", "name": "Router", "category": "router", "manufacturer": "Bench",
            "product_class": "W1"}).json_body["id"]
        requests = Requests()
        concurrent = []
        with _hooked("after-call.dynamodb", requests.hook):
            for label, prefix, faults in (("none", "plain", nullcontext),
                                          ("10% of transactions: TransactionConflict", "conflict",
                                           _every_tenth_transaction_conflicts)):
                answer = clients.send("POST", "/admin/organizations/", {"name": f"bench-{prefix}"})
                with faults():
                    concurrent += _concurrent(clients, answer.json_body["id"], device_type, label, prefix, requests)
                print(f"  writes: concurrent run ({label}) done", flush=True)

        organization = clients.send("POST", "/admin/organizations/", {"name": "bench-sequential"}).json_body["id"]
        serials = iter(range(1_000_000))

        def creates(n):
            return [("POST", "/inventory_device/", {"name": "s", "serial_number": f"SEQ-{next(serials):07d}",
                                                    "type": device_type, "organization_id": organization,
                                                    "status": "Down"}) for _ in range(n)]

        keys = WrittenKeys()
        sequential, key_rows = [], []
        with _hooked("provide-client-params.dynamodb", keys.started), _hooked("after-call.dynamodb", keys.answered):
            for kind, make in (("create", creates),
                               ("PATCH (description)", None),
                               ("PATCH (status change)", None)):
                for calls, into in ((SEQUENTIAL_CALLS, sequential), (KEY_CALLS, key_rows)):
                    if make is not None:
                        batch = make(calls)
                    else:
                        ids = [clients.send("POST", *c[1:]).json_body["id"] for c in creates(calls)]
                        flips = {d: "Up" for d in ids}
                        batch = [("PATCH", f"/inventory_device/{d}/",
                                  {"description": f"d{n}"} if kind.endswith("(description)")
                                  else {"status": flips[d]}) for n, d in enumerate(ids)]
                    keys.take()
                    row, _ = _sequential(client, meter, token, kind, batch,
                                         processes=KEY_PROCESSES if into is key_rows else 1)
                    written = keys.take()
                    if into is sequential:
                        sequential.append(row)
                    else:
                        key_rows += _key_rows(kind, written, calls)
                print(f"  writes: {kind} measured", flush=True)

    return _render(concurrent, sequential, key_rows)


def _render(concurrent: list, sequential: list, key_rows: list) -> str:
    return "\n".join([
        "## Write path: concurrent writers, requests per write, writes per partition key (issue 11)\n",
        f"`bench/writes.py`. {WRITERS} concurrent writers (threads through chalice's LocalGateway, as `chalice local` "
        f"serves) create {CONCURRENT_CALLS} devices in one organization, then send {CONCURRENT_CALLS} PATCHes to "
        "random devices among them; moto answers one DynamoDB request at a time. In the second run every tenth "
        "TransactWriteItems is answered with a TransactionConflict cancellation in moto's place. Requests are every "
        "DynamoDB request of the call (authentication, rate limit and the route), counted after botocore's own "
        "retries; retries per call are the TransactWriteItems beyond one per call (cancelled ones sent again, and "
        "PATCHes whose version check found another writer first).\n",
        table(["call", "injected", "calls", "errors", "error statuses", "transactions / call", "retries / call",
               "cancellation reasons", "DynamoDB requests / call", "calls/s (moto)"], concurrent),
        "",
        f"Requests of the route itself, one call at a time ({SEQUENTIAL_CALLS} calls each; authentication and the "
        "rate limit not included; the process's id block and writer slot already claimed, except as they fall "
        "due: an UpdateItem per block of up to 64 ids):\n",
        table(["call", "calls", "DynamoDB requests / call", "items written / call", "items read / call"], sequential),
        "",
        f"Partition keys written, table and indexes (`PK=`, `GSI1PK=` ...), scaled from {KEY_CALLS} calls of each "
        f"kind to 10,000, all in one organization, sent by {KEY_PROCESSES} writer processes in turn (as many "
        "Lambdas, each with its own id block and counter shard); `<n>` stands for ids and shard numbers. "
        f"\"At {TARGET_CALLS_PER_SECOND}/s\" is the busiest key's writes per second if all "
        f"{TARGET_CALLS_PER_SECOND} API requests/s of the target were this call in this organization, spread as "
        "here (counter shards: docs/capacity.md bounds them by what one Lambda can send).\n",
        table(["call", "key family", "keys", "writes / 10,000 calls", "busiest key / 10,000 calls",
               f"busiest key at {TARGET_CALLS_PER_SECOND}/s"], key_rows),
        "",
    ])
