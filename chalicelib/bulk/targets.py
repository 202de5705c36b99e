"""Target items: one per device of a bulk operation, in BULK_TARGET_SHARDS partitions by device id.

A target is written `pending` by the expansion, leaves `pending` at its turn (conditional on being pending, so
a slice done twice queues nothing twice), then follows its operation: every transition of the operation writes
it in the same transaction (operations/db.py target_update). While `queued` it also sits in a sparse index per
shard, which is what cancel and abort read.
"""
from datetime import datetime

from boto3.dynamodb.conditions import Attr, Key

from chalicelib import clock
from chalicelib.store import dynamo, schema

SHARDS = range(schema.BULK_TARGET_SHARDS)


def write(bulk_id: int, devices: list[tuple[int, int]]) -> int:
    """Put (device id, organization id) pairs as pending targets; the BatchWriteItem requests made. A page
    written twice (a round cut short) writes the same items: nothing has left `pending` before expansion ends."""
    return dynamo.batch_write(puts=[{**schema.bulk_target_key(bulk_id, device_id), "entity": "BulkTarget",
                                     "bulk_operation_id": bulk_id, "device_id": device_id,
                                     "organization_id": organization_id, "state": "pending", "operation_id": None,
                                     "error": None} for device_id, organization_id in devices])


def after(bulk_id: int, shard: int, cursor: str | None, limit: int) -> tuple[list[dict], bool]:
    """The next `limit` targets of a shard after `cursor`, by device id; True when the shard has no more."""
    condition = Key("PK").eq(schema.bulk_target_partition(bulk_id, shard))
    if cursor:
        condition &= Key("SK").gt(cursor)
    items, last = dynamo.query(KeyConditionExpression=condition, Limit=limit, ConsistentRead=True)
    return items, last is None


def page(bulk_id: int, states: tuple[str, ...] | None, limit: int, offset: int,
         cursor: str | None) -> tuple[list[dict], bool]:
    """A page of targets by device id, merged from the shards (one Query each); `states` filters."""
    condition = Attr("state").is_in(list(states)) if states else None
    return dynamo.read_merged(None, _partitions(bulk_id), limit, offset=offset, after=cursor,
                              filter_expression=condition)


def queued(bulk_id: int) -> list[dict]:
    """Every target whose operation is queued (the sparse index, one Query per shard and page)."""
    return dynamo.query_merged([schema.bulk_queued_pk(bulk_id, shard) for shard in SHARDS],
                               lambda pk: Key("GSI1PK").eq(pk), index="GSI1")


def recount(bulk_id: int) -> dict[str, int]:
    """Targets by state, read whole (one Query per shard and MB): the exact figures a final progress shows."""
    counts: dict[str, int] = {}
    for item in dynamo.query_merged(_partitions(bulk_id), lambda pk: Key("PK").eq(pk), ProjectionExpression="#s",
                                    ExpressionAttributeNames={"#s": "state"}):
        counts[item["state"]] = counts.get(item["state"], 0) + 1
    return counts


def _partitions(bulk_id: int) -> list[str]:
    return [schema.bulk_target_partition(bulk_id, shard) for shard in SHARDS]


def leave_pending(bulk_id: int, device_id: int, state: str, now: datetime, operation_id: int | None = None,
                  error: dict | None = None) -> dict:
    """The transaction item taking a target out of `pending` (its turn): to its operation's state, or skipped."""
    return move(bulk_id, device_id, "pending", state, now, operation_id, error)


def move(bulk_id: int, device_id: int, was: str, state: str, now: datetime, operation_id: int | None = None,
         error: dict | None = None) -> dict:
    """The transaction item moving a target from `was` to `state` (fails if it is elsewhere)."""
    values = {"state": state, "updated": clock.iso(now), "error": error}
    if operation_id is not None:
        values["operation_id"] = operation_id
    remove = []
    if state == "queued":
        values |= schema.bulk_queued_keys(bulk_id, device_id)
    else:
        remove = ["GSI1PK", "GSI1SK"]
    expression = dynamo.update_expression(values, remove)
    expression["ExpressionAttributeNames"]["#was"] = "state"
    expression["ExpressionAttributeValues"][":was"] = was
    return {"Update": {"Key": schema.bulk_target_key(bulk_id, device_id), "ConditionExpression": "#was = :was",
                       **expression}}
