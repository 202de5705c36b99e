"""The agent's SQS entry: a batch of operation messages, only the failed ones reported back.

The queue is FIFO with one message group per device, so SqsFifoPartialProcessor stops a device's
messages at its first failure (keeping that device's order) while other devices' messages go on.
Deployed, the event source mapping needs ReportBatchItemFailures (infra adds it: STYLE fact 3).
"""
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from chalicelib import aws
from chalicelib.observability import logger
from chalicelib.operations import queue, service
from chalicelib.operations.models import OperationMessage


class UnreadableMessage(Exception):
    """Not one of ours, or naming no operation: retried, then left in the dead-letter queue."""


def handle_batch(event: dict, context) -> dict:
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    return process_partial_response(event=event, record_handler=handle_record, processor=processor,
                                    context=context)


def handle_record(record: SQSRecord) -> str:
    try:
        message = OperationMessage.model_validate_json(record.body)
    except ValidationError as error:
        logger.warning("unreadable operation message", extra={"message_id": record.message_id})
        raise UnreadableMessage(str(error)) from None
    receives = int(record.attributes.approximate_receive_count or 1)
    try:
        state = service.advance(message.device_id, message.operation_id, receive_count=receives)
    except LookupError as error:
        raise UnreadableMessage(str(error)) from None
    except service.RetryLater as retry:
        # Exponential backoff: the failed message stays invisible for `delay` seconds.
        aws.client("sqs").change_message_visibility(QueueUrl=queue.queue_url(), ReceiptHandle=record.receipt_handle,
                                                    VisibilityTimeout=retry.delay)
        raise
    logger.info("operation advanced", extra={"device_id": message.device_id,
                                             "operation_id": message.operation_id, "state": state})
    return state
