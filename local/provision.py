"""Create the AWS resources the deployment declares, on moto (tests, or its server for make run)."""
from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.store import schema


def provision() -> None:
    """The table (from store.schema) with its TTL, and the KMS key for device secrets."""
    settings = get_settings()
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(**schema.table_definition(settings.table_name))
    dynamodb.update_time_to_live(TableName=settings.table_name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": schema.TTL_ATTRIBUTE})
    kms = aws.client("kms")
    key_id = kms.create_key(Description="Fleetline device secrets")["KeyMetadata"]["KeyId"]
    if settings.kms_key_id.startswith("alias/"):
        kms.create_alias(AliasName=settings.kms_key_id, TargetKeyId=key_id)
