"""Audit items: written inside the transaction of the change they record, kept 400 days.

An organization's trail and the fleet's are sharded by device (schema.AUDIT_SHARDS): every device write
of the fleet adds an entry, more than one partition key should take at the targets. A list reads every
shard of its trail from the same position and merges them newest first.
"""
import secrets
from datetime import datetime, timedelta

from boto3.dynamodb.conditions import Attr

from chalicelib import clock
from chalicelib.store import dynamo, schema

RETENTION = timedelta(days=400)
PUBLIC_FIELDS = ("id", "device_id", "organization_id", "action", "changes", "actor", "at")
# The actor of changes no token made (bandit B105 takes the key "token_id" for a password).
SYSTEM_ACTOR = {"token_id": None, "name": "system"}  # nosec B105


def entry_put(organization_id: int, device_id: int, action: str, changes: dict, actor: dict | None,
              at: datetime) -> dict:
    """The transaction item that records one change."""
    return entry_puts(organization_id, device_id, action, changes, actor, at)[0]


def entry_puts(organization_id: int, device_id: int, action: str, changes: dict, actor: dict | None,
               at: datetime, moved_from: int | None = None) -> list[dict]:
    """The transaction items that record one change: the entry, and for a device moved out of another
    organization (`moved_from`) a copy in that organization's trail, so that both see the move."""
    stamp, entry_id, item = _entry(organization_id, device_id, action, changes, actor, at)
    moved = moved_from is not None and moved_from != organization_id
    if moved:
        item["moved_from"] = moved_from
    puts = [{"Put": {"Item": {**schema.audit_keys(organization_id, device_id, stamp, entry_id), **item}}}]
    if moved:
        puts.append({"Put": {"Item": {**schema.audit_copy_keys(moved_from, device_id, stamp, entry_id), **item}}})
    return puts


def bulk_entry_put(organization_id: int | None, bulk_operation_id: int, action: str, changes: dict,
                   actor: dict | None, at: datetime) -> dict:
    """The transaction item that records a change of a bulk operation: no device (`device_id` null), in its
    organization's trail and the fleet's."""
    stamp, entry_id, item = _entry(organization_id, None, action, changes, actor, at)
    return {"Put": {"Item": {**schema.bulk_audit_keys(organization_id, bulk_operation_id, stamp, entry_id), **item}}}


def _entry(organization_id: int | None, device_id: int | None, action: str, changes: dict, actor: dict | None,
           at: datetime) -> tuple[str, str, dict]:
    """(time stamp, entry id, the entry's attributes but its keys)."""
    stamp = clock.iso(at)
    # Time-ordered id: newest-first order survives entries written in the same millisecond.
    entry_id = f"{int(at.timestamp() * 1000):012x}{secrets.token_hex(4)}"
    return stamp, entry_id, {"entity": "AuditEntry", "id": entry_id, "device_id": device_id,
                             "organization_id": organization_id, "action": action, "changes": changes,
                             "actor": actor or SYSTEM_ACTOR, "at": stamp,
                             schema.TTL_ATTRIBUTE: int((at + RETENTION).timestamp())}


def read_page(organization_id: int | None, device_id: int | None, action: str | None, actor: str | None,
              since: str | None, limit: int, offset: int,
              after: str | None) -> tuple[list[dict], bool, int, str | None]:
    """Newest first; (entries, more, count of all matches, sort key of the last entry)."""
    if device_id is not None:
        index, pks = "GSI1", [schema.audit_device_pk(device_id)]
    elif organization_id is not None:
        index, pks = None, schema.audit_org_partitions(organization_id)
    else:
        index, pks = "GSI2", schema.audit_fleet_partitions()
    # Expired entries linger until DynamoDB's TTL sweep (and forever in moto). The sort key starts with `at`,
    # so a lower bound on it drops them without a filter, which would make every page read 100 items.
    oldest = clock.iso(clock.now() - RETENTION)
    since = max(since, oldest) if since else oldest
    conditions = []
    if device_id is not None and organization_id is not None:
        # A move's entry is the device's, in its new organization, and the old one's too.
        conditions.append(Attr("organization_id").eq(organization_id) | Attr("moved_from").eq(organization_id))
    if action:
        conditions.append(Attr("action").eq(action))
    if actor:
        conditions.append(Attr("actor.token_id").eq(int(actor)) if actor.isdigit() else Attr("actor.name").eq(actor))
    filters = dynamo.all_of(conditions)
    items, more = dynamo.read_merged(index, pks, limit, offset=offset, after=after, since=since, descending=True,
                                     filter_expression=filters)
    sort_name = f"{index}SK" if index else "SK"
    last = items[-1][sort_name] if items else None
    total = dynamo.count_merged(index, pks, filters, since=since)
    return [{k: dynamo.plain(i.get(k)) for k in PUBLIC_FIELDS} for i in items], more, total, last
