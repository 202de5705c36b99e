"""Reads of the rollups' aggregates (API.md §8); never a raw record. docs/analytics.md has the costs.

- Totals (data usage, sessions, protocols) of an organization: its day items, hour by hour inside (366 for a year).
- Maps (subscribers, IP addresses) of an organization: its entries of each period that tiles the range (ranges.py),
  in MAP_SHARDS partitions per level, read on parallel threads.
- A subscriber: its own day items (hour by hour inside) and IP entries.
"""
from concurrent.futures import ThreadPoolExecutor

from boto3.dynamodb.conditions import Key

from chalicelib.store import dynamo, schema

THREADS = 8


def organization_days(organization_id: int, first_day: str, last_day: str) -> list[dict]:
    return _range(schema.organization_day_partition(organization_id), first_day, last_day)


def organization_map(organization_id: int, kind: str, pieces: list[tuple[str, str, str]]) -> list[dict]:
    """Every entry of the organization's map (SUB or IP) in the periods of `pieces`."""
    reads = [(schema.map_partition(organization_id, kind, level, shard), f"{first}#", f"{last}#~")
             for level, first, last in pieces for shard in range(schema.MAP_SHARDS)]
    with ThreadPoolExecutor(min(THREADS, len(reads))) as pool:
        return [item for items in pool.map(lambda read: _range(*read), reads) for item in items]


def device_days(device_id: int, first_day: str, last_day: str) -> list[dict]:
    return _range(schema.device_aggregates_partition(device_id), schema.device_period_sort_value("D", first_day),
                  schema.device_period_sort_value("D", last_day) + "#~")


def device_ips(device_id: int, pieces: list[tuple[str, str, str]]) -> list[dict]:
    partition = schema.device_aggregates_partition(device_id)
    return [item for level, first, last in pieces
            for item in _range(partition, schema.device_ip_sort_value(level, first),
                               schema.device_ip_sort_value(level, last) + "#~")]


def organization_ids() -> list[int]:
    """Every organization, for a platform token (1 Query of GSI2 "ORGS")."""
    # Imported here: organization tokens, the usual callers, never load it.
    from chalicelib.organizations import db as organizations_db
    return [organization.id for organization in organizations_db.list_all()]


def _range(pk: str, low: str, high: str) -> list[dict]:
    return dynamo.query_all(KeyConditionExpression=Key("PK").eq(pk) & Key("SK").between(low, high))
