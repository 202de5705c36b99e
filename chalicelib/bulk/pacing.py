"""Pacing: each slice (every SLICE_SECONDS) gives the next devices their turn at the current rate.

The rate is `max_per_minute`, or the ramp's (models.Rollout.rate) from the successes counted so far. A slice
takes what the rate earned since the last one (at most a twelfth of the rate, at least one device once earned),
and never more than the rate less what the last minute's slices took: no sliding minute holds more than the
rate, and a minute's devices are spread over it, not sent in one burst (their results, and the counter and
index writes that follow, arrive spread too). Targets are taken from the
shards in rotation, each from its own cursor: every target after a shard's cursor is still pending.
"""
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal

from chalicelib import clock
from chalicelib.bulk import db as bulk_db
from chalicelib.bulk import progress, targets, turn
from chalicelib.bulk.models import Rollout
from chalicelib.observability import BULK_DEVICES_QUEUED, metrics
from chalicelib.operations import queue
from chalicelib.operations.transitions import Transition
from chalicelib.store import dynamo, schema

SLICE_SECONDS = 5
SLICES_PER_MINUTE = 60 // SLICE_SECONDS
WINDOW = timedelta(seconds=60)
THREADS = 8             # devices written at once within a slice (a transaction each)


def allowance(rate: int, slices: list, credit: float, last: datetime | None, now: datetime) -> tuple[int, list, float]:
    """(devices this slice may take, the slices still inside the last minute, the credit after it is earned).

    The rate earns credit as time passes (rate / 60 a second), so a slow rate's devices are spread over the minute
    (6 a minute: one every 10 s) rather than taken in its first slices; what a slice leaves of a device carries
    over (20 a minute: 1, 2, 2, 1, 2, 2 ...), up to one device more than a slice's worth."""
    recent = [[at, int(n)] for at, n in slices if clock.parse_iso(at) > now - WINDOW]
    taken = sum(n for _, n in recent)
    worth = max(1.0, rate / SLICES_PER_MINUTE)   # a slice's worth: the first slice starts with it
    earned = rate * min(max((now - last).total_seconds(), 0.0), 60.0) / 60 if last else worth
    credit = min(credit + earned, worth + 1)
    return max(0, min(math.floor(credit + 1e-9), rate - taken)), recent, credit


def until_next_slice(pacer: dict, now: datetime) -> float:
    """Seconds until the next slice is due (0: now)."""
    due = pacer.get("next_slice_at")
    return max(0.0, (clock.parse_iso(due) - now).total_seconds()) if due else 0.0


def run_slice(bulk: dict, pacer: dict, counts: dict, now: datetime) -> int:
    """Give up to this slice's allowance of pending targets their turn; how many got an operation."""
    bulk_id = int(bulk["id"])
    rate = Rollout.model_validate(dynamo.plain(bulk["rollout"])).rate(max(0, int(counts.get("succeeded", 0))))
    last = pacer.get("last_slice_at")
    allowed, recent, credit = allowance(rate, dynamo.plain(pacer.get("slices") or []),
                                        float(pacer.get("credit") or 0), clock.parse_iso(last) if last else None, now)
    wanted, image = _wanted(bulk)
    cursors = list(dynamo.plain(pacer["cursors"]))
    exhausted = list(dynamo.plain(pacer["exhausted"]))
    rotation = int(pacer.get("next_shard") or 0)
    moved: list[Transition] = []
    sends: list[tuple[int, int, int]] = []
    operated = 0
    while operated < allowed and not all(exhausted):
        batch, rotation = _take(bulk_id, cursors, exhausted, rotation, allowed - operated)
        if not batch:
            continue
        devices = {int(d["id"]): d for d in dynamo.batch_get([schema.device_key(int(t["device_id"])) for t in batch])}
        turns = [(target, devices.get(int(target["device_id"]))) for target in batch]
        with ThreadPoolExecutor(max_workers=min(THREADS, len(batch))) as pool:
            outcomes = list(pool.map(lambda pair: turn.take(bulk, pair[0], pair[1], wanted, image, now), turns))
        for target, outcome in zip(batch, outcomes, strict=True):
            if outcome.state is None:
                continue
            moved.append(Transition(bulk_id, int(target["device_id"]), "pending", outcome.state))
            sends += [(int(target["device_id"]), operation_id, bulk_id) for operation_id in outcome.operation_ids]
            operated += outcome.state != "skipped"
    queue.send_operations(sends)   # what SQS refuses stays queued in the outbox: the sweep sends it
    progress.settle(moved)
    bulk_db.update_pacer(bulk_id, {"cursors": cursors, "exhausted": exhausted, "next_shard": rotation,
                                   "slices": recent + ([[clock.iso(now), operated]] if operated else []), "rate": rate,
                                   "credit": Decimal(f"{max(0.0, credit - operated):.6f}"),
                                   "last_slice_at": clock.iso(now),
                                   "next_slice_at": clock.iso(now + timedelta(seconds=SLICE_SECONDS))})
    pacer.update(cursors=cursors, exhausted=exhausted, next_shard=rotation, rate=rate)
    if operated:
        metrics.add_metric(name=BULK_DEVICES_QUEUED, unit="Count", value=operated)
    return operated


def _take(bulk_id: int, cursors: list, exhausted: list, rotation: int, wanted: int) -> tuple[list[dict], int]:
    """Up to `wanted` pending targets from the open shards in rotation (one Query each); moves the cursors."""
    shards = [(rotation + i) % len(cursors) for i in range(len(cursors))]
    shards = [s for s in shards if not exhausted[s]][:wanted]
    batch = []
    for position, shard in enumerate(shards):
        share = wanted // len(shards) + (position < wanted % len(shards))
        items, done = targets.after(bulk_id, shard, cursors[shard], share)
        batch += items
        if items:
            cursors[shard] = items[-1]["SK"]
        exhausted[shard] = done or not items
    return batch, (shards[-1] + 1) % len(cursors) if shards else rotation


def _wanted(bulk: dict) -> tuple[dict[str, dict], object]:
    """The operation each device gets ({name: parameters}), and the firmware image of a firmware update."""
    parameters = dynamo.plain(bulk.get("parameters") or {})
    if bulk["operation"] != "firmware_update":
        return {bulk["operation"]: parameters}, None
    from chalicelib.firmware import db as firmware_db
    from chalicelib.operations.service import firmware_parameters

    image = firmware_db.get(int(parameters["firmware_image"]))
    return {"firmware_update": firmware_parameters(image)}, image
