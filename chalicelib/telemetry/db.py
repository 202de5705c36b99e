"""Telemetry items <-> DynamoDB: raw records, their de-duplication guards, and history pages. Keys come from
store/schema.py; batched reads and writes retry what DynamoDB left unprocessed.

Raw record item (the rollups read these attributes; docs/telemetry.md):
    PK=DEV#<id>#CONN|APP|USE, SK=<at>#<event_id>, entity, organization_id, device_id, kind, event_id,
    occurred_at | started_at (clock.iso), the record's fields, ingested_at, expires_at (TTL, epoch seconds).
"""
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

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
    return {**schema.telemetry_key(device_id, kind, at_iso, event_id), "entity": ENTITIES[kind],
            "organization_id": organization_id, "device_id": device_id, "kind": kind, "event_id": event_id,
            time_field: at_iso, **{name: _stored(value) for name, value in fields.items()},
            "ingested_at": ingested_at, "expires_at": epoch(at + retention)}


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
                       "#x": "extended_attributes", "#exp": schema.TTL_ATTRIBUTE}


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
