"""Device type items; short names are unique (guard item)."""
from boto3.dynamodb.conditions import Key

from chalicelib.device_types.models import DeviceType
from chalicelib.errors import Conflict, field_problem
from chalicelib.store import dynamo, schema, sequences


def create(device_type: DeviceType) -> int:
    """Raises: Conflict when the short name is taken."""
    def actions(new_id: int) -> list[dict]:
        return [
            {"Put": {"Item": {**schema.device_type_key(new_id), **schema.device_type_list_keys(new_id),
                              "entity": "DeviceType", **device_type.model_dump(), "id": new_id},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"Item": {**schema.device_type_name_guard_key(device_type.short_name), "entity": "Guard",
                              "device_type_id": new_id},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
    try:
        return sequences.create_with_new_id("DTYPE", actions)
    except dynamo.Cancelled:
        raise Conflict(f"A device type with short name {device_type.short_name!r} exists.",
                       code="DUPLICATE_SHORT_NAME", details=[field_problem("short_name", "already used")]) from None


def get(type_id: int) -> DeviceType | None:
    item = dynamo.get(schema.device_type_key(type_id))
    return from_item(item) if item else None


# Device types are never changed nor deleted, so a warm Lambda keeps the ones it has read.
_known: dict[int, DeviceType] = {}


def get_cached(type_id: int) -> DeviceType | None:
    if type_id not in _known:
        found = get(type_id)
        if found is None:
            return None     # not remembered: it may be created in a moment
        _known[type_id] = found
    return _known[type_id]


def forget_cached() -> None:
    _known.clear()


def list_all() -> list[DeviceType]:
    items = dynamo.query_all(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(schema.DEVICE_TYPES_PK))
    return [from_item(i) for i in items]


def from_item(item: dict) -> DeviceType:
    return DeviceType(**{k: dynamo.plain(item.get(k)) for k in DeviceType.model_fields})
