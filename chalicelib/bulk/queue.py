"""The bulk operations' round queue: its declaration (tests, make run and the template) and the producer.

FIFO with one message group per bulk operation, so one round of a bulk operation runs at a time (the pacer
item has one writer); a message names the round it is for, and its deduplication id is that round's, so
the round's own message and any nudge for the same round (a resume, a cancel, an abort, the revival
schedule) are one message within SQS's five minutes, and a late one finds the round number moved on.
"""
import json

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.observability import logger
from chalicelib.operations import queue as operations_queue

# The bulk worker Lambda's timeout (.chalice/config.json; tests/bulk checks the two agree); a round uses
# at most ROUND_SECONDS of it (worker.py).
WORKER_TIMEOUT_SECONDS = 90
VISIBILITY_TIMEOUT_SECONDS = 6 * WORKER_TIMEOUT_SECONDS
MAX_RECEIVES = operations_queue.MAX_RECEIVES
dead_letter_queue_name = operations_queue.dead_letter_queue_name
dead_letter_attributes = operations_queue.dead_letter_attributes


def queue_attributes(dead_letter_arn: str) -> dict[str, str]:
    return operations_queue.fifo_attributes(dead_letter_arn, VISIBILITY_TIMEOUT_SECONDS)


def queue_url() -> str:
    return operations_queue.url_of(get_settings().bulk_queue_name)


def send_round(bulk_id: int, round_number: int) -> bool:
    """Ask for round `round_number` of a bulk operation; False when SQS refused (the revival schedule sends it
    again once the pacer has not moved for a while)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("sqs").send_message(
            QueueUrl=queue_url(), MessageBody=json.dumps({"bulk_operation_id": bulk_id, "round": round_number}),
            MessageGroupId=f"bulk-{bulk_id}", MessageDeduplicationId=f"bulk-{bulk_id}-{round_number}")
        return True
    except (BotoCoreError, ClientError):
        logger.exception("bulk round not sent", extra={"bulk_operation_id": bulk_id, "round": round_number})
        return False
