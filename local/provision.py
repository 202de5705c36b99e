"""Create the AWS resources the deployment declares, on moto (tests, or its server for make run)."""
import secrets

from chalicelib import aws
from chalicelib.bulk import queue as bulk_queue
from chalicelib.config import get_settings
from chalicelib.operations import queue
from chalicelib.rollups import lanes
from chalicelib.store import schema

SIGNING_KEY_BYTES = 48


def provision() -> None:
    """The table (from store.schema) with its TTL, the operations, bulk and rollups queues with their DLQs, the KMS
    key, and the signing key's secret (chalicelib/signing.py: a random value, as the template's GenerateSecretString
    makes one)."""
    settings = get_settings()
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(**schema.table_definition(settings.table_name))
    dynamodb.update_time_to_live(TableName=settings.table_name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": schema.TTL_ATTRIBUTE})
    sqs = aws.client("sqs")
    dead_letter_url = sqs.create_queue(QueueName=queue.dead_letter_queue_name(settings.operations_queue_name),
                                       Attributes=queue.dead_letter_attributes())["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=settings.operations_queue_name, Attributes=queue.queue_attributes(dead_letter_arn))
    bulk_dead_letter_url = sqs.create_queue(QueueName=bulk_queue.dead_letter_queue_name(settings.bulk_queue_name),
                                            Attributes=bulk_queue.dead_letter_attributes())["QueueUrl"]
    bulk_dead_letter_arn = sqs.get_queue_attributes(QueueUrl=bulk_dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=settings.bulk_queue_name, Attributes=bulk_queue.queue_attributes(bulk_dead_letter_arn))
    rollups_dead_letter_url = sqs.create_queue(QueueName=lanes.dead_letter_queue_name(settings.rollup_queue_name),
                                               Attributes=lanes.dead_letter_attributes())["QueueUrl"]
    rollups_dead_letter_arn = sqs.get_queue_attributes(QueueUrl=rollups_dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=settings.rollup_queue_name, Attributes=lanes.queue_attributes(rollups_dead_letter_arn))
    kms = aws.client("kms")
    key_id = kms.create_key(Description="Fleetline device secrets")["KeyMetadata"]["KeyId"]
    if settings.kms_key_id.startswith("alias/"):
        kms.create_alias(AliasName=settings.kms_key_id, TargetKeyId=key_id)
    aws.client("secretsmanager").create_secret(Name=settings.signing_key_id,
                                               SecretString=secrets.token_urlsafe(SIGNING_KEY_BYTES))
