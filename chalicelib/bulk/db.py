"""Bulk operation items (docs/operations.md, "Bulk operations"): the bulk operation, its pacer, its device ids,
its progress shards and one target item per device. Keys from store/schema.py.

The bulk item is written on state changes only (each a transaction with its audit entry, conditional on the
state it leaves); the pacer by the background alone (one round at a time: the FIFO message group); the progress
shards by `ADD` only; the target items by the transitions of their devices.
"""
import itertools
import json
import secrets
from datetime import datetime
from decimal import Decimal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib import clock
from chalicelib.audit import db as audit_db
from chalicelib.bulk.models import COUNTED
from chalicelib.store import dynamo, schema, sequences

IDS_PER_CHUNK = 1_000
BULK_FIELDS = ("id", "organization_id", "operation", "parameters", "target", "rollout", "abort", "state",
               "target_count", "abort_reason", "requested_by", "created", "started", "finished")


class StateConflict(Exception):
    """The bulk operation was not in a state the change may leave (someone moved it first)."""


# --- the bulk operation, its pacer and device ids ---------------------------------------------------------

def new_actions(bulk_id: int, record: dict, device_ids: list[int] | None, actor: dict, now: datetime) -> list[dict]:
    """The create transaction's items: bulk item, pacer, device-id chunks, audit entry."""
    stamp = clock.iso(now)
    bulk = {**schema.bulk_key(bulk_id), **schema.bulk_list_keys(record["organization_id"], bulk_id, stamp),
            **schema.bulk_active_keys(bulk_id), "entity": "BulkOperation", **record, "id": bulk_id,
            "state": "scheduled", "target_count": 0, "expanded": False, "closed": False, "progress": None,
            "abort_reason": None, "requested_by": actor, "created": stamp, "started": None, "finished": None,
            "device_ids_count": len(device_ids or ())}
    pacer = {**schema.bulk_pacer_key(bulk_id), "entity": "BulkPacer", "bulk_operation_id": bulk_id, "round": 0,
             "heartbeat": stamp, "expansion": None, "expanded_count": 0, "cursors": [None] * schema.BULK_TARGET_SHARDS,
             "exhausted": [False] * schema.BULK_TARGET_SHARDS, "next_shard": 0, "slices": [], "rate": 0,
             "last_recount": None}
    chunks = [{**schema.bulk_ids_key(bulk_id, n), "entity": "BulkDeviceIds", "bulk_operation_id": bulk_id,
               "device_ids": device_ids[start:start + IDS_PER_CHUNK]}
              for n, start in enumerate(range(0, len(device_ids or ()), IDS_PER_CHUNK))]
    puts = [{"Put": {"Item": i, "ConditionExpression": "attribute_not_exists(PK)"}} for i in (bulk, pacer, *chunks)]
    return [*puts, audit_put(bulk, "bulk_operation_created", {"state": {"old": None, "new": "scheduled"}}, actor, now)]


def create(record: dict, device_ids: list[int] | None, actor: dict, now: datetime) -> int:
    # DynamoDB takes no floats (a ramp's factor, an abort threshold).
    stored = json.loads(json.dumps(record), parse_float=Decimal)
    return sequences.create_with_new_id("BULK", lambda bulk_id: new_actions(bulk_id, stored, device_ids, actor, now))


def read(bulk_id: int, with_device_ids: bool = False, consistent: bool = False) -> tuple[dict | None, dict | None,
                                                                                          list[int] | None]:
    """(bulk item, pacer item, device ids of the target) in one Query of the bulk's partition."""
    condition = Key("PK").eq(schema.bulk_partition(bulk_id))
    if not with_device_ids:
        condition &= Key("SK").begins_with(schema.BULK_HEAD_PREFIX)
    items = dynamo.query_all(KeyConditionExpression=condition, ConsistentRead=consistent)
    by_sk = {item["SK"]: item for item in items}
    chunks = sorted(sk for sk in by_sk if sk.startswith(schema.BULK_IDS_PREFIX))
    ids = [int(i) for sk in chunks for i in by_sk[sk]["device_ids"]] if with_device_ids and chunks else None
    return (by_sk.get(schema.bulk_key(bulk_id)["SK"]), by_sk.get(schema.bulk_pacer_key(bulk_id)["SK"]), ids)


def companions(bulks: list[dict]) -> tuple[dict[int, dict], dict[int, list[int]], dict[int, dict]]:
    """For a page of bulk items: pacers, device ids and progress by bulk id, in BatchGetItems (100 keys each)."""
    keys = []
    for bulk in bulks:
        bulk_id = int(bulk["id"])
        keys.append(schema.bulk_pacer_key(bulk_id))
        keys += [schema.bulk_ids_key(bulk_id, n) for n in range(-(-int(bulk.get("device_ids_count") or 0)
                                                                  // IDS_PER_CHUNK))]
        keys += [schema.bulk_progress_key(bulk_id, shard) for shard in range(schema.BULK_PROGRESS_SHARDS)]
    pacers, ids, progress = {}, {}, {}
    for item in sorted(dynamo.batch_get(keys), key=lambda i: (i["PK"], i["SK"])):
        bulk_id = int(item["bulk_operation_id"])
        if item["entity"] == "BulkPacer":
            pacers[bulk_id] = item
        elif item["entity"] == "BulkDeviceIds":
            ids.setdefault(bulk_id, []).extend(int(i) for i in item["device_ids"])
        else:
            add_counts(progress.setdefault(bulk_id, {}), item)
    return pacers, ids, progress


def list_page(organization_id: int | None, state: str | None, limit: int, offset: int,
              after: str | None) -> tuple[list[dict], bool, int]:
    """Newest first: (bulk items, more, count of all matches)."""
    index, pk = ("GSI1", schema.org_bulks_pk(organization_id)) if organization_id is not None else ("GSI2",
                                                                                                   schema.BULKS_PK)
    condition = Attr("state").eq(state) if state else None
    items, more = dynamo.read_page(index, pk, limit, offset=offset, after=after, descending=True,
                                   filter_expression=condition)
    return items, more, dynamo.count(index, pk, condition)


def change_state(bulk: dict, leaving: tuple[str, ...], state: str, action: str, actor: dict | None,
                 now: datetime, **fields) -> dict:
    """Move the bulk operation to `state` if it is in one of `leaving`, with its audit entry; the item as written.

    Raises:
        StateConflict: it was in another state.
    """
    values = {"state": state, **fields}
    names = {f"#v{i}": name for i, name in enumerate(values)}
    update = {"Update": {
        "Key": schema.bulk_key(int(bulk["id"])),
        "UpdateExpression": "SET " + ", ".join(f"#v{i} = :v{i}" for i in range(len(values))),
        "ConditionExpression": "#state IN (" + ", ".join(f":from{i}" for i in range(len(leaving))) + ")",
        "ExpressionAttributeNames": {**names, "#state": "state"},
        "ExpressionAttributeValues": {**{f":v{i}": v for i, v in enumerate(values.values())},
                                      **{f":from{i}": s for i, s in enumerate(leaving)}}}}
    try:
        dynamo.transact([update, audit_put(bulk, action, {"state": {"old": bulk["state"], "new": state}}, actor, now)])
    except dynamo.Cancelled:
        raise StateConflict() from None
    return {**bulk, **values}


def close(bulk: dict, progress: dict, **fields) -> None:
    """The background is done with it: exact progress stored, out of the active index."""
    _update(schema.bulk_key(int(bulk["id"])), {"progress": progress, "closed": True, **fields},
            remove=["GSI3PK", "GSI3SK"])


def active() -> list[int]:
    """Bulk operations the background still works on (the revival schedule's list)."""
    items = dynamo.query_all(IndexName="GSI3", KeyConditionExpression=Key("GSI3PK").eq(schema.BULKS_ACTIVE_PK))
    return [int(item["id"]) for item in items]


def update_pacer(bulk_id: int, values: dict) -> None:
    _update(schema.bulk_pacer_key(bulk_id), {**values, "heartbeat": clock.iso(clock.now())})


def end_round(bulk_id: int, round_number: int, values: dict) -> bool:
    """Raise the pacer's round number past `round_number` (the message of another round is then stale); False
    when another round already did."""
    try:
        _update(schema.bulk_pacer_key(bulk_id), {**values, "round": round_number + 1,
                                                 "heartbeat": clock.iso(clock.now())},
                condition=("#r = :r", {"#r": "round"}, {":r": round_number}))
        return True
    except ConditionFailed:
        return False


def audit_put(bulk: dict, action: str, changes: dict, actor: dict | None, now: datetime) -> dict:
    organization = bulk.get("organization_id")
    return audit_db.bulk_entry_put(int(organization) if organization is not None else None, int(bulk["id"]), action,
                                   {"bulk_operation_id": {"old": None, "new": int(bulk["id"])}, **changes}, actor,
                                   now)


# --- progress shards -------------------------------------------------------------------------------------

def add_counts(into: dict, item: dict) -> dict:
    for state in COUNTED:
        into[state] = into.get(state, 0) + int(item.get(state) or 0)
    return into


def read_progress(bulk_id: int) -> dict:
    """The counters summed over the shards (signed: a transient state's count may lag)."""
    counts: dict = {}
    for item in dynamo.batch_get([schema.bulk_progress_key(bulk_id, s) for s in range(schema.BULK_PROGRESS_SHARDS)]):
        add_counts(counts, item)
    return counts


# Each process takes the shards in turn from a random start: one process's settles spread evenly, and concurrent
# Lambdas start apart.
_shards = itertools.count(secrets.randbelow(schema.BULK_PROGRESS_SHARDS))


def add_progress(bulk_id: int, deltas: dict[str, int]) -> None:
    """One UpdateItem ADD on the next shard: no item takes every settle, and none is written in a transaction
    (where concurrent settles would conflict)."""
    deltas = {state: n for state, n in deltas.items() if n}
    if not deltas:
        return
    key = schema.bulk_progress_key(bulk_id, next(_shards) % schema.BULK_PROGRESS_SHARDS)
    names = {f"#c{i}": state for i, state in enumerate(deltas)}
    dynamo.update(key, UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(deltas)))
                  + " SET entity = :e, bulk_operation_id = :b", ExpressionAttributeNames=names,
                  ExpressionAttributeValues={**{f":c{i}": n for i, n in enumerate(deltas.values())},
                                             ":e": "BulkProgress", ":b": bulk_id})


class ConditionFailed(Exception):
    pass


def _update(key: dict, values: dict, remove: list[str] = (), condition: tuple | None = None) -> None:
    expression = dynamo.update_expression(values, list(remove))
    if condition:
        text, names, vals = condition
        expression["ConditionExpression"] = text
        expression["ExpressionAttributeNames"] |= names
        expression["ExpressionAttributeValues"] = expression.get("ExpressionAttributeValues", {}) | vals
    try:
        dynamo.update(key, **expression)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise ConditionFailed() from None
        raise


def set_fields(bulk_id: int, **values) -> None:
    """Fields the background keeps on the bulk item beside its state (target_count once expanded)."""
    _update(schema.bulk_key(bulk_id), values)
