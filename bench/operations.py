"""Remote operations: what one operation costs from PATCH to finished, and how fast the agent works through them.

Operations are queued through the API (`PATCH {"sync": true}`, then `PATCH {"reboot": true}` on the same
devices: two kinds, so that the second PATCH is not coalesced into the first), then the agent alone is
timed: `local.workers.QueueWorker.poll_once` receives up to 10 messages from the moto queue, invokes
`app.handler_map["operations_agent_handler"]` with the SQS event and deletes what succeeded, as the
Lambda's event source mapping does. The driver is the simulator at its defaults (online, no latency).
"""
import io
import logging
import statistics
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest.mock import patch

from bench.calls import DEVICES, CallFailed, Runner, Sample
from bench.counting import Meter, Tally
from bench.fleet import Fleet
from chalicelib.observability import SERVICE, metrics
from chalicelib.operations import agent
from local.workers import QueueWorker

KINDS = ("sync", "reboot")
BATCH = 10


class OperationsFailed(Exception):
    """A PATCH was refused or an operation did not succeed: the sections report it, the bench goes on."""


@dataclass
class Batch:
    messages: int
    seconds: float                 # poll_once: receive, handler, delete; wall time
    handler_seconds: float         # the handler invocation alone, wall time
    handler_cpu_seconds: float     # the same in CPU time of this process
    worker: Tally                  # the worker's own requests: receive, queue ARN, delete
    handler: Tally                 # the handler's requests outside its records (none expected)
    records: list[Tally] = field(default_factory=list)  # each operation's requests, in the order handled

    @property
    def handler_own_cpu_seconds(self) -> float:
        """The handler's CPU time outside boto3 and moto: its own code (powertools, models, service)."""
        return self.handler_cpu_seconds - self.handler.cpu_seconds - sum(r.cpu_seconds for r in self.records)


@dataclass
class Run:
    fleet_size: int
    patches: list[Sample]          # one PATCH per operation, in the order sent
    batches: list[Batch]
    states: Counter                # what the handler's records returned

    @property
    def operations(self) -> int:
        return sum(batch.messages for batch in self.batches)

    @property
    def agent_seconds(self) -> float:
        return sum(batch.seconds for batch in self.batches)

    @property
    def per_second(self) -> float:
        return self.operations / self.agent_seconds

    @property
    def records(self) -> list[Tally]:
        return [record for batch in self.batches for record in batch.records]


class TimedWorker(QueueWorker):
    """QueueWorker with its handler timed and its requests counted: the worker's (receive, delete),
    the handler's, and each record's apart."""

    def __init__(self, app, meter: Meter):
        super().__init__(app)
        self.meter = meter
        self._inner, self.handler = self.handler, self._handler
        self._handled = (0.0, 0.0)          # the last invocation's wall and CPU seconds
        self._records: list[Tally] = []
        self.states: Counter = Counter()   # what the records returned, or the exception they raised

    def _handler(self, event, context):
        self._records = []
        with self.meter.phase_of("handler"):
            start, cpu_start = time.perf_counter(), time.process_time()
            result = self._inner(event, context)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        self._handled = (seconds, cpu_seconds)
        return result

    def handle_record(self, record, halted=frozenset()):
        """Stands in for agent.handle_record while measuring: the same call, its requests counted apart."""
        with self.meter.phase_of("record"):
            try:
                state = self._record_handler(record, halted)
            except Exception as error:
                self.states[type(error).__name__] += 1
                raise
            finally:
                self._records.append(self.meter.take_phase("record"))
        self.states[state] += 1
        return state

    def poll(self) -> Batch | None:
        self.meter.take()
        self._handled = (0.0, 0.0)
        with self.meter.phase_of("worker"):
            start = time.perf_counter()
            messages = self.poll_once(wait_seconds=0)
            seconds = time.perf_counter() - start
        # With POWERTOOLS_METRICS_DISABLED log_metrics keeps what it does not print (see calls.Runner.call).
        metrics.clear_metrics()
        if not messages:
            return None
        tallies = self.meter.take()
        if failed := sum(t.failed for t in tallies.values()) + sum(r.failed for r in self._records):
            raise RuntimeError(f"agent batch: {failed} requests failed")
        return Batch(messages, seconds, *self._handled, tallies.get("worker", Tally()),
                     tallies.get("handler", Tally()), self._records)

    @contextmanager
    def measuring(self):
        self._record_handler = agent.handle_record
        with patch.object(agent, "handle_record", self.handle_record):
            yield


@contextmanager
def quiet_logs():
    """The agent logs two INFO lines per operation to stdout (CloudWatch, deployed): formatted as
    usual, written nowhere, so that the bench's own output stays readable."""
    handlers = [h for h in logging.getLogger(SERVICE).handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(io.StringIO()) for h in handlers]
    try:
        yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)


def devices_for(fleet: Fleet, count: int) -> list[int]:
    """`count` different seeded devices spread over the fleet."""
    ids = list(dict.fromkeys(fleet.pick(i) for i in range(count * 2)))[:count]
    if len(ids) < count:
        raise RuntimeError(f"the fleet has {len(ids)} devices for {count} operations of each kind")
    return ids


def run(app, runner: Runner, meter: Meter, fleet: Fleet, operations: int) -> Run:
    """Queue `operations` operations through the API, then let the agent work the queue empty.

    Raises:
        OperationsFailed: a PATCH was refused or did not queue one operation, or an operation did not succeed.
    """
    devices = devices_for(fleet, operations // len(KINDS))
    try:
        patches = [runner.call("PATCH", f"{DEVICES}{device}/", {kind: True})[1] for kind in KINDS
                   for device in devices]
    except CallFailed as failure:
        raise OperationsFailed(f"PATCH: {failure}") from None
    if queued := [s for s in patches if s.operation.sqs["SendMessageBatch"] != 1]:
        raise OperationsFailed(f"{len(queued)} PATCHes did not queue exactly one operation")
    worker = TimedWorker(app, meter)
    batches = []
    with worker.measuring(), quiet_logs():
        while batch := worker.poll():
            batches.append(batch)
    if worker.states != Counter(succeeded=len(patches)):
        raise OperationsFailed(f"the agent's records ended {dict(worker.states)} for {len(patches)} operations")
    return Run(fleet.size, patches, batches, worker.states)


@dataclass
class Measured:
    warm_up: Run       # one operation of each kind first: what a fresh process pays once shows here
    runs: list[Run]

    @property
    def per_second(self) -> float:
        return statistics.median(run.per_second for run in self.runs)


def measure(app, runner: Runner, meter: Meter, fleet: Fleet, operations: int, runs: int) -> Measured:
    """A warm-up (one operation of each kind: first-use imports, clients, the queue URL and the driver
    are what a cold Lambda pays once), then `runs` runs of `operations` operations.

    Raises:
        OperationsFailed: see `run`.
    """
    warm = run(app, runner, meter, fleet, len(KINDS))
    return Measured(warm, [run(app, runner, meter, fleet, operations) for _ in range(runs)])
