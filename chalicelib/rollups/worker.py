"""The rollups queue's consumer: the aggregate_telemetry Lambda, POST /admin/rollups/ (which joins the work) and
make run's local worker all hand batches here.

A batch holds up to 10 messages, of one or more groups, each group's in order (lanes.py: a lane's inbox and its
compute group). Records, device changes and purges are appended to the lane's pending log; a tick in an inbox is
passed on to the compute group, and there it runs the lane's units (unit.py). A group whose handling fails has every
one of its messages of the batch reported failed (partial batch response), so that SQS returns them in order; the
other groups' messages succeed. Deployed, the event source mapping needs ReportBatchItemFailures (infra adds it).
"""
import time
import uuid

from pydantic import TypeAdapter, ValidationError

from chalicelib import aws
from chalicelib.observability import (
    ROLLUP_DURATION,
    ROLLUP_ITEMS_WRITTEN,
    ROLLUP_RECORDS_READ,
    ROLLUP_UNITS,
    logger,
    metrics,
)
from chalicelib.rollups import db, lanes, pending, unit

MARGIN_SECONDS = 20          # a tick starts no unit with less than this left of its Lambda
DEFAULT_SECONDS = 280        # without a Lambda context: as the deployed worker's time-out, less its margin
_message = TypeAdapter(lanes.LaneMessage)


def handle_batch(event: dict, context=None, deadline: float | None = None, tally: unit.Tally | None = None) -> dict:
    """{"batchItemFailures": [...]} for the messages of the lanes that failed."""
    if deadline is None:
        remaining = (context.get_remaining_time_in_millis() / 1000 if hasattr(context, "get_remaining_time_in_millis")
                     else DEFAULT_SECONDS + MARGIN_SECONDS)
        deadline = time.monotonic() + remaining - MARGIN_SECONDS
    started, before = time.monotonic(), db.counts.as_dict()
    tally = tally if tally is not None else unit.Tally()
    units_before = tally.units
    by_group: dict[str, list[dict]] = {}
    for record in event.get("Records", []):
        by_group.setdefault((record.get("attributes") or {}).get("MessageGroupId", ""), []).append(record)

    def one(group_records: tuple[str, list[dict]]) -> list[str]:
        group, records = group_records
        mine = unit.Tally()
        try:
            handle_group(group, records, deadline, mine)
            return []
        except Exception:
            logger.exception("rollup lane failed", extra={"group": group})
            return [record["messageId"] for record in records]
        finally:
            tally.add(mine)
    # The groups of a batch are independent: they run side by side (their requests are I/O waits).
    failed = [message_id for failures in db.parallel(one, list(by_group.items())) for message_id in failures]
    after = db.counts.as_dict()
    for name, value, unit_name in ((ROLLUP_UNITS, tally.units - units_before, "Count"),
                                   (ROLLUP_RECORDS_READ, after["records_read"] - before["records_read"], "Count"),
                                   (ROLLUP_ITEMS_WRITTEN, after["items_written"] - before["items_written"], "Count"),
                                   (ROLLUP_DURATION, round((time.monotonic() - started) * 1000), "Milliseconds")):
        metrics.add_metric(name=name, unit=unit_name, value=value)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def handle_group(group: str, records: list[dict], deadline: float, tally: unit.Tally | None = None) -> None:
    if not group.startswith("lane-"):
        logger.warning("rollups messages of no lane dropped", extra={"group": group})
        return
    lane, inbox = lanes.lane_of_group(group), lanes.is_inbox(group)
    work: dict[str, list] = {"records": [], "changes": [], "purges": []}
    for record in records:
        try:
            message = _message.validate_json(record["body"])
        except ValidationError:
            logger.warning("unreadable rollups message dropped", extra={"message_id": record.get("messageId")})
            continue
        if message.type == "records":
            work["records"] += [list(entry) for entry in message.entries]
        elif message.type == "devices":
            work["changes"] += [change.model_dump() for change in message.changes]
        elif message.type == "purge":
            work["purges"].append(message.device_id)
        else:
            work = _flush(lane, work)
            if inbox:    # what came before it is in the pending log: the units may start
                lanes.pass_tick(lane, message.at, message.id, pending.bound())
            elif not unit.run_tick(lane, message.at, message.id, deadline, tally, message.upto):
                # Out of time: the same T again, behind the ticks that arrived meanwhile.
                lanes.pass_tick(lane, message.at, f"{message.id}+{uuid.uuid4().hex[:8]}",
                                message.upto or pending.bound())
    _flush(lane, work)


def _flush(lane: int, work: dict[str, list]) -> dict[str, list]:
    if any(work.values()):
        pending.append(lane, {name: values for name, values in work.items() if values})
    return {"records": [], "changes": [], "purges": []}


# What POST /admin/rollups/ holds a lane for: about its Lambda's time-out, so that a request killed mid-unit blocks the
# lane for a minute or two, not the queue's 30 minutes (a second consumer's commit is refused while the first's
# unit is still running: unit.commit).
REQUEST_VISIBILITY_SECONDS = 90


def consume_once(deadline: float, tally: unit.Tally | None = None, wait_seconds: int = 1) -> int:
    """Receive one batch from the rollups queue, handle it and delete what succeeded (POST /admin/rollups/): the
    number of messages received."""
    sqs, url = aws.client("sqs"), lanes.queue_url()
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                   VisibilityTimeout=REQUEST_VISIBILITY_SECONDS,
                                   AttributeNames=["All"]).get("Messages", [])
    if not received:
        return 0
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": m.get("Attributes", {})} for m in received]}
    failed = {f["itemIdentifier"] for f in handle_batch(event, deadline=deadline, tally=tally)["batchItemFailures"]}
    done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)
            if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(QueueUrl=url, Entries=done)
    if failed:   # back to the queue at once, in order, rather than after the visibility timeout
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(received) if m["MessageId"] in failed])
    return len(received)
