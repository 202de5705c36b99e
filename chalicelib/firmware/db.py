"""Firmware image items."""
from boto3.dynamodb.conditions import Key

from chalicelib.firmware.models import FirmwareImage
from chalicelib.store import dynamo, schema, sequences


def create(image: FirmwareImage) -> int:
    return sequences.create_with_new_id("FW", lambda new_id: [
        {"Put": {"Item": {**schema.firmware_key(new_id), **schema.firmware_list_keys(new_id), "entity": "FirmwareImage",
                          **image.model_dump(), "id": new_id},
                 "ConditionExpression": "attribute_not_exists(PK)"}}])


def get(image_id: int) -> FirmwareImage | None:
    item = dynamo.get(schema.firmware_key(image_id))
    return from_item(item) if item else None


def list_all() -> list[FirmwareImage]:
    items = dynamo.query_all(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(schema.FIRMWARE_PK))
    return [from_item(i) for i in items]


def from_item(item: dict) -> FirmwareImage:
    return FirmwareImage(**{k: dynamo.plain(item.get(k)) for k in FirmwareImage.model_fields})
