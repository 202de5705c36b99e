"""The bulk operations' section of docs/benchmarks.md (bench/bulk.py measures): the figures' records, the writes
per partition key counted from each write request, and the Markdown."""
import re
from collections import Counter
from dataclasses import dataclass

from bench.counting import Tally
from bench.report import table

TARGETS = (1_000, 20_000)
# At 20,000 targets: every target is expanded, about this many device operations are carried out, then the bulk
# operation is cancelled (its closing recounts all 20,000). Carrying out all 20,000 on moto would take half an hour.
CARRIED_OUT = 1_000
SINGLE_PATCHES = 100


class KeyWrites:
    """Item writes by partition key (table and the index keys a request sets), from each write request."""

    def __init__(self):
        self.counts: Counter = Counter()

    def attach(self, client_meta) -> None:
        client_meta.events.register("provide-client-params.dynamodb", self._seen)

    def _seen(self, params, model, **_):
        for item_key in self._written(model.name, params):
            self.counts[re.sub(r"\d+", "<n>", item_key)] += 1

    @staticmethod
    def _written(operation: str, params: dict) -> list[str]:
        def of_put(item):
            return [item["PK"], *(item[name] for name in ("GSI1PK", "GSI2PK", "GSI3PK") if name in item)]

        def of_update(body):
            names = body.get("ExpressionAttributeNames", {})
            values = body.get("ExpressionAttributeValues", {})
            expression = body.get("UpdateExpression", "")
            keys = [body["Key"]["PK"]]
            for placeholder, name in names.items():
                if name in ("GSI1PK", "GSI2PK", "GSI3PK"):
                    match = re.search(rf"{placeholder}\s*=\s*(:\w+)", expression)
                    if match and isinstance(values.get(match.group(1)), str):
                        keys.append(values[match.group(1)])
            return keys

        if operation == "PutItem":
            return of_put(params["Item"])
        if operation == "UpdateItem":
            return of_update(params)
        if operation == "BatchWriteItem":
            return [k for requests in params["RequestItems"].values() for r in requests
                    for k in (of_put(r["PutRequest"]["Item"]) if "PutRequest" in r
                              else [r["DeleteRequest"]["Key"]["PK"]])]
        if operation == "TransactWriteItems":
            keys = []
            for action in params["TransactItems"]:
                for kind, body in action.items():
                    if kind == "Put":
                        keys += of_put(body["Item"])
                    elif kind in ("Update", "Delete"):
                        keys += of_update(body) if kind == "Update" else [body["Key"]["PK"]]
            return keys
        return []


def requests_of(tally: Tally) -> int:
    return sum(tally.requests.values()) + sum(tally.sqs.values())


def per_device(tally: Tally, n: int) -> str:
    parts = [f"{count / n:.3f} {name}" for name, count in sorted((tally.requests + tally.sqs).items())]
    return " + ".join(parts) or "none"


def summed(*tallies: Tally) -> Tally:
    total = Tally()
    for tally in tallies:
        total += tally
    return total


@dataclass
class CostRun:
    targets: int
    carried_out: int
    create: Tally
    expansion: Tally
    slices: Tally
    agent: Tally
    closing: Tally
    seconds: float
    key_writes: Counter

    @property
    def per_device(self) -> float:
        """Requests per device operation: what every target shares (create, expansion, closing) over the targets,
        what each carried-out device costs (its turn, the agent, the settles) over those carried out."""
        return ((requests_of(self.create) + requests_of(self.expansion) + requests_of(self.closing)) / self.targets
                + (requests_of(self.slices) + requests_of(self.agent)) / self.carried_out)


@dataclass
class AbortRun:
    queued_at_abort: int
    cancelled: int
    wait_seconds: float        # simulated: from the abort to the step that cancelled (the next slice)
    cancel_seconds: float      # wall time of that step on moto
    requests_per_cancel: float


def render(single: float, single_tally: Tally, costs: list[CostRun], pacing: list[list], aborted: AbortRun) -> str:
    rows = []
    for run in costs:
        rows.append([f"{run.targets:,}", f"{run.carried_out:,}", f"{run.per_device:.3f}",
                     f"{run.per_device - single:+.3f}",
                     per_device(run.create, run.targets), per_device(run.expansion, run.targets),
                     per_device(run.slices, run.carried_out), per_device(run.agent, run.carried_out),
                     per_device(run.closing, run.targets)])
    small = costs[0]
    key_rows = [[key, f"{n / small.carried_out:.3f}"] for key, n in small.key_writes.most_common(14)]
    return "\n".join([
        "## Bulk operations (API.md §11)", "",
        "Produced by `bench/bulk.py` on moto with a controllable clock (the agent works the operations queue while "
        "a bulk round waits between slices). Requests are our code's: routes, bulk rounds, the agent and its settle; "
        "the event source mappings' receives and deletes are left out on both sides.", "",
        f"### Requests per device operation (a reboot), beside a single PATCH's: {single:.3f}", "",
        f"A single PATCH and its agent work, per operation: {per_device(single_tally, SINGLE_PATCHES)}.", "",
        table(["Targets", "Carried out", "Requests per device operation", "vs a PATCH", "Create (÷ targets)",
               "Expansion (÷ targets)", "Slices: turns, sends, settles (÷ carried out)",
               "Agent + settle (÷ carried out)", "Closing (÷ targets)"], rows), "",
        f"At {TARGETS[-1]:,} targets every target is expanded and the closing recounts all of them; the slices that "
        f"reach {CARRIED_OUT:,} device operations are carried out ({costs[-1].carried_out:,}) and the rest cancelled "
        "(the whole would take half an hour on moto). Target: a PATCH's agent work plus at most 1 amortized "
        "request.", "",
        f"### Writes per device operation by partition key ({small.targets:,} targets; index keys where the "
        "request sets them)", "",
        table(["Key", "Writes per device operation"], key_rows), "",
        "### Pacing against max_per_minute and the ramp (simulated minutes)", "",
        table(["Case", "Minute", "Devices queued", "Rate allowed (ramp: from the successes by then)"], pacing), "",
        "### From the abort's condition to the last queued operation cancelled", "",
        table(["Queued at the abort", "Cancelled", "Wait for the next slice (simulated s)",
               "Cancelling them (wall s, moto)", "Requests per cancelled operation"],
              [[aborted.queued_at_abort, aborted.cancelled, f"{aborted.wait_seconds:.1f}",
                f"{aborted.cancel_seconds:.2f}", f"{aborted.requests_per_cancel:.2f}"]]), "",
    ])
