"""Bulk operations (API.md §11): requests per device operation inside a bulk operation at 1,000 and 20,000 targets,
beside a single PATCH's; pacing against max_per_minute and the ramp; the time from an abort's condition to the
last queued operation cancelled. Every part runs on a controllable clock (chalicelib.clock's now and sleep), the
agent working the operations queue whenever a bulk round waits between slices, as it would meanwhile, deployed.

Requests are our code's (the routes, the bulk rounds, the agent and its settle), counted by bench.counting's hooks;
the event source mappings' own receives and deletes are left out, for the single PATCH as for the bulk operation.
"""
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from unittest.mock import patch

from bench.bulk_report import (
    CARRIED_OUT,
    SINGLE_PATCHES,
    TARGETS,
    AbortRun,
    CostRun,
    KeyWrites,
    render,
    requests_of,
    summed,
)
from bench.counting import Tally
from bench.fleet import Fleet
from bench.operations import quiet_logs

MAX_RATE = 10_000
RAMP = {"base_per_minute": 20, "increment_factor": 2, "every_succeeded": 40}
PACING_CASES = (("max_per_minute 120", 360, {"max_per_minute": 120}),
                ("ramp 20 ×2 per 40 successes, max 240", 600, {"max_per_minute": 240, "ramp": RAMP}))
ABORT_DEVICES = 600


class BulkFleet(Fleet):
    """The bench fleet with every device in its first organization (one bulk operation's target)."""

    def body(self, **overrides) -> dict:
        return super().body(organization_id=self.organizations[0], **overrides)


@dataclass
class Clock:
    """What happens meanwhile (the agent) happens at the start of a wait: an abort it causes then waits the whole
    slice for the step that cancels (the worst case)."""
    at: object
    meanwhile: list = field(default_factory=list)

    def now(self):
        return self.at

    def sleep(self, seconds: float) -> None:
        for work in self.meanwhile:
            work()
        self.at += timedelta(seconds=seconds)


@contextmanager
def controlled_clock():
    from chalicelib import clock

    controlled = Clock(clock.now())
    with patch.object(clock, "now", controlled.now), patch.object(clock, "sleep", controlled.sleep):
        yield controlled


class Harness:
    """One world: the fleet, the bulk rounds and the agent, each counted in a phase of its own."""

    def __init__(self, client, meter, clock):
        from app import app
        from local.workers import QueueWorker

        self.client, self.meter, self.clock, self.app = client, meter, clock, app
        self.agent = QueueWorker(app)
        self.agent_batches = 0
        clock.meanwhile.append(self.work_agent)

    def work_agent(self, batches: int | None = None) -> None:
        from chalicelib.observability import metrics

        done = 0
        with self.meter.phase_of("mapping"):
            while (batches is None or done < batches) and self.agent.poll_once(wait_seconds=0):
                done += 1
        self.agent_batches += done
        metrics.clear_metrics()

    def post(self, path: str, token: str, body: dict | None = None) -> dict:
        import json

        response = self.client.http.request("POST", path, body=json.dumps(body or {}).encode(), headers={
            "content-type": "application/json", "authorization": f"Bearer {token}"})
        if response.status_code >= 300:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.body[:300]!r}")
        return response.json_body

    def round(self) -> bool:
        """One bulk round from the queue (the handler counted in phase "rounds"); False when none is asked for."""
        import json

        from chalice.local import LambdaContext

        from chalicelib import aws
        from chalicelib.bulk import queue as bulk_queue
        from chalicelib.observability import metrics
        from local.workers import sqs_event

        sqs, url = aws.client("sqs"), bulk_queue.queue_url()
        with self.meter.phase_of("mapping"):
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
            if not received:
                return False
        with self.meter.phase_of("rounds"):
            self.app.handler_map["bulk_operations_worker"](
                sqs_event(received, "arn:aws:sqs:us-east-1:123456789012:bulk"),
                LambdaContext("bulk_operations_worker", 256, bulk_queue.WORKER_TIMEOUT_SECONDS * 1000))
        with self.meter.phase_of("mapping"):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
        metrics.clear_metrics()
        return bool(json.loads(received[0]["Body"]))

    def bulk(self, bulk_id: int) -> tuple[dict, dict]:
        from chalicelib.bulk import db, progress

        with self.meter.phase_of("bench"):   # the bench's own look, counted nowhere
            bulk, pacer, _ = db.read(bulk_id, consistent=True)
            return bulk, progress.view(bulk, pacer, db.read_progress(bulk_id))

    def run(self, bulk_id: int, until, rounds: int = 400) -> dict:
        for _ in range(rounds):
            bulk, figures = self.bulk(bulk_id)
            if until(bulk, figures):
                return bulk
            if not self.round():
                self.work_agent()
                if not self.round():
                    return bulk
        raise RuntimeError(f"bulk operation {bulk_id} not done after {rounds} rounds")


def cost_run(client, meter, clock, targets: int) -> CostRun:
    """Seed `targets` devices in one organization, roll a reboot out over them at the maximum rate."""
    from chalicelib.bulk import closing, expansion

    fleet = BulkFleet()
    fleet.grow(targets)
    harness = Harness(client, meter, clock)
    writes = KeyWrites()
    meter.take()
    started = time.perf_counter()
    phase_of = meter.phase_of
    with (patch.object(expansion, "expand", _in_phase(phase_of, "expansion", expansion.expand)),
          patch.object(closing, "cancel_queued", _in_phase(phase_of, "closing", closing.cancel_queued)),
          patch.object(closing, "close_if_done", _in_phase(phase_of, "closing", closing.close_if_done))):
        from chalicelib import aws
        writes.attach(aws.dynamodb().meta)   # the client exists already: hook it, not the session
        created = harness.post("/bulk_operations/", fleet.platform, {
            "operation": "reboot", "target": {"organization_id": fleet.organizations[0]},
            "rollout": {"max_per_minute": MAX_RATE}})
        create = summed(*meter.take().values())
        cancel = Tally()
        if targets > CARRIED_OUT:
            def cancel_when_enough() -> None:
                nonlocal cancel
                if not cancel.requests and harness.bulk(created["id"])[1]["succeeded"] >= CARRIED_OUT:
                    with meter.phase_of("cancel"):
                        harness.post(f"/bulk_operations/{created['id']}/cancel/", fleet.platform)
                    cancel = summed(*(meter.take_phase(p) for p in ("cancel", "operation", "overhead")))
            clock.meanwhile.append(cancel_when_enough)
        harness.run(created["id"], lambda bulk, figures: bulk.get("closed"))
        carried_out = harness.bulk(created["id"])[1]["succeeded"]
        create += cancel
    phases = meter.take()
    return CostRun(targets, carried_out, create, phases.get("expansion", Tally()), phases.get("rounds", Tally()),
                   _agent_of(phases), phases.get("closing", Tally()), time.perf_counter() - started, writes.counts)


def _agent_of(phases: dict[str, Tally]) -> Tally:
    """The agent's handler ran inside the "mapping" phase (with its receives and deletes): its own requests are
    those that are not the mapping's SQS receive/delete/attributes."""
    mapping = phases.get("mapping", Tally())
    mine = Tally(requests=Counter(mapping.requests), sqs=Counter({name: n for name, n in mapping.sqs.items()
                                                                 if name not in ("ReceiveMessage", "DeleteMessage",
                                                                                 "DeleteMessageBatch",
                                                                                 "GetQueueAttributes")}))
    mine.written, mine.read = mapping.written, mapping.read
    return mine


def _in_phase(phase_of, name: str, function):
    def counted(*args, **kwargs):
        with phase_of(name):
            return function(*args, **kwargs)
    return counted


def single_patch_cost(client, meter) -> tuple[float, Tally]:
    """A PATCH {"reboot": true} and its agent work, per operation, in the same world."""
    import json

    fleet = BulkFleet()
    fleet.grow(SINGLE_PATCHES)
    from app import app
    from local.workers import QueueWorker

    meter.take()
    for device_id in list(fleet.bodies):
        client.http.request("PATCH", f"/inventory_device/{device_id}/", body=json.dumps({"reboot": True}).encode(),
                            headers={"content-type": "application/json", "authorization": f"Bearer {fleet.platform}"})
    route = meter.take().get("operation", Tally())
    worker = QueueWorker(app)
    with meter.phase_of("mapping"):
        while worker.poll_once(wait_seconds=0):
            pass
    agent = _agent_of(meter.take())
    total = summed(route, agent)
    return requests_of(total) / SINGLE_PATCHES, total


def pacing_run(client, meter, clock, name: str, devices: int, rollout: dict) -> list[list]:
    """Devices queued in each simulated minute against the rate in force; rows for the table."""
    from chalicelib import clock as real_clock
    from chalicelib.bulk import db

    fleet = BulkFleet()
    fleet.grow(devices)
    harness = Harness(client, meter, clock)
    created = harness.post("/bulk_operations/", fleet.platform, {
        "operation": "reboot", "target": {"organization_id": fleet.organizations[0]}, "rollout": rollout})
    harness.run(created["id"], lambda bulk, figures: bulk.get("closed"))
    meter.take()
    from chalicelib.operations import db as operations_db
    times = sorted(real_clock.parse_iso(operations_db.get(d, 1)["created"]) for d in fleet.bodies)
    start = times[0]
    minutes = Counter(int((t - start).total_seconds() // 60) for t in times)
    busiest = max(sum(1 for t in times if s <= t < s + timedelta(seconds=60)) for s in times)
    bulk, _, _ = db.read(created["id"])
    rows = []
    for minute in sorted(minutes):
        window = [t for t in times if minute * 60 <= (t - start).total_seconds() < (minute + 1) * 60]
        rows.append([name, minute + 1, minutes[minute], _rate_in(rollout, fleet, window, start)])
    return rows + [[name, "busiest 60 s", busiest, rollout["max_per_minute"]]]


def _rate_in(rollout: dict, fleet, window, start) -> str:
    """The rate the ramp allowed over the minute: from the successes before its first and its last device."""
    from chalicelib import clock as real_clock
    from chalicelib.bulk.models import Rollout
    from chalicelib.operations import db as operations_db

    if not window:
        return "–"
    model = Rollout.model_validate(rollout)
    finished = sorted(real_clock.parse_iso(operations_db.get(d, 1)["finished"]) for d in fleet.bodies)
    low = model.rate(sum(1 for t in finished if t < window[0]))
    high = model.rate(sum(1 for t in finished if t < window[-1]))
    return f"{low}" if low == high else f"{low}→{high}"


def abort_run(client, meter, clock) -> AbortRun:
    """600 devices, 30% failing their reboot, at 6,000 a minute with a 20% threshold: the first slice queues 500,
    the agent carries out one batch of 10, the threshold is crossed; what the next step cancels, and how fast."""
    from chalicelib.bulk import closing, db
    from chalicelib.drivers.simulator import SimulatorBehaviour
    from chalicelib.drivers.simulator_settings import set_behaviour
    from chalicelib.tokens import service as tokens

    fleet = BulkFleet()
    fleet.grow(ABORT_DEVICES)
    principal = tokens.authenticate(fleet.platform)
    for n, device_id in enumerate(fleet.bodies):
        if int((n + 1) * 0.3) > int(n * 0.3):
            set_behaviour(principal, device_id, SimulatorBehaviour(fail=["reboot"]))
    harness = Harness(client, meter, clock)
    clock.meanwhile.clear()
    clock.meanwhile.append(lambda: harness.work_agent(batches=1))
    timing: dict = {}
    original = closing.cancel_queued

    def timed(bulk):
        bulk_id = int(bulk["id"])
        timing["queued"] = db.read_progress(bulk_id).get("queued", 0)
        timing["at"] = clock.now()
        meter.take()
        start = time.perf_counter()
        with meter.phase_of("closing"):
            cancelled = original(bulk)
        timing.setdefault("seconds", time.perf_counter() - start)
        timing.setdefault("cancelled", cancelled)
        timing.setdefault("requests", requests_of(meter.take().get("closing", Tally())))
        return cancelled

    created = harness.post("/bulk_operations/", fleet.platform, {
        "operation": "reboot", "target": {"organization_id": fleet.organizations[0]},
        "rollout": {"max_per_minute": 6_000}, "abort": {"failure_threshold_percent": 20, "min_finished": 10}})
    with patch.object(closing, "cancel_queued", timed):
        harness.run(created["id"], lambda bulk, figures: bulk.get("closed"))
    bulk, _, _ = db.read(created["id"])
    from chalicelib import clock as real_clock
    aborted_at = real_clock.parse_iso(bulk["finished"])
    return AbortRun(timing["queued"], timing["cancelled"], (timing["at"] - aborted_at).total_seconds(),
                    timing["seconds"], timing["requests"] / max(1, timing["cancelled"]))


def measure() -> str:
    with quiet_logs():
        return _measure()


def _measure() -> str:
    from bench.world import world

    with world() as (client, meter):
        single, single_tally = single_patch_cost(client, meter)
    costs = []
    for targets in TARGETS:
        with world() as (client, meter), controlled_clock() as clock:
            costs.append(cost_run(client, meter, clock, targets))
            print(f"  bulk operation over {targets:,} targets: {costs[-1].seconds:.0f} s", flush=True)
    pacing = []
    for name, devices, rollout in PACING_CASES:
        with world() as (client, meter), controlled_clock() as clock:
            pacing += pacing_run(client, meter, clock, name, devices, rollout)
    with world() as (client, meter), controlled_clock() as clock:
        aborted = abort_run(client, meter, clock)
    return render(single, single_tally, costs, pacing, aborted)


