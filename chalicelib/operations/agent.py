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
from chalicelib.observability import logger
from chalicelib.operations import dispatch, queue
from chalicelib.operations.models import OperationMessage


class UnreadableMessage(Exception):
    """Not one of ours, or naming no operation: retried, then left in the dead-letter queue."""


def handle_batch(event: dict, context) -> dict:
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    # A batch whose every message failed (one device offline) is an answer like any other, not a function
    # error: raising would count it as the agent crashing, and fail the invocation locally too.
    processor.raise_on_entire_batch_failure = False
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor,
                                        context=context)
    _release_skipped(processor)
    return response


def _release_skipped(processor: SqsFifoPartialProcessor) -> None:
    """Messages handed back unattempted, behind a failed one of their device, become visible at once.

    SQS returns none of a FIFO group's messages while one of them is in flight: left invisible for the
    queue's visibility timeout, they would hold their device long after the failed message's backoff ran
    out. Visible, they wait behind it and come back with it, in order.
    """
    skipped = [record for record, error in zip(processor.fail_messages, processor.exceptions, strict=True)
               if error[0] is SQSFifoMessageGroupCircuitBreakerError]
    if skipped:   # a batch holds at most 10 messages, as does one ChangeMessageVisibilityBatch
        aws.client("sqs").change_message_visibility_batch(QueueUrl=queue.queue_url(), Entries=[
            {"Id": str(i), "ReceiptHandle": record.receipt_handle, "VisibilityTimeout": 0}
            for i, record in enumerate(skipped)])


def handle_record(record: SQSRecord) -> str:
    try:
        message = OperationMessage.model_validate_json(record.body)
    except ValidationError as error:
        logger.warning("unreadable operation message", extra={"message_id": record.message_id})
        raise UnreadableMessage(str(error)) from None
    receives = int(record.attributes.approximate_receive_count or 1)
    try:
        state = dispatch.advance(message.device_id, message.operation_id, receive_count=receives)
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
