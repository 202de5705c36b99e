"""Operation items and their state transitions, each one conditional so a duplicate delivery is a no-op.

An operation lives in its device's partition (removed with it). While unfinished it sits in the sparse
OPEN_OPS index by deadline (for the time-out sweep), and in the device item's `pending_operations` map,
from which `pending_settings` is derived. A transition writes the operation (conditional on its state),
the device (conditional on its version) and an audit entry in one transaction.
"""
from datetime import datetime, timedelta

from boto3.dynamodb.conditions import Key

from chalicelib import clock
from chalicelib.audit import db as audit_db
from chalicelib.operations.models import DEADLINE_MINUTES, DEFAULT_DEADLINE_MINUTES, PUBLIC_FIELDS
from chalicelib.store import dynamo, schema


class StateChanged(Exception):
    """The operation or its device was written by someone else first."""


def pending_summary(pending: dict) -> tuple[str | None, list[dict]]:
    """`pending_settings` ("reboot:queued,sync:dispatched", oldest first) and `pending_details`."""
    details = sorted((dynamo.plain(entry) for entry in (pending or {}).values()), key=lambda e: e["id"])
    text = ",".join(f"{e['operation']}:{e['state']}" for e in details)
    return text or None, details


def new_operation(device: dict, operation_id: int, name: str, parameters: dict, actor: dict,
                  now: datetime) -> dict:
    created = clock.iso(now)
    deadline = clock.iso(now + timedelta(minutes=DEADLINE_MINUTES.get(name, DEFAULT_DEADLINE_MINUTES)))
    return {**schema.operation_key(device["id"], operation_id),
            **schema.open_operation_keys(deadline, device["id"], operation_id), "entity": "Operation",
            "id": operation_id, "device_id": int(device["id"]), "organization_id": int(device["organization_id"]),
            "operation": name, "parameters": parameters, "state": "queued", "attempts": 0, "error": None,
            "requested_by": actor, "created": created, "updated": created, "finished": None, "deadline": deadline}


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


def overdue(now: datetime, limit: int = 100) -> list[dict]:
    """Unfinished operations whose deadline has passed, oldest deadline first."""
    condition = Key("GSI3PK").eq(schema.OPEN_OPS_PK) & Key("GSI3SK").lte(clock.iso(now))
    items, _ = dynamo.query(IndexName="GSI3", Limit=limit, KeyConditionExpression=condition)
    return items


def operation_update(item: dict, state: str, now: datetime, **fields) -> dict:
    """Move the operation from its current state to `state` (fails if someone moved it first)."""
    values = {"state": state, "updated": clock.iso(now), **fields}
    remove = []
    if state in ("succeeded", "failed", "timed_out", "cancelled"):
        values["finished"] = clock.iso(now)
        remove = ["GSI3PK", "GSI3SK"]
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
