"""The operations queue: its declaration (one source for tests, make run and the template) and the producer.

A FIFO queue with the device as message group keeps each device's operations in the order they were
requested while different devices run in parallel. A message carries only the operation's address;
the agent reads the operation itself, so a message can never act on stale parameters.
"""
import json
from functools import lru_cache

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.observability import logger

# The agent Lambda's timeout, set explicitly (.chalice/config.json; tests/infra checks the two agree): each batch
# hands back the messages it has no time left to finish (agent.py) rather than be killed with one in flight.
AGENT_TIMEOUT_SECONDS = 30
VISIBILITY_TIMEOUT_SECONDS = 6 * AGENT_TIMEOUT_SECONDS   # as AWS advises for SQS event sources
MAX_RECEIVES = 5                   # then the message moves to the dead-letter queue
RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def dead_letter_queue_name(queue_name: str) -> str:
    return queue_name.removesuffix(".fifo") + "-dlq.fifo"


# High-throughput FIFO: deduplication and the throughput limit per message group (a device here, a lane for the
# rollups), not per queue, so many groups are not capped at the queue's 300 (3,000 batched) messages/s.
HIGH_THROUGHPUT = {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}


def queue_attributes(dead_letter_arn: str) -> dict[str, str]:
    return fifo_attributes(dead_letter_arn, VISIBILITY_TIMEOUT_SECONDS) | HIGH_THROUGHPUT


def fifo_attributes(dead_letter_arn: str, visibility_timeout: int, max_receives: int = MAX_RECEIVES,
                    retention_seconds: int = RETENTION_SECONDS) -> dict[str, str]:
    """A FIFO queue with explicit deduplication ids and its dead-letter queue after `max_receives` (the bulk and
    rollups queues' declarations use it too)."""
    return {"FifoQueue": "true", "ContentBasedDeduplication": "false", "VisibilityTimeout": str(visibility_timeout),
            "MessageRetentionPeriod": str(retention_seconds),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receives})}


def dead_letter_attributes() -> dict[str, str]:
    return {"FifoQueue": "true", "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}


@lru_cache(maxsize=4)
def url_of(name: str) -> str:
    """A queue's URL, asked once per process."""
    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queue_url() -> str:
    return url_of(get_settings().operations_queue_name)


SEND_BATCH = 10   # SQS's limit per SendMessageBatch


def send_operations(operations: list[tuple]) -> list[tuple]:
    """Queue (device_id, operation_id) pairs, or (device_id, operation_id, bulk_operation_id) triples, for the agent,
    10 per SendMessageBatch; the ones SQS refused.

    Re-sending an operation within 5 minutes is deduplicated (its id is the operation's); after that a second
    message finds the operation moved on. A refused or unsent operation stays queued with its outbox entry
    (db.new_operation), which the sweep sends again.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    refused = []
    for start in range(0, len(operations), SEND_BATCH):
        chunk = operations[start:start + SEND_BATCH]
        entries = [{"Id": str(i), "MessageBody": json.dumps(_message(*operation)),
                    "MessageGroupId": f"device-{operation[0]}",
                    "MessageDeduplicationId": f"op-{operation[0]}-{operation[1]}"} for i, operation in enumerate(chunk)]
        try:
            answer = aws.client("sqs").send_message_batch(QueueUrl=queue_url(), Entries=entries)
        except (BotoCoreError, ClientError):
            logger.exception("operations not queued", extra={"operations": len(chunk)})
            refused += chunk
            continue
        if answer.get("Failed"):
            logger.warning("operations refused by the queue", extra={"failed": answer["Failed"]})
            refused += [chunk[int(failure["Id"])] for failure in answer["Failed"]]
    return refused


def _message(device_id: int, operation_id: int, bulk_operation_id: int | None = None) -> dict:
    message = {"device_id": int(device_id), "operation_id": int(operation_id)}
    return message | ({"bulk_operation_id": int(bulk_operation_id)} if bulk_operation_id is not None else {})


def forget_queue_urls() -> None:
    url_of.cache_clear()
