"""Telemetry items <-> DynamoDB: raw records, their de-duplication guards, and history pages. Keys come from
store/schema.py; batched reads and writes retry what DynamoDB left unprocessed.

Raw record item (the rollups read these attributes; docs/telemetry.md):
    PK=DEV#<id>#CONN|APP|USE, SK=<at>#<event_id>, entity, organization_id, device_id, kind, event_id,
    occurred_at | started_at (clock.iso), the record's fields, ingested_at, expires_at (TTL, epoch seconds).
"""
import json
import zlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.store import dynamo, schema

ENTITIES = {"connection_event": "ConnectionEvent", "app_session": "AppSession", "usage": "UsageRecord"}
# A guard only has to outlive the age at which a redelivery would be rejected anyway (90 days, models.MAX_AGE).
GUARD_DAYS = 91


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def hour_of(moment: datetime) -> str:
    return clock.iso(moment.replace(minute=0, second=0, microsecond=0))


def _stored(value: Any) -> Any:
    return Decimal(str(value)) if isinstance(value, float) else value  # boto3 takes no floats


def raw_item(kind: str, organization_id: int, device_id: int, event_id: str, at: datetime, fields: dict,
             time_field: str, ingested_at: str) -> dict:
    at_iso = clock.iso(at)
    retention = timedelta(days=get_settings().telemetry_retention_days)
    item = {**schema.telemetry_key(device_id, kind, at_iso, event_id), "entity": ENTITIES[kind],
            "organization_id": organization_id, "device_id": device_id, "kind": kind, "event_id": event_id,
            time_field: at_iso, **{name: _stored(value) for name, value in fields.items()},
            "ingested_at": ingested_at, "expires_at": epoch(at + retention)}
    return _packed(item) if kind == "connection_event" and item_bytes(item) > WRITE_UNIT_BYTES else item


# A write costs one unit per KB of the item: a connection event's RADIUS attributes (the seed's example has 42) take it
# past 1 KB, so past it they are kept as one zlib-compressed JSON attribute, often half the size. No reader but the
# connection history reads them (attributes_of).
WRITE_UNIT_BYTES = 1024
PACKED = "packed_attributes"


def _packed(item: dict) -> dict:
    attributes = {"a": item.pop("attributes", {}), "x": item.pop("extended_attributes", {})}
    return {**item, PACKED: Binary(zlib.compress(json.dumps(attributes, separators=(",", ":")).encode(), 9))}


def attributes_of(item: dict) -> tuple[dict, dict]:
    """(attributes, extended_attributes) of a stored connection event, packed or not."""
    if PACKED in item:
        unpacked = json.loads(zlib.decompress(bytes(item[PACKED])))
        return unpacked["a"], unpacked["x"]
    return item.get("attributes") or {}, item.get("extended_attributes") or {}


def item_bytes(value, name: str = "") -> int:
    """An item's (or attribute's) size as DynamoDB counts it (Developer Guide, "Item sizes"): names and values in
    UTF-8, a number one byte per two significant digits plus one, a map or list 3 bytes plus one per element."""
    size = len(name.encode())
    if isinstance(value, dict):
        return size + 3 + sum(item_bytes(v, k) + 1 for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return size + 3 + sum(item_bytes(v) + 1 for v in value)
    if isinstance(value, bool) or value is None:
        return size + 1
    if isinstance(value, (int, float, Decimal)):
        digits = len(str(abs(Decimal(str(value)))).replace(".", "").strip("0")) or 1
        return size + (digits + 1) // 2 + 1
    if isinstance(value, str):
        return size + len(value.encode())
    return size + len(bytes(value))


def guard_item(kind: str, organization_id: int, device_id: int, event_id: str, at: datetime) -> dict:
    return {**schema.event_guard_key(organization_id, kind, event_id), "entity": "EventGuard",
            "device_id": device_id, "at": clock.iso(at), "expires_at": epoch(at + timedelta(days=GUARD_DAYS))}


def put_all(items: list[dict]) -> int:
    """BatchWriteItem puts; returns the requests made."""
    return dynamo.batch_write(items)


def get_all(keys: list[dict], projection: str | None = None) -> list[dict]:
    return dynamo.batch_get(keys, projection)


# --- connection history ---------------------------------------------------------------------------

# Sort keys are "<clock.iso>#<event_id>" and event ids use only characters below "~": "<iso>#" sorts before
# every event of that millisecond and "<iso>#~" after every one, so both bounds are inclusive to the ms.
_HISTORY_ATTRIBUTES = {"#sk": "SK", "#at": "occurred_at", "#ev": "event", "#a": "attributes",
                       "#x": "extended_attributes", "#p": PACKED, "#exp": schema.TTL_ATTRIBUTE}


def lower_bound(at_iso: str) -> str:
    return f"{at_iso}#"


def upper_bound(at_iso: str) -> str:
    return f"{at_iso}#~"


def connection_events(device_id: int, low: str, high: str, limit: int | None,
                      start: dict | None = None) -> tuple[list[dict], dict | None]:
    """One Query of a device's connection events with low <= SK <= high, oldest first."""
    from boto3.dynamodb.conditions import Key

    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("PK").eq(schema.telemetry_partition(device_id, "connection_event"))
        & Key("SK").between(low, high),
        "ProjectionExpression": ", ".join(_HISTORY_ATTRIBUTES), "ExpressionAttributeNames": _HISTORY_ATTRIBUTES}
    if limit is not None:
        kwargs["Limit"] = limit
    if start is not None:
        kwargs["ExclusiveStartKey"] = start
    return dynamo.query(**kwargs)
