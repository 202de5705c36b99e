"""The one-minute sweep: time out operations past their deadline, and send again those no agent picked up.

Both indexes are sharded by device (schema.OPERATION_SHARDS): the sweep reads every shard in parallel, one Query
per shard and page, and pages through everything due rather than a fixed number a minute. What its time budget
leaves (a backlog after an outage), the next minute's sweep finds.
"""
import time
from dataclasses import dataclass
from datetime import datetime

from chalicelib import clock
from chalicelib.observability import OPERATIONS_RESENT, metrics
from chalicelib.operations import db, dispatch, queue
from chalicelib.operations.models import UNFINISHED
from chalicelib.store import dynamo
from chalicelib.store.schema import OPERATION_SHARDS

# Seconds kept back from the Lambda's remaining time (the last transition, and the bulk settle after the sweep).
RESERVE_SECONDS = 10.0
# Without a Lambda context (tests, scripts): how long a sweep may run.
DEFAULT_BUDGET_SECONDS = 60.0


@dataclass
class Swept:
    timed_out: int = 0
    resent: int = 0


def run(now: datetime | None = None, context=None) -> Swept:
    """Sweep every shard in parallel; what was timed out and sent again."""
    now = now or clock.now()
    budget = (context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS) if context else DEFAULT_BUDGET_SECONDS
    until = time.monotonic() + max(1.0, budget)
    results = dynamo.parallel([lambda shard=shard: _sweep_shard(shard, now, until)
                               for shard in range(OPERATION_SHARDS)])
    swept = Swept(sum(r.timed_out for r in results), sum(r.resent for r in results))
    if swept.resent:
        metrics.add_metric(name=OPERATIONS_RESENT, unit="Count", value=swept.resent)
    return swept


def _sweep_shard(shard: int, now: datetime, until: float) -> Swept:
    swept, start = Swept(), None
    while time.monotonic() < until:
        entries, start = db.overdue_page(shard, now, start)
        for entry in entries:
            if time.monotonic() >= until:
                return swept
            swept.timed_out += _time_out(entry)
        if not start:
            break
    start = None
    while time.monotonic() < until:
        entries, start = db.outbox_page(shard, now, start)
        due = [entry for entry in entries if entry["state"] == "queued"]
        refused = {sent[:2] for sent in queue.send_operations([(int(e["device_id"]), int(e["id"]),
                                                                 e.get("bulk_operation_id")) for e in due])}
        for entry in due:
            if (int(entry["device_id"]), int(entry["id"])) not in refused:
                db.postpone_resend(entry, now)
                swept.resent += 1
        if not start:
            break
    return swept


def _time_out(entry: dict) -> bool:
    device = db.device(int(entry["device_id"]))
    if device is None or entry["state"] not in UNFINISHED:
        return False
    try:
        if entry["state"] == "dispatched" and entry.get("settlement"):
            # The driver left it uncertain: withdraw or confirm it at the ACS first, for good (dispatch.settle).
            return dispatch.settle(device, entry, final=True) == "timed_out"
        state = dispatch.conclude(device, entry, "timed_out",
                                  dispatch.failure("DEADLINE_EXCEEDED", "Not finished within its deadline.", entry), {})
    except db.StateChanged:
        return False   # its device kept changing: the next sweep finds it again
    return state == "timed_out"
