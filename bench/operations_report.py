"""The remote-operations sections of docs/benchmarks.md: requests per operation, and the agent's throughput."""
import statistics
from collections import Counter
from dataclasses import dataclass

from bench.counting import Tally
from bench.operations import BATCH, KINDS, Batch, Measured, OperationsFailed, Run

# Made by local.workers.QueueWorker to build the event; the Lambda's event source mapping makes no such call.
LOCAL_ONLY = ("GetQueueAttributes",)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _counts(counts: tuple[tuple[str, float], ...]) -> str:
    return " + ".join(f"{_number(n)} {name}" for name, n in counts if n) or "none"


def _merge(*parts: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    merged: dict[str, float] = {}
    for part in parts:
        for name, n in part:
            merged[name] = merged.get(name, 0) + n
    return tuple(merged.items())


@dataclass(frozen=True)
class Cost:
    """Requests and items, possibly a share of a batch (fractions); hashable, to tell costs apart."""
    dynamodb: tuple[tuple[str, float], ...] = ()
    read: float = 0
    written: float = 0
    sqs: tuple[tuple[str, float], ...] = ()
    kms: float = 0

    @classmethod
    def of(cls, tally: Tally, per: int = 1) -> "Cost":
        return cls(tuple((name, n / per) for name, n in tally.requests.items()), tally.read / per,
                   tally.written / per, tuple((name, n / per) for name, n in tally.sqs.items()), tally.kms / per)

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(_merge(self.dynamodb, other.dynamodb), self.read + other.read, self.written + other.written,
                    _merge(self.sqs, other.sqs), self.kms + other.kms)

    def without(self, names: tuple[str, ...]) -> "Cost":
        return Cost(self.dynamodb, self.read, self.written, tuple((n, v) for n, v in self.sqs if n not in names),
                    self.kms)

    def cells(self) -> list[str]:
        return [_counts(self.dynamodb), _number(self.read), _number(self.written), _counts(self.sqs),
                _number(self.kms)]

    def describe(self) -> str:
        return (f"{_counts(self.dynamodb)}; read {_number(self.read)}, written {_number(self.written)}; "
                f"SQS {_counts(self.sqs)}; KMS {_number(self.kms)}")


def _batches_of(run: Run) -> list[tuple[Batch, Tally]]:
    """(its batch, its own requests) for each operation the agent handled, in the order handled."""
    return [(batch, record) for batch in run.batches for record in batch.records]


def operation_costs(run: Run) -> list[Cost]:
    """PATCH to finished, for each operation of a run: the i-th PATCH with the i-th record handled (the FIFO
    queue hands them over in the order sent) and its batch's requests shared out over the batch."""
    handled = _batches_of(run)
    return [Cost.of(patch.operation) + Cost.of(record) + Cost.of(batch.worker, batch.messages)
            for patch, (batch, record) in zip(run.patches, handled, strict=True)]


@dataclass
class Parts:
    """The distinct costs of each part of an operation over a set of runs (one each when constant)."""
    route: Counter
    overhead: Counter
    record: Counter
    batch: Counter      # the batch's requests ÷ its messages, full batches only
    handler: Counter    # the handler's requests outside its records
    operation: Counter  # PATCH route + record + batch share

    @classmethod
    def of(cls, runs: list[Run]) -> "Parts":
        parts = cls(*(Counter() for _ in range(6)))
        for run in runs:
            parts.route.update(Cost.of(patch.operation) for patch in run.patches)
            parts.overhead.update(Cost.of(patch.overhead) for patch in run.patches)
            parts.record.update(Cost.of(record) for record in run.records)
            parts.batch.update(Cost.of(b.worker, b.messages) for b in run.batches if b.messages == BATCH)
            parts.handler.update(Cost.of(b.handler) for b in run.batches)
            parts.operation.update(operation_costs(run))
        return parts

    @property
    def constant(self) -> bool:
        return all(len(counter) == 1 for counter in (self.route, self.record, self.batch, self.operation))


def _usual(counter: Counter) -> Cost:
    return counter.most_common(1)[0][0]


def _variants(counter: Counter) -> str:
    return "; ".join(f"{n}× {cost.describe()}" for cost, n in counter.most_common())


def failures(measured: dict[int, Measured | OperationsFailed]) -> str | None:
    failed = [f"at {size:,} devices: {m}" for size, m in measured.items() if isinstance(m, OperationsFailed)]
    return "; ".join(failed) or None


def _failed_section(title: str, why: str) -> str:
    return "\n".join([title, "", f"**Failed**: {why}. No figures."])


def constancy(measured: dict[int, Measured]) -> tuple[bool, str]:
    """(met, why): one cost per part for every operation at every size, and the same at every size."""
    by_size = {size: Parts.of(m.runs) for size, m in measured.items()}
    varying = [f"{size:,}" for size, parts in by_size.items() if not parts.constant]
    if varying:
        return False, f"operations cost differently within the fleet of {', '.join(varying)}"
    if len({_usual(parts.operation) for parts in by_size.values()}) > 1:
        return False, "an operation costs differently at different fleet sizes"
    count = sum(run.operations for m in measured.values() for run in m.runs)
    return True, f"all {count:,} operations measured cost the same, at every fleet size"


def cost_section(measured: dict[int, Measured | OperationsFailed], table) -> str:
    if failed := failures(measured):
        return _failed_section("## 5. Requests per remote operation, PATCH to finished", failed)
    small = min(measured)
    parts = Parts.of(measured[small].runs)
    overhead = _usual(parts.overhead)
    overhead_note = ("" if len(parts.overhead) == 1 else
                     f" Authentication + rate limit: {parts.overhead[overhead]} of {parts.overhead.total()} PATCHes "
                     f"as in the table; the others: "
                     f"{_variants(Counter({c: n for c, n in parts.overhead.items() if c != overhead}))} (the token "
                     "looked up again after its 60 s in the cache).")
    if not all(len(counter) == 1 for counter in (parts.route, parts.record, parts.batch)):
        rows = [[name, _variants(counter)] for name, counter in (
            ("PATCH: the route", parts.route), ("Agent: the operation's record", parts.record),
            (f"Agent: the batch ÷ {BATCH}", parts.batch))]
        return "\n".join(["## 5. Requests per remote operation, PATCH to finished", "",
                          f"**Not constant** at {small:,} devices (every cost seen, with how often):", "",
                          table(["Part", "Costs seen"], rows)])
    route, record, batch = _usual(parts.route), _usual(parts.record), _usual(parts.batch)
    agent = record + batch
    patch = route + overhead
    total = patch + agent
    on_aws = total.without(LOCAL_ONLY)
    handler = " + ".join(cost.describe() for cost in parts.handler if cost != Cost()) or "none"
    kinds = " or ".join(f"`{{\"{kind}\": true}}`" for kind in KINDS)
    rows = [
        [f"PATCH {kinds}: the route (`devices.service.patch_device`)", *route.cells()],
        ["PATCH: authentication + rate limit", *overhead.cells()],
        ["**PATCH, the whole call**", *patch.cells()],
        ["Agent: the operation's record (`agent.handle_record` → `operations.service.advance`)", *record.cells()],
        [f"Agent: the batch ÷ {BATCH} (receive, delete; `GetQueueAttributes` is local only)", *batch.cells()],
        ["**Agent, per operation**", *agent.cells()],
        ["**Total per operation, PATCH to finished**", *total.cells()],
        ["**Total as on AWS** (without the local worker's `GetQueueAttributes`)", *on_aws.cells()],
    ]
    warm = measured[small].warm_up
    warm_rows = [[f"PATCH {i + 1}", *Cost.of(p.operation).cells()] for i, p in enumerate(warm.patches)]
    warm_rows += [[f"Batch of {b.messages}: the worker", *Cost.of(b.worker).cells()] for b in warm.batches]
    warm_rows += [[f"Record {i + 1}", *Cost.of(r).cells()] for i, r in enumerate(warm.records)]
    per_size = []
    for size, m in measured.items():
        size_parts = Parts.of(m.runs)
        first, last = operation_costs(m.runs[0])[0], operation_costs(m.runs[-1])[-1]
        count = sum(run.operations for run in m.runs)
        per_size.append([f"{size:,}", f"{len(m.runs)} × {m.runs[0].operations}",
                         *(str(len(c)) for c in (size_parts.route, size_parts.record, size_parts.batch)),
                         first.describe(), f"{last.describe()} (the {count:,}th)" if last != first else
                         f"the same (the {count:,}th)"])
    met, why = constancy(measured)
    header = ["Part", "DynamoDB requests", "Items read", "Items written", "SQS requests", "KMS"]
    return "\n".join([
        "## 5. Requests per remote operation, PATCH to finished",
        "",
        f"Operations queued through the API, `PATCH {{\"{KINDS[0]}\": true}}` then `PATCH {{\"{KINDS[1]}\": true}}` "
        "on the same devices (two kinds, so the second is not coalesced into the first: one operation per PATCH), "
        "then handled by the agent: `local.workers.QueueWorker.poll_once` receives up to 10 messages from the moto "
        "FIFO queue, invokes `app.handler_map[\"operations_agent_handler\"]` with the SQS event and deletes what "
        "succeeded, as the Lambda's event source mapping does. The simulated driver at its defaults (online, no "
        "latency, no faults): every operation succeeds. SQS is counted by the same botocore hooks (`sqs`). Each "
        "record is counted apart (the bench wraps `agent.handle_record`); what the worker does once per batch is "
        f"shared out over the batch's {BATCH} messages. After one unmeasured warm-up operation of each kind (below). "
        f"The fleet of {small:,}:",
        "",
        table(header, rows),
        "",
        f"The handler's own requests outside its records: {handler}.{overhead_note} The SQS requests the agent "
        "makes only when an operation fails or is retried (`ChangeMessageVisibility` for the backoff, and the "
        "like) do not occur here: every operation succeeds at the first attempt.",
        "",
        "The same for the first and the last operation, and at each fleet size (*Distinct* counts the different "
        "costs seen over every PATCH, every record and every full batch; 1 means constant). An operation's cost "
        "here is its PATCH route, its record and its share of the batch, without the per-request authentication "
        "overhead, which is the same for every API call (see *Per-request overhead*):",
        "",
        table(["Fleet", "Runs × operations", "Distinct PATCH routes", "Distinct records", "Distinct batches",
               "1st operation", "Last operation"], per_size),
        "",
        f"Target: the requests per operation are a constant: **{'met' if met else 'not met'}** ({why}).",
        "",
        "Warm-up, the first operations of the process (not in the figures above; what a cold Lambda pays once, "
        "such as `GetQueueUrl`, whose answer `operations.queue` keeps):",
        "",
        table(["Call", *header[1:]], warm_rows),
    ])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def throughput_section(measured: dict[int, Measured | OperationsFailed], table) -> str:
    if failed := failures(measured):
        return _failed_section("## 6. Agent throughput", failed)
    rows = []
    for size, m in measured.items():
        for i, run in enumerate(m.runs):
            batches = [b for b in run.batches if b.messages == BATCH] or run.batches
            sdk = [b.handler_cpu_seconds - b.handler_own_cpu_seconds for b in batches]
            rows.append([f"{size:,}", str(i + 1), str(run.operations), str(len(run.batches)),
                         f"{run.agent_seconds:.1f}", f"{run.per_second:.1f}",
                         _ms(statistics.median(b.seconds for b in batches)),
                         _ms(statistics.median(b.handler_seconds for b in batches)),
                         _ms(statistics.median(b.handler_cpu_seconds for b in batches)),
                         _ms(statistics.median(sdk)),
                         _ms(statistics.median(b.handler_own_cpu_seconds for b in batches))])
    small = min(measured)
    runs = measured[small].runs
    batches = [b for run in runs for b in run.batches if b.messages == BATCH]
    own = statistics.median(b.handler_own_cpu_seconds for b in batches)
    cpu = statistics.median(b.handler_cpu_seconds for b in batches)
    per_op_requests = sum(n for _, n in _usual(Parts.of(runs).record).dynamodb)
    return "\n".join([
        "## 6. Agent throughput",
        "",
        f"Only the agent is timed (the PATCHes that queue the operations are not): `poll_once` until the queue is "
        f"empty, batches of {BATCH}, the simulated driver with no latency, in-process on moto. *Agent s* is the sum "
        "of the run's `poll_once` calls and *Ops/s* the run's operations divided by it; the ms columns are medians "
        "per batch over the run's full batches: *Batch* is the whole `poll_once` (receive, handler, delete); "
        "*Handler* the handler invocation alone; *in boto3 + moto* the CPU time inside its SDK calls (moto answers "
        "in-process, so this is moto's work, not network time); *Own* the rest, the handler's own code (powertools' "
        "batch processor, message model, `operations.service`, the driver). Where *Handler ms* is well above "
        "*Handler CPU ms*, the process was waiting for a CPU: the machine was busy with something else.",
        "",
        table(["Fleet", "Run", "Operations", "Batches", "Agent s", "Ops/s", "Batch ms", "Handler ms",
               "Handler CPU ms", "in boto3 + moto ms", "Own CPU ms"], rows),
        "",
        f"**{measured[small].per_second:.1f} operations/s** through the agent at {small:,} devices (median of "
        f"{len(runs)} runs of {runs[0].operations})"
        + "".join(f"; {m.per_second:.1f} at {size:,} ("
                  f"{f'median of {len(m.runs)} runs' if len(m.runs) > 1 else 'one run'} of {m.runs[0].operations})"
                  for size, m in measured.items() if size != small)
        + f". moto bounds it: {(cpu - own) / cpu:.0%} of the handler's CPU time is inside boto3 and moto "
        f"({_number(per_op_requests)} DynamoDB requests per operation, made one after the other). The handler's own "
        f"code costs {own * 1000 / BATCH:.1f} ms CPU per operation, so on AWS one agent invocation is bound by its "
        f"{_number(per_op_requests)} sequential DynamoDB round trips per operation (a few ms each) rather than by "
        "its code; no target is set for throughput.",
    ])


def summary_lines(measured: dict[int, Measured | OperationsFailed]) -> list[str]:
    if failed := failures(measured):
        return [f"- Requests per remote operation are a constant: **failed: {failed}**.",
                "- Agent throughput: **failed** (same cause)."]
    met, why = constancy(measured)
    small = min(measured)
    return [f"- Requests per remote operation (PATCH to finished) are a constant: **{'met' if met else 'not met'}** "
            f"({why}).",
            f"- Agent throughput: {measured[small].per_second:.1f} operations/s on moto at {small:,} devices "
            "(no target set; moto-bound, see section 6)."]
