"""Operation items and their state transitions, each one conditional so a duplicate delivery is a no-op.

An operation lives in its device's partition (removed with it). While unfinished it sits in the sparse
OPEN_OPS index by deadline (for the time-out sweep), and in the device item's `pending_operations` map,
from which `pending_settings` is derived; until an agent first picks it up, in the sparse outbox index by
when to send it again (a send lost after the commit). A transition writes the operation (conditional on its
state), the device (conditional on its version), an audit entry, and the target items of the bulk operations
it belongs to, in one transaction.
"""
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import clock
from chalicelib.audit import db as audit_db
from chalicelib.operations.models import DEADLINE_MINUTES, DEFAULT_DEADLINE_MINUTES, PUBLIC_FIELDS
from chalicelib.store import dynamo, schema

# An operation no agent has picked up this long after its commit is sent again by the sweep (then after 2, 4,
# 8 ... times as long): its first send may have been lost.
RESEND_AFTER_SECONDS = 60
# Entries per sweep Query: a page is handled before the next is read, within the sweep's time budget.
PAGE_SIZE = 100


class StateChanged(Exception):
    """The operation or its device was written by someone else first."""


def pending_summary(pending: dict) -> tuple[str | None, list[dict]]:
    """`pending_settings` ("reboot:queued,sync:dispatched", oldest first) and `pending_details`."""
    details = sorted((dynamo.plain(entry) for entry in (pending or {}).values()), key=lambda e: e["id"])
    text = ",".join(f"{e['operation']}:{e['state']}" for e in details)
    return text or None, details


def new_operation(device: dict, operation_id: int, name: str, parameters: dict, actor: dict,
                  now: datetime, bulk_operation_id: int | None = None) -> dict:
    created = clock.iso(now)
    deadline = clock.iso(now + timedelta(minutes=DEADLINE_MINUTES.get(name, DEFAULT_DEADLINE_MINUTES)))
    resend_at = clock.iso(now + timedelta(seconds=RESEND_AFTER_SECONDS))
    return {**schema.operation_key(device["id"], operation_id),
            **schema.open_operation_keys(deadline, device["id"], operation_id),
            **schema.outbox_keys(resend_at, device["id"], operation_id), "entity": "Operation",
            "id": operation_id, "device_id": int(device["id"]), "organization_id": int(device["organization_id"]),
            "operation": name, "parameters": parameters, "state": "queued", "attempts": 0, "error": None,
            "requested_by": actor, "created": created, "updated": created, "finished": None, "deadline": deadline,
            "bulk_operation_id": bulk_operation_id}


def to_view(item: dict) -> dict:
    return {name: dynamo.plain(item.get(name)) for name in PUBLIC_FIELDS}


def get(device_id: int, operation_id: int, consistent: bool = False) -> dict | None:
    return dynamo.get(schema.operation_key(device_id, operation_id), consistent=consistent)


def device(device_id: int) -> dict | None:
    """The device item, read strongly consistent: every transition is conditional on the device's version,
    and the agent reads it right after the PATCH that queued the operation wrote it."""
    return dynamo.get(schema.device_key(device_id), consistent=True)


def read_page(device_id: int, limit: int, offset: int, after: str | None) -> tuple[list[dict], bool]:
    """Newest first."""
    return dynamo.read_page(None, schema.device_partition(device_id), limit, offset=offset, after=after,
                            prefix=schema.operation_sort_prefix(), descending=True)


def overdue_page(shard: int, now: datetime, start: dict | None = None) -> tuple[list[dict], dict | None]:
    """One page of a shard's unfinished operations whose deadline has passed, oldest deadline first."""
    return dynamo.query(IndexName="GSI3", Limit=PAGE_SIZE, **({"ExclusiveStartKey": start} if start else {}),
                        KeyConditionExpression=Key("GSI3PK").eq(schema.open_operations_pk(shard))
                        & Key("GSI3SK").lte(clock.iso(now) + "~"))


def outbox_page(shard: int, now: datetime, start: dict | None = None) -> tuple[list[dict], dict | None]:
    """One page of a shard's operations no agent has picked up, due to be sent again."""
    return dynamo.query(IndexName="GSI2", Limit=PAGE_SIZE, **({"ExclusiveStartKey": start} if start else {}),
                        KeyConditionExpression=Key("GSI2PK").eq(schema.outbox_pk(shard))
                        & Key("GSI2SK").lte(clock.iso(now) + "~"))


def postpone_resend(item: dict, now: datetime) -> None:
    """After sending it again: the next time, twice as far off. Only while it is still in the outbox and queued
    (an agent that picked it up meanwhile removed the entry, which must not come back)."""
    resends = int(item.get("resends") or 0) + 1
    send_at = clock.iso(now + timedelta(seconds=RESEND_AFTER_SECONDS * 2 ** resends))
    keys = schema.outbox_keys(send_at, int(item["device_id"]), int(item["id"]))
    try:
        dynamo.update(
            schema.operation_key(int(item["device_id"]), int(item["id"])),
            UpdateExpression="SET GSI2SK = :at, resends = :n",
            ConditionExpression="attribute_exists(GSI2PK) AND #state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":at": keys["GSI2SK"], ":n": resends, ":queued": "queued"})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise   # else picked up meanwhile: nothing to send again


def halted_bulks(bulk_ids: list[int]) -> frozenset[int]:
    """Those of the bulk operations that were cancelled or aborted (their items, by key: one BatchGetItem)."""
    found = dynamo.batch_get([schema.bulk_key(bulk_id) for bulk_id in bulk_ids])
    return frozenset(int(item["id"]) for item in found if item.get("state") in ("cancelled", "aborted"))


def bulk_memberships(item: dict) -> list[int]:
    """The bulk operations whose targets follow this operation: the one that requested it, and those whose turn
    found it standing (coalesced onto it)."""
    linked = [int(b) for b in (item.get("bulk_links") or ())]
    own = [int(item["bulk_operation_id"])] if item.get("bulk_operation_id") is not None else []
    return sorted(set(own + linked))


def target_update(bulk_operation_id: int, item: dict, state: str, now: datetime, error: Any = None) -> dict:
    """A bulk operation's target item following its operation: the state, and the sparse queued-index entry
    while (and only while) it is queued."""
    device_id = int(item["device_id"])
    values = {"state": state, "operation_id": int(item["id"]), "updated": clock.iso(now), "error": error}
    remove = []
    if state == "queued":
        values |= schema.bulk_queued_keys(bulk_operation_id, device_id)
    else:
        remove = ["GSI1PK", "GSI1SK"]
    return {"Update": {"Key": schema.bulk_target_key(bulk_operation_id, device_id),
                       **dynamo.update_expression(values, remove)}}


def operation_update(item: dict, state: str, now: datetime, **fields) -> dict:
    """Move the operation from its current state to `state` (fails if someone moved it first)."""
    values = {"state": state, "updated": clock.iso(now), **fields}
    remove = ["GSI2PK", "GSI2SK"]   # any transition means it was picked up (or ended): out of the outbox
    if state in ("succeeded", "failed", "timed_out", "cancelled"):
        values["finished"] = clock.iso(now)
        remove += ["GSI3PK", "GSI3SK"]
    expression = dynamo.update_expression(values, remove)
    expression["ExpressionAttributeNames"]["#state_now"] = "state"
    expression["ExpressionAttributeValues"][":state_was"] = item["state"]
    return {"Update": {"Key": schema.operation_key(int(item["device_id"]), int(item["id"])),
                       "ConditionExpression": "#state_now = :state_was", **expression}}


def device_update(device: dict, pending: dict, now: datetime, **fields) -> dict:
    """The device's pending map and followed fields, conditional on the version that was read."""
    settings, _ = pending_summary(pending)
    values = {"pending_operations": pending, "version": int(device["version"]) + 1, **fields}
    remove = [name for name, value in fields.items() if value is None]
    values = {k: v for k, v in values.items() if v is not None}
    if settings:
        values |= {"pending_settings": settings, **schema.pending_device_keys(int(device["id"]))}
    else:
        remove += ["pending_settings", "GSI3PK", "GSI3SK"]
    expression = dynamo.update_expression(values, remove)
    expression["ExpressionAttributeNames"]["#version_now"] = "version"
    expression["ExpressionAttributeValues"][":version_was"] = device["version"]
    return {"Update": {"Key": schema.device_key(int(device["id"])),
                       "ConditionExpression": "#version_now = :version_was", **expression}}


def audit_put(device: dict, action: str, changes: dict, actor: dict | None, now: datetime) -> dict:
    return audit_db.entry_put(int(device["organization_id"]), int(device["id"]), action, changes, actor, now)


def transact(actions: list[dict]) -> None:
    """Raises: StateChanged when any condition failed (someone else moved first)."""
    try:
        dynamo.transact(actions)
    except dynamo.Cancelled:
        raise StateChanged() from None
