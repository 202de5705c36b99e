"""Progress of bulk operations: settling recorded transitions into the counters, the abort threshold, and the
`progress` a client sees.

A transition is recorded only once its transaction committed (a duplicate delivery's fails), and a settle
adds a batch's transitions to one progress shard in one UpdateItem ADD: the counters can lag (a settle lost to
a crash) but never count a device's result twice. The exact figures come from the targets themselves when
the bulk operation is closed (closing.py).
"""
from collections import Counter, defaultdict
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import clock
from chalicelib.bulk import db, queue
from chalicelib.bulk.models import COUNTED, FINAL, AbortConfig
from chalicelib.errors import FleetlineError
from chalicelib.observability import BULK_OPERATIONS_ABORTED, logger, metrics
from chalicelib.operations.transitions import Transition
from chalicelib.store import dynamo, schema

ABORTABLE = ("scheduled", "in_progress", "paused")
FAILURES = ("failed", "timed_out")


def settle(transitions: list[Transition]) -> None:
    """Add transitions to their bulk operations' counters; check the abort threshold of those with a failure."""
    deltas: dict[int, Counter] = defaultdict(Counter)
    failing = set()
    for transition in transitions:
        if transition.before != "pending":
            deltas[transition.bulk_operation_id][transition.before] -= 1
        deltas[transition.bulk_operation_id][transition.after] += 1
        if transition.after in FAILURES:
            failing.add(transition.bulk_operation_id)
    for bulk_id, delta in deltas.items():
        try:
            db.add_progress(bulk_id, dict(delta))
            if bulk_id in failing:
                check_abort(bulk_id)
        except (BotoCoreError, ClientError, FleetlineError):
            # The operations' own writes committed: a settle lost to a dependency only makes the counters lag (the
            # slices check the threshold too; the close recounts), and must not fail the batch that carried them.
            logger.exception("bulk progress not settled", extra={"bulk_operation_id": bulk_id})


def check_abort(bulk_id: int) -> bool:
    """Abort the bulk operation if its failures reached the threshold (one BatchGetItem); True if it did."""
    keys = [schema.bulk_key(bulk_id), schema.bulk_pacer_key(bulk_id),
            *(schema.bulk_progress_key(bulk_id, shard) for shard in range(schema.BULK_PROGRESS_SHARDS))]
    items = dynamo.batch_get(keys)
    bulk = next((i for i in items if i["entity"] == "BulkOperation"), None)
    pacer = next((i for i in items if i["entity"] == "BulkPacer"), None)
    counts: dict = {}
    for item in items:
        if item["entity"] == "BulkProgress":
            db.add_counts(counts, item)
    return bulk is not None and pacer is not None and abort_if_exceeded(bulk, counts, int(pacer["round"]))


def abort_if_exceeded(bulk: dict, counts: dict, round_number: int, now: datetime | None = None) -> bool:
    """Move the bulk operation to `aborted` when its threshold is exceeded, and ask for a round at once (to cancel
    what is still queued); True if it did."""
    if bulk["state"] not in ABORTABLE or not bulk.get("abort"):
        return False
    failed = sum(max(0, counts.get(state, 0)) for state in FAILURES)
    finished = failed + max(0, counts.get("succeeded", 0))
    config = AbortConfig.model_validate(dynamo.plain(bulk["abort"]))
    if not config.exceeded(failed, finished):
        return False
    now = now or clock.now()
    reason = {"code": "FAILURE_THRESHOLD_EXCEEDED",
              "message": f"{failed} of {finished} finished device operations failed or timed out, at or above the "
                         f"threshold of {config.failure_threshold_percent:g}%.",
              "failed": failed, "finished": finished}
    try:
        db.change_state(bulk, ABORTABLE, "aborted", "bulk_operation_aborted", None, now, abort_reason=reason,
                        finished=clock.iso(now))
    except db.StateConflict:
        return False   # cancelled, or aborted by another batch, meanwhile
    metrics.add_metric(name=BULK_OPERATIONS_ABORTED, unit="Count", value=1)
    logger.info("bulk operation aborted", extra={"bulk_operation_id": int(bulk["id"]), "failed": failed,
                                                 "finished": finished})
    queue.send_round(int(bulk["id"]), round_number)
    return True


def view(bulk: dict, pacer: dict | None, counts: dict) -> dict:
    """`progress` as shown: the stored exact figures once closed; else the counters, `pending` being what remains
    of the target (never below zero), and no longer pending once the bulk operation is final."""
    if bulk.get("progress"):
        return dynamo.plain(bulk["progress"])
    shown = {state: max(0, int(counts.get(state, 0))) for state in COUNTED}
    total = target_count(bulk, pacer)
    pending = max(0, total - sum(shown.values()))
    if bulk["state"] in FINAL:
        shown["cancelled"] += pending   # never reached: they will not be
        pending = 0
    return {"pending": pending, **shown}


def target_count(bulk: dict, pacer: dict | None) -> int:
    """Final once the target is expanded; until then, the count the request made (listed devices, or the device
    counters), else the devices found so far."""
    if bulk.get("expanded") or pacer is None:
        return int(bulk.get("target_count") or 0)
    if bulk.get("estimated_target_count") is not None:
        return int(bulk["estimated_target_count"])
    return int(pacer.get("expanded_count") or 0)
