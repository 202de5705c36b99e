"""The agent's SQS entry: a batch of operation messages, only the failed ones reported back.

The queue is FIFO with one message group per device, so SqsFifoPartialProcessor stops a device's
messages at its first failure (keeping that device's order) while other devices' messages go on.
Deployed, the event source mapping needs ReportBatchItemFailures (infra adds it: STYLE fact 3).
"""
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import SQSFifoMessageGroupCircuitBreakerError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from chalicelib import aws
from chalicelib.observability import OPERATIONS_HANDED_BACK, logger, metrics
from chalicelib.operations import db, dispatch, queue
from chalicelib.operations.models import OperationMessage

# Kept back beyond the driver's timeout before starting a message: its transitions, and the bulk settle after
# the batch (app.py).
RESERVE_SECONDS = 5.0


class UnreadableMessage(Exception):
    """Not one of ours, or naming no operation: retried, then left in the dead-letter queue."""


class NotStarted(Exception):
    """Handed back untouched: too little of the Lambda's time is left to finish it (the message comes back at once)."""


def handle_batch(event: dict, context) -> dict:
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    # A batch whose every message failed (one device offline) is an answer like any other, not a function
    # error: raising would count it as the agent crashing, and fail the invocation locally too.
    processor.raise_on_entire_batch_failure = False
    response = process_partial_response(event=event, record_handler=_in_time(context, _halted_bulks(event)),
                                        processor=processor, context=context)
    _release_skipped(processor)
    return response


def _in_time(context, halted: frozenset[int]):
    """handle_record, started only while the Lambda has time left to finish it: a message started late would be
    cut by the timeout with the device perhaps mid-reset, its outcome never written."""
    from chalicelib.config import get_settings

    needed_ms = (get_settings().driver_timeout_seconds + RESERVE_SECONDS) * 1000

    def handle(record: SQSRecord) -> str:
        if context is not None and context.get_remaining_time_in_millis() < needed_ms:
            metrics.add_metric(name=OPERATIONS_HANDED_BACK, unit="Count", value=1)
            raise NotStarted(record.message_id)
        return handle_record(record, halted)
    return handle


def _halted_bulks(event: dict) -> frozenset[int]:
    """The bulk operations named by the batch's messages that were cancelled or aborted (one BatchGetItem, only for
    a batch that carries bulk operations' messages): their operations still queued are cancelled, not sent."""
    bulks = set()
    for record in event.get("Records", []):
        try:
            bulk_id = OperationMessage.model_validate_json(record.get("body") or "").bulk_operation_id
        except ValidationError:
            continue   # refused by its handle_record
        if bulk_id is not None:
            bulks.add(bulk_id)
    return db.halted_bulks(sorted(bulks)) if bulks else frozenset()


def _release_skipped(processor: SqsFifoPartialProcessor) -> None:
    """Messages handed back unattempted (behind a failed one of their device, or for want of time) become
    visible at once.

    SQS returns none of a FIFO group's messages while one of them is in flight: left invisible for the
    queue's visibility timeout, they would hold their device long after the failed message's backoff ran
    out. Visible, they wait behind it and come back with it, in order.
    """
    skipped = [record for record, error in zip(processor.fail_messages, processor.exceptions, strict=True)
               if error[0] in (SQSFifoMessageGroupCircuitBreakerError, NotStarted)]
    if skipped:   # a batch holds at most 10 messages, as does one ChangeMessageVisibilityBatch
        aws.client("sqs").change_message_visibility_batch(QueueUrl=queue.queue_url(), Entries=[
            {"Id": str(i), "ReceiptHandle": record.receipt_handle, "VisibilityTimeout": 0}
            for i, record in enumerate(skipped)])


def handle_record(record: SQSRecord, halted: frozenset[int] = frozenset()) -> str:
    try:
        message = OperationMessage.model_validate_json(record.body)
    except ValidationError as error:
        logger.warning("unreadable operation message", extra={"message_id": record.message_id})
        raise UnreadableMessage(str(error)) from None
    receives = int(record.attributes.approximate_receive_count or 1)
    try:
        state = dispatch.advance(message.device_id, message.operation_id, receive_count=receives, halted=halted)
    except LookupError as error:
        raise UnreadableMessage(str(error)) from None
    except dispatch.RetryLater as retry:
        # Exponential backoff: the failed message stays invisible for `delay` seconds.
        aws.client("sqs").change_message_visibility(QueueUrl=queue.queue_url(), ReceiptHandle=record.receipt_handle,
                                                    VisibilityTimeout=retry.delay)
        raise
    logger.info("operation advanced", extra={"device_id": message.device_id,
                                             "operation_id": message.operation_id, "state": state})
    return state
