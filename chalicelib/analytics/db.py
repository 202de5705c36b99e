"""Reads of the rollups' aggregates (API.md §8); never a raw record. docs/analytics.md has the costs.

- Totals (data usage, sessions, protocols) of an organization: its day items, hour by hour inside (366 for a year).
- Maps (subscribers, IP addresses) of an organization: its day and month entries of the periods that tile the range
  (ranges.py; a day entry holds its hours), in MAP_SHARDS partitions per level, read on parallel threads.
- A subscriber: its own hour and day items (hours and addresses inside, or addresses spilled into items of their own).
"""
from concurrent.futures import ThreadPoolExecutor

from chalicelib.store import dynamo, schema

THREADS = 8


def organization_days(organization_id: int, first_day: str, last_day: str) -> list[dict]:
    return _range(schema.organization_day_partition(organization_id), first_day, last_day)


def organization_map(organization_id: int, kind: str, reads: list[tuple[str, str, str]]) -> list[list[dict]]:
    """The organization's map entries (SUB or IP) of each read (level D or M, first and last period), in order."""
    queries = [(index, schema.map_partition(organization_id, kind, level, shard), f"{first}#", f"{last}#~")
               for index, (level, first, last) in enumerate(reads) for shard in range(schema.MAP_SHARDS)]
    out: list[list[dict]] = [[] for _ in reads]
    with ThreadPoolExecutor(min(THREADS, len(queries))) as pool:
        for index, items in zip((q[0] for q in queries), pool.map(lambda q: _range(*q[1:]), queries), strict=True):
            out[index] += items
    return out


def device_items(device_id: int, level: str, first: str, last: str) -> list[dict]:
    """A device's hour (H) or day (D) items from period `first` to `last`, every organization's."""
    return _range(schema.device_aggregates_partition(device_id), schema.device_period_sort_value(level, first),
                  schema.device_period_sort_value(level, last) + "#~")


def spilled_ips(device_id: int, level: str, period: str, organization_id: int) -> list[dict]:
    """The address items of a device's hour or day that holds too many addresses to keep them inside."""
    prefix = schema.device_ip_key(device_id, level, period, organization_id, "")["SK"]
    return _range(schema.device_aggregates_partition(device_id), prefix, prefix + "~")


def organization_ids() -> list[int]:
    """Every organization, for a platform token (1 Query of GSI2 "ORGS")."""
    # Imported here: organization tokens, the usual callers, never load it.
    from chalicelib.organizations import db as organizations_db
    return [organization.id for organization in organizations_db.list_all()]


def _range(pk: str, low: str, high: str) -> list[dict]:
    # Plain expression strings: boto3's condition builder is not thread-safe, and map reads run on threads.
    return dynamo.query_all(KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
                            ExpressionAttributeValues={":pk": pk, ":low": low, ":high": high})
