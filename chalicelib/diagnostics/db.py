"""Diagnostic entries, each device's health-check state item, and the entry counts.

An entry lives in its device's partition (`DIAG#<created_at>#<id>`, removed with the device) and on
GSI1 (its organization) and GSI2 (the fleet) under the same time-ordered sort value, both sharded by device
(schema.DIAG_INDEX_SHARDS) and read merged. The device's state item (`HEALTH`) holds `next_check_due` (in the
GSI3 due-time index, sharded by device too) and the device's entry counts per organization; the
organization's and the fleet's counts are sharded counters (store/counters.py). An entry, the device's
counts and schedule, and the organization and fleet counters are one transaction, conditional on the device
existing: every count is exact once the write has returned, and a count is one request (a GetItem of the
state item, or a BatchGetItem of the counter's shards).
"""
import json
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from boto3.dynamodb.conditions import Attr, Key

from chalicelib import clock
from chalicelib.store import counters, dynamo, schema

PUBLIC_FIELDS = ("id", "device_id", "device_name", "device_serial", "diagnostic_type", "status", "last_check",
                 "details", "issues", "notes", "performed_by", "reported_by", "priority", "created_at", "updated_at",
                 "next_check_due")
ENTITY = "DiagnosticEntry"
STATE_ENTITY = "HealthState"
# A check is a stored entry: a device informing every 5 minutes would otherwise write 288 a day.
MIN_CHECK_INTERVAL = timedelta(hours=1)
# For devices without update_frequency: the spacing of the seed's own example (created 14:25, due 18:25).
DEFAULT_CHECK_INTERVAL = timedelta(hours=4)


def check_interval(update_frequency) -> timedelta:
    """Time from one health check of a device to the next."""
    if update_frequency is None:
        return DEFAULT_CHECK_INTERVAL
    return max(MIN_CHECK_INTERVAL, timedelta(seconds=int(update_frequency)))


def next_check_due(update_frequency, after: datetime) -> str:
    return clock.iso(after + check_interval(update_frequency))


# --- the state item and the due-time index ------------------------------------------------------------

def _schedule(device_id: int, due: str) -> dict:
    return {"next_check_due": due, **schema.health_due_keys(due, device_id)}


def state_put(device_id: int, update_frequency, created: datetime) -> dict:
    """Transaction item of a new device: its first check is due one interval after its creation."""
    item = {**schema.health_state_key(device_id), "entity": STATE_ENTITY, "device_id": device_id,
            **_schedule(device_id, next_check_due(update_frequency, created))}
    return {"Put": {"Item": item}}


def reschedule(device_id: int, update_frequency, now: datetime) -> dict:
    """Transaction item moving the next check to one interval from now (update_frequency changed)."""
    values = {"entity": STATE_ENTITY, "device_id": device_id,
              **_schedule(device_id, next_check_due(update_frequency, now))}
    return {"Update": {"Key": schema.health_state_key(device_id), **dynamo.update_expression(values)}}


def postpone(device_id: int, due: str) -> None:
    """Move the next check of a device that is not checked now (inactive); nothing if it is gone."""
    from botocore.exceptions import ClientError

    try:
        dynamo.update(schema.health_state_key(device_id), ConditionExpression="attribute_exists(PK)",
                      **dynamo.update_expression(_schedule(device_id, due)))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def forget_state(device_id: int) -> None:
    """Remove the state item a deleted device left behind (its cascade did not run to the end)."""
    dynamo.delete_keys([schema.health_state_key(device_id)])


def due_states(now: str, limit: int, start: dict | None = None) -> tuple[list[dict], dict | None]:
    """About `limit` state items whose next check is due at `now`, earliest first; and where the next batch
    starts (None when every shard of the index is read to `now`).

    Each shard gives its earliest limit / shards, one Query each, in parallel; `start` holds where each shard
    not yet read to the end goes on.
    """
    positions = start if start is not None else {pk: None for pk in schema.due_partitions()}
    per_shard = -(-limit // len(schema.due_partitions()))

    def shard(pk: str, position: dict | None) -> tuple[list[dict], dict | None]:
        condition = Key("GSI3PK").eq(pk) & Key("GSI3SK").lte(f"{now}#~")
        return dynamo.query(IndexName="GSI3", KeyConditionExpression=condition, Limit=per_shard,
                            **({"ExclusiveStartKey": position} if position else {}))

    pks = list(positions)
    pages = dynamo.parallel([lambda pk=pk: shard(pk, positions[pk]) for pk in pks])
    due = sorted((item for items, _ in pages for item in items), key=lambda item: item["GSI3SK"])
    following = {pk: last for pk, (_, last) in zip(pks, pages, strict=True) if last}
    return due, following or None


# --- entries ----------------------------------------------------------------------------------------

def new_entry(device: dict, fields: dict, now: datetime) -> dict:
    """The stored item of a new entry of `device` (fields: the entry's own, as in PUBLIC_FIELDS)."""
    created = clock.iso(now)
    # Time-ordered: newest-first order survives entries written in the same millisecond.
    entry_id = f"diag-{int(now.timestamp() * 1000):012x}{secrets.token_hex(4)}"
    device_id, organization_id = int(device["id"]), int(device["organization_id"])
    public = {**{name: None for name in PUBLIC_FIELDS}, **fields, "id": entry_id, "device_id": device_id,
              "device_name": device.get("name"), "device_serial": device.get("serial_number"),
              "created_at": created, "updated_at": created}
    return {**schema.diagnostic_keys(organization_id, device_id, created, entry_id), "entity": ENTITY,
            "organization_id": organization_id, **public}


def to_view(item: dict) -> dict:
    return {name: dynamo.plain(item.get(name)) for name in PUBLIC_FIELDS}


def put_entry(item: dict, schedule_next: str | None = None) -> bool:
    """Store an entry and count it; `schedule_next` (a helper's check) also moves the device's next check.

    Returns False, with nothing written, when the device no longer exists.
    """
    device_id, organization_id = int(item["device_id"]), int(item["organization_id"])
    suffixes = _count_suffixes(item["diagnostic_type"], item["status"])
    shard = counters.writer_shard()
    values = {"entity": STATE_ENTITY, "device_id": device_id}
    if schedule_next is not None:
        values |= {"last_check": item["last_check"], **_schedule(device_id, schedule_next)}
    state = dynamo.update_expression(values)
    state["UpdateExpression"] += " ADD " + ", ".join(f"#n{i} :one" for i in range(len(suffixes)))
    state["ExpressionAttributeNames"] |= {f"#n{i}": f"n#{organization_id:010d}#{suffix}"
                                          for i, suffix in enumerate(suffixes)}
    state["ExpressionAttributeValues"][":one"] = 1
    actions = [{"ConditionCheck": {"Key": schema.device_key(device_id), "ConditionExpression": "attribute_exists(PK)"}},
               {"Put": {"Item": _stored(item), "ConditionExpression": "attribute_not_exists(PK)"}},
               {"Update": {"Key": schema.health_state_key(device_id), **state}},
               *(counters.add(key, {f"n#{suffix}": 1 for suffix in suffixes})
                 for key in (schema.diagnostic_counter_key(organization_id, shard),
                             schema.diagnostic_counter_key(None, shard)))]
    try:
        dynamo.transact(actions)
    except dynamo.Cancelled as cancelled:
        if cancelled.reasons[0] == "ConditionalCheckFailed":
            return False
        raise
    return True


def _stored(item: dict) -> dict:
    """DynamoDB takes numbers as Decimal: floats of `details` are converted from their JSON text."""
    return {k: v for k, v in json.loads(json.dumps(item), parse_float=Decimal).items() if v is not None}


def release_actions(device_id: int, organization_id: int) -> list[dict]:
    """Transaction items taking a device's entries out of its organizations' and the fleet's counts, and its
    state item away: for the device's delete transaction, so the counts drop with the device or not at all.

    The state item is deleted on condition that the device's count in its organization is still the one read
    here (a diagnostic recorded meanwhile cancels the delete, which reads again).
    """
    state = dynamo.get(schema.health_state_key(device_id), consistent=True) or {}
    by_organization: dict[str, dict[str, int]] = defaultdict(dict)
    fleet: dict[str, int] = defaultdict(int)
    for name, value in state.items():
        if name.startswith("n#") and int(value):
            _, organization, suffix = name.split("#", 2)
            by_organization[organization][f"n#{suffix}"] = -int(value)
            fleet[f"n#{suffix}"] -= int(value)
    condition: dict = {"ExpressionAttributeNames": {"#total": f"n#{organization_id:010d}#*"}}
    if f"n#{organization_id:010d}#*" in state:
        condition |= {"ConditionExpression": "#total = :total",
                      "ExpressionAttributeValues": {":total": state[f"n#{organization_id:010d}#*"]}}
    else:
        condition["ConditionExpression"] = "attribute_not_exists(#total)"
    actions = [{"Delete": {"Key": schema.health_state_key(device_id), **condition}}]
    if fleet:
        shard = counters.writer_shard()
        actions += [counters.add(schema.diagnostic_counter_key(int(organization), shard), deltas)
                    for organization, deltas in by_organization.items()]
        actions.append(counters.add(schema.diagnostic_counter_key(None, shard), dict(fleet)))
    return actions


def _count_suffixes(diagnostic_type: str, status: str | None) -> list[str]:
    """Every count an entry adds one to: all, by type, and by status and both when it has one."""
    suffixes = ["*", f"T#{diagnostic_type}"]
    if status:
        suffixes += [f"S#{status}", f"T#{diagnostic_type}#S#{status}"]
    return suffixes


def _count_suffix(diagnostic_type: str | None, status: str | None) -> str:
    parts = [f"T#{diagnostic_type}"] if diagnostic_type else []
    parts += [f"S#{status}"] if status else []
    return "#".join(parts) or "*"


def count(device_id: int | None, organization_id: int | None, diagnostic_type: str | None,
          status: str | None) -> int:
    """Entries of a device (all organizations it was in), else of an organization, else of the fleet."""
    suffix = _count_suffix(diagnostic_type, status)
    if device_id is not None:
        state = dynamo.get(schema.health_state_key(device_id)) or {}
        return sum(int(value) for name, value in state.items()
                   if name.startswith("n#") and name.split("#", 2)[2] == suffix)
    return counters.totals(schema.diagnostic_counter_keys(organization_id)).get(f"n#{suffix}", 0)


def read_page(device_id: int | None, organization_id: int | None, diagnostic_type: str | None, status: str | None,
              limit: int, offset: int, after: str | None) -> tuple[list[dict], bool, str | None]:
    """Newest first: (items, more follow, sort value of the last item for the cursor)."""
    if device_id is not None:
        index, pks, prefix = None, [schema.device_partition(device_id)], schema.DIAG_SORT_PREFIX
    elif organization_id is not None:
        index, pks, prefix = "GSI1", schema.org_diagnostics_partitions(organization_id), None
    else:
        index, pks, prefix = "GSI2", schema.fleet_diagnostics_partitions(), None
    conditions = []
    if diagnostic_type:
        conditions.append(Attr("diagnostic_type").eq(diagnostic_type))
    if status:
        conditions.append(Attr("status").eq(status))
    items, more = dynamo.read_merged(index, pks, limit, offset=offset, after=after, prefix=prefix, descending=True,
                                     filter_expression=dynamo.all_of(conditions))
    last = items[-1][f"{index}SK" if index else "SK"] if items else None
    return items, more, last
