"""Audit items: written inside the transaction of the change they record, kept 400 days."""
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
    stamp = clock.iso(at)
    # Time-ordered id: newest-first order survives entries written in the same millisecond.
    entry_id = f"{int(at.timestamp() * 1000):012x}{secrets.token_hex(4)}"
    item = {**schema.audit_keys(organization_id, device_id, stamp, entry_id), "entity": "AuditEntry",
            "id": entry_id, "device_id": device_id, "organization_id": organization_id, "action": action,
            "changes": changes, "actor": actor or SYSTEM_ACTOR, "at": stamp,
            schema.TTL_ATTRIBUTE: int((at + RETENTION).timestamp())}
    return {"Put": {"Item": item}}


def read_page(organization_id: int | None, device_id: int | None, action: str | None, actor: str | None,
              since: str | None, limit: int, offset: int,
              after: str | None) -> tuple[list[dict], bool, int, str | None]:
    """Newest first; (entries, more, count of all matches, sort key of the last entry)."""
    if device_id is not None:
        index, pk = "GSI1", schema.audit_device_pk(device_id)
    elif organization_id is not None:
        index, pk = None, schema.audit_org_pk(organization_id)
    else:
        index, pk = "GSI2", "AUDIT"
    # Expired entries linger until DynamoDB's TTL sweep (and forever in moto). The sort key starts with `at`,
    # so a lower bound on it drops them without a filter, which would make every page read 100 items.
    oldest = clock.iso(clock.now() - RETENTION)
    since = max(since, oldest) if since else oldest
    conditions = []
    if device_id is not None and organization_id is not None:
        conditions.append(Attr("organization_id").eq(organization_id))
    if action:
        conditions.append(Attr("action").eq(action))
    if actor:
        conditions.append(Attr("actor.token_id").eq(int(actor)) if actor.isdigit() else Attr("actor.name").eq(actor))
    filters = dynamo.all_of(conditions)
    items, more = dynamo.read_page(index, pk, limit, offset=offset, after=after, since=since, descending=True,
                                   filter_expression=filters)
    sort_name = f"{index}SK" if index else "SK"
    last = items[-1][sort_name] if items else None
    total = dynamo.count(index, pk, filters, since=since)
    return [{k: dynamo.plain(i.get(k)) for k in PUBLIC_FIELDS} for i in items], more, total, last
