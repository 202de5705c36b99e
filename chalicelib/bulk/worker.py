"""The background of bulk operations: rounds fed by the bulk queue, and the schedule that revives a stalled one.

A round (at most ROUND_SECONDS, within the Lambda's time) repeats steps: expand the target; or, while running,
a pacing slice every SLICE_SECONDS; or, once cancelled or aborted, cancel what is queued; and close the bulk
operation when nothing of it is left in flight. Between slices the round sleeps (clock.sleep: tests and the
benchmarks make time pass instead). At its end it raises the pacer's round number and asks for the next round,
unless the bulk operation is paused with its target expanded, or closed.
"""
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib import aws, clock
from chalicelib.bulk import closing, db, expansion, pacing, progress, queue
from chalicelib.observability import logger
from chalicelib.store import dynamo

ROUND_SECONDS = 50
# Of the Lambda's remaining time, kept for the step under way when the round's time is up.
RESERVE_SECONDS = 20
# A bulk operation whose pacer has not moved for this long lost its round's message: the schedule sends it again.
STALLED_AFTER = timedelta(minutes=3)
# After a round failed, its message comes back after this long (not the queue's visibility timeout).
RETRY_SECONDS = 15


class RoundMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bulk_operation_id: int = Field(ge=1)
    round: int = Field(ge=0)


def handle_batch(event: dict, context) -> dict:
    """The bulk queue's batch (one message: app.py); a failed round is reported and comes back soon."""
    failed = []
    for record in event["Records"]:
        try:
            message = RoundMessage.model_validate_json(record["body"])
        except ValidationError:
            logger.warning("unreadable bulk round message", extra={"message_id": record["messageId"]})
            failed.append(record["messageId"])
            continue
        try:
            run_round(message.bulk_operation_id, message.round, context)
        except Exception:
            logger.exception("bulk round failed", extra={"bulk_operation_id": message.bulk_operation_id})
            aws.client("sqs").change_message_visibility(QueueUrl=queue.queue_url(),
                                                        ReceiptHandle=record["receiptHandle"],
                                                        VisibilityTimeout=RETRY_SECONDS)
            failed.append(record["messageId"])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def run_round(bulk_id: int, round_number: int, context=None) -> str:
    """One round; "stale" for a message of another round, "continues" or "stopped" after it."""
    bulk, pacer, device_ids = db.read(bulk_id, with_device_ids=True, consistent=True)
    if bulk is None or pacer is None or int(pacer["round"]) != round_number:
        return "stale"
    budget = ROUND_SECONDS
    if context is not None:
        budget = min(budget, context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS)
    until = clock.now().timestamp() + max(1.0, budget)
    going = True
    while True:
        wait = step(bulk, pacer, device_ids, until)
        if wait is None:
            going = False
            break
        if clock.now().timestamp() + wait >= until:
            break
        clock.sleep(wait)
        bulk, pacer, _ = db.read(bulk_id, consistent=True)
    if db.end_round(bulk_id, round_number, {}) and going:
        queue.send_round(bulk_id, round_number + 1)
    return "continues" if going else "stopped"


def step(bulk: dict, pacer: dict, device_ids: list[int] | None, until: float) -> float | None:
    """One step of the background; seconds until the next, or None when it has nothing to do for now."""
    bulk_id = int(bulk["id"])
    if bulk.get("closed"):
        return None
    if bulk["state"] in ("cancelled", "aborted"):
        closing.cancel_queued(bulk)
        return None if closing.close_if_done(bulk, pacer, db.read_progress(bulk_id)) else pacing.SLICE_SECONDS
    if not bulk.get("expanded"):
        organization = bulk.get("organization_id")
        source = expansion.Source.of(dynamo.plain(bulk["target"]), int(organization) if organization else None,
                                     device_ids, created_by=bulk["created"])
        if expansion.expand(bulk, pacer, source, until):
            _expanded(bulk, int(pacer["expanded_count"]), clock.now())
        return 0
    if bulk["state"] == "paused":
        return None
    if early := pacing.until_next_slice(pacer, clock.now()):
        return early   # a new round starts where the last one stopped: slices stay SLICE_SECONDS apart
    counts = db.read_progress(bulk_id)
    if progress.abort_if_exceeded(bulk, counts, int(pacer["round"])):
        return 0
    if all(dynamo.plain(pacer["exhausted"])):
        return None if closing.close_if_done(bulk, pacer, counts) else pacing.SLICE_SECONDS
    pacing.run_slice(bulk, pacer, counts, clock.now())
    return pacing.SLICE_SECONDS


def _expanded(bulk: dict, count: int, now: datetime) -> None:
    """The target is fixed and counted: a scheduled bulk operation starts; a paused or ended one keeps its state."""
    fields = {"target_count": count, "expanded": True, "started": bulk.get("started") or clock.iso(now)}
    if bulk["state"] == "scheduled":
        try:
            db.change_state(bulk, ("scheduled",), "in_progress", "bulk_operation_started", None, now, **fields)
            return
        except db.StateConflict:
            pass
    db.set_fields(int(bulk["id"]), **fields)


def revive(now: datetime | None = None) -> int:
    """Send the current round's message again for every active bulk operation whose pacer has stalled; how many.
    Its deduplication id and round number keep a round that is merely late single."""
    now = now or clock.now()
    revived = 0
    for bulk_id in db.active():
        bulk, pacer, _ = db.read(bulk_id)
        if bulk is None or pacer is None or (bulk["state"] == "paused" and bulk.get("expanded")):
            continue
        if clock.parse_iso(pacer["heartbeat"]) > now - STALLED_AFTER:
            continue
        revived += queue.send_round(bulk_id, int(pacer["round"]))
    return revived
