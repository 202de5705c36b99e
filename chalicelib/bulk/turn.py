"""A device's turn in a bulk operation: its operation planned and written like a PATCH's, with its target.

One transaction writes the device (conditional on its version), the new operation, the audit entries and the
target leaving `pending` (conditional on being pending: a slice done twice queues nothing twice). An operation
of the same kind already unfinished on the device stands instead (API.md §3 coalescing): the target is linked
to it (`bulk_links` on the operation, so that its transitions write this target too), in one transaction that
also bumps the device's version, so an agent mid-way through that operation re-reads it, links included.
"""
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib import clock
from chalicelib.bulk import targets
from chalicelib.devices import db as devices_db
from chalicelib.errors import FleetlineError, ServiceUnavailable
from chalicelib.operations import service as operations
from chalicelib.operations.models import UNFINISHED
from chalicelib.store import dynamo, retries, schema


@dataclass
class Outcome:
    state: str                                   # the target's state after its turn; None: taken before
    operation_ids: list[int] = field(default_factory=list)   # new operations to send


def take(bulk: dict, target: dict, device: dict | None, wanted: dict[str, dict], image, now: datetime) -> Outcome:
    """Give one pending target its turn; `device` is the stored device item (None: it is gone)."""
    bulk_id, device_id = int(bulk["id"]), int(target["device_id"])
    actor = dynamo.plain(bulk["requested_by"])
    try:
        return _take(bulk_id, bulk, device_id, device, wanted, image, actor, now)
    except ServiceUnavailable:   # written by others at every attempt: passed over, not held up
        return _skip(bulk_id, device_id, {"code": "DEVICE_KEPT_CHANGING",
                                          "message": "The device was written by others at every attempt."}, now)


def _take(bulk_id: int, bulk: dict, device_id: int, device: dict | None, wanted: dict[str, dict], image, actor: dict,
          now: datetime) -> Outcome:
    for _ in retries.attempts(retries.OPTIMISTIC_ATTEMPTS, "a device's turn"):
        if reason := _passed_over(bulk, device, image):
            return _skip(bulk_id, device_id, reason, now)
        record = {k: v for k, v in device.items() if k not in devices_db.KEY_ATTRIBUTES and k != "entity"}
        changes = {}
        if image is not None and record.get("firmware_image") != image.id:
            changes["firmware_image"] = {"old": dynamo.plain(record.get("firmware_image")), "new": image.id}
            record["firmware_image"] = image.id
        try:
            plan = operations.plan(record, wanted, actor, now, bulk_operation_id=bulk_id)
        except FleetlineError as refused:
            return _skip(bulk_id, device_id, {"code": refused.code, "message": refused.message}, now)
        try:
            if plan.operation_ids:
                new = record | plan.device_fields | {"version": int(device["version"]) + 1,
                                                     "last_change": clock.iso(now)}
                leave = targets.leave_pending(bulk_id, device_id, "queued", now, plan.operation_ids[0])
                devices_db.replace(device, new, changes, actor, extra=[*plan.actions, leave])
                return Outcome("queued", plan.operation_ids)
            standing = next(iter(plan.standing.values()))
            _link(bulk_id, device, standing, now)
            return Outcome(standing["state"])
        except (devices_db.VersionChanged, dynamo.Cancelled):
            if _current_state(bulk_id, device_id) != "pending":
                return Outcome(None)   # its turn was taken before (a round redone after a crash)
            # Read strongly consistent: the slice's BatchGetItem may have been stale, and so would a second look.
            device = dynamo.get(schema.device_key(device_id), consistent=True)
    raise AssertionError("unreachable: attempts() raises when spent")


def _passed_over(bulk: dict, device: dict | None, image) -> dict | None:
    """Why a device is skipped at its turn: deleted, or moved out of the bulk operation's organization, or a
    type the firmware image does not fit (changed since the request)."""
    if device is None:
        return {"code": "DEVICE_DELETED", "message": "The device was deleted before its turn."}
    organization = bulk.get("organization_id")
    if organization is not None and int(device["organization_id"]) != int(organization):
        return {"code": "DEVICE_MOVED", "message": "The device left the organization before its turn."}
    if image is not None and int(device["type"]) not in image.device_types:
        return {"code": "FIRMWARE_INCOMPATIBLE",
                "message": f"Firmware image {image.id} does not fit device type {int(device['type'])}."}
    return None


def _skip(bulk_id: int, device_id: int, reason: dict, now: datetime) -> Outcome:
    try:
        dynamo.transact([targets.leave_pending(bulk_id, device_id, "skipped", now, error=reason)])
    except dynamo.Cancelled:
        return Outcome(None)
    return Outcome("skipped")


def _link(bulk_id: int, device: dict, standing: dict, now: datetime) -> None:
    """The target follows the operation already standing; raises dynamo.Cancelled if anything moved."""
    device_id, operation_id = int(device["id"]), int(standing["id"])
    bump = {"Update": {"Key": schema.device_key(device_id), "UpdateExpression": "SET #v = :next",
                       "ConditionExpression": "#v = :was", "ExpressionAttributeNames": {"#v": "version"},
                       "ExpressionAttributeValues": {":next": int(device["version"]) + 1, ":was": device["version"]}}}
    link = {"Update": {"Key": schema.operation_key(device_id, operation_id), "UpdateExpression": "ADD bulk_links :b",
                       "ConditionExpression": "#s IN (:queued, :dispatched)",
                       "ExpressionAttributeNames": {"#s": "state"},
                       "ExpressionAttributeValues": {":b": {bulk_id}, ":queued": UNFINISHED[0],
                                                     ":dispatched": UNFINISHED[1]}}}
    dynamo.transact([bump, link, targets.leave_pending(bulk_id, device_id, standing["state"], now, operation_id)])


def _current_state(bulk_id: int, device_id: int) -> str | None:
    item = dynamo.get(schema.bulk_target_key(bulk_id, device_id), consistent=True)
    return item["state"] if item else None
