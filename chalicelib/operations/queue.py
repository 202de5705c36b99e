"""The operations queue: its declaration (one source for tests, make run and the template) and the producer.

A FIFO queue with the device as message group keeps each device's operations in the order they were
requested while different devices run in parallel. A message carries only the operation's address;
the agent reads the operation itself, so a message can never act on stale parameters.
"""
import json
from functools import lru_cache

from chalicelib import aws
from chalicelib.config import get_settings

VISIBILITY_TIMEOUT_SECONDS = 180   # six times the agent's Lambda timeout, as AWS advises for SQS sources
MAX_RECEIVES = 5                   # then the message moves to the dead-letter queue
RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def dead_letter_queue_name(queue_name: str) -> str:
    return queue_name.removesuffix(".fifo") + "-dlq.fifo"


def queue_attributes(dead_letter_arn: str) -> dict[str, str]:
    return {"FifoQueue": "true", "ContentBasedDeduplication": "false",
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS), "MessageRetentionPeriod": str(RETENTION_SECONDS),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVES})}


def dead_letter_attributes() -> dict[str, str]:
    return {"FifoQueue": "true", "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}


@lru_cache(maxsize=4)
def _queue_url(name: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queue_url() -> str:
    return _queue_url(get_settings().operations_queue_name)


def send_operation(device_id: int, operation_id: int) -> None:
    """Queue one operation for the agent; re-sending the same one within 5 minutes is deduplicated."""
    aws.client("sqs").send_message(
        QueueUrl=queue_url(), MessageBody=json.dumps({"device_id": device_id, "operation_id": operation_id}),
        MessageGroupId=f"device-{device_id}", MessageDeduplicationId=f"op-{device_id}-{operation_id}")


def forget_queue_urls() -> None:
    _queue_url.cache_clear()
