"""Reads of the rollups' hourly aggregates (API.md §8): one key-range Query per partition, never the raw records.

An hour item exists only for hours that held records, so a range costs what it holds, not its length: at most
8,784 items (366 days) per partition, read 1 MB per Query page.
"""
from boto3.dynamodb.conditions import Key

from chalicelib import clock
from chalicelib.analytics.models import HourRange
from chalicelib.store import dynamo, schema

# What each figure needs from an hour item. DynamoDB bills and pages by the whole item whatever the projection,
# but a projection keeps the large maps (subscribers, ips) off the wire and out of deserialisation.
DIRECTION = ("hour", "mo_bytes", "mt_bytes")
SESSIONS = ("hour", "sessions")
PROTOCOLS = ("hour", "protocols")
IPS = ("hour", "ips")
SUBSCRIBERS = ("hour", "subscribers")


def organization_hours(organization_id: int, hours: HourRange, attributes: tuple[str, ...]) -> list[dict]:
    """An organization's hour items from hours.first to hours.last, oldest first."""
    low = schema.organization_hour_key(organization_id, clock.iso(hours.first))
    high = schema.organization_hour_key(organization_id, clock.iso(hours.last))
    return _key_range(low, high, attributes)


def device_hours(device_id: int, hours: HourRange, attributes: tuple[str, ...]) -> list[dict]:
    """A device's hour items from hours.first to hours.last, oldest first."""
    low = schema.device_hour_key(device_id, clock.iso(hours.first))
    high = schema.device_hour_key(device_id, clock.iso(hours.last))
    return _key_range(low, high, attributes)


def organization_ids() -> list[int]:
    """Every organization, for a platform token (1 Query of GSI2 "ORGS")."""
    # Imported here: organization tokens, the usual callers, never load it.
    from chalicelib.organizations import db as organizations_db
    return [organization.id for organization in organizations_db.list_all()]


def _key_range(low: dict, high: dict, attributes: tuple[str, ...]) -> list[dict]:
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    return dynamo.query_all(KeyConditionExpression=Key("PK").eq(low["PK"]) & Key("SK").between(low["SK"], high["SK"]),
                            ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
