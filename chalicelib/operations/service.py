"""Operation use cases at the API: plan from a PATCH, queue, read, cancel. The agent's step is dispatch.py."""
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib import clock
from chalicelib.devices.lookup import get_visible
from chalicelib.errors import BadRequest, Conflict, NotFound, ValidationFailed, field_problem
from chalicelib.firmware import db as firmware_db
from chalicelib.firmware.service import require_compatible
from chalicelib.observability import OPERATIONS_REQUESTED, OPERATIONS_SEND_DEFERRED, metrics
from chalicelib.operations import db, dispatch, queue
from chalicelib.operations.models import QUEUE_ORDER, UNFINISHED
from chalicelib.store.dynamo import plain
from chalicelib.tokens.models import Principal

FLAGS = ("reboot", "factory", "device_factory", "sync", "reconf")


@dataclass
class OperationPlan:
    """What a request for operations adds to the device write that carries it (the caller applies it).

    `operation_ids`: the new operations, to send once the write committed; `actions`: the transaction items
    that create them (operation items, audit entries); `device_fields`: what the device record takes
    (pending_operations, pending_settings, last_operation_id, firmware_image_is_pending); `standing`: by
    operation name, the unfinished operation of that kind that stands instead of a new one (API.md §3).
    """
    operation_ids: list[int] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    device_fields: dict = field(default_factory=dict)
    standing: dict[str, dict] = field(default_factory=dict)


def plan_operations(principal: Principal, record: dict, requested: dict, now: datetime) -> OperationPlan:
    """The operations a PATCH asks for, on `record` (the device as the PATCH leaves it).

    `requested` holds the PATCH's flags: reboot/factory/device_factory/sync/reconf (true queues one),
    debug (a value: queues one either way) and firmware_image_is_pending (true queues a firmware update
    to record["firmware_image"]).

    Raises:
        Forbidden: the token lacks devices:operate.
        BadRequest: contradictory flags.
        ValidationFailed: no firmware image to update to, or one that does not fit the device.
    """
    wanted = {name: {} for name in FLAGS if requested.get(name) is True}
    if "debug" in requested:
        wanted["debug"] = {"enabled": bool(requested["debug"])}
    firmware = requested.get("firmware_image_is_pending") is True
    if not wanted and not firmware:
        return OperationPlan()
    # Permission first: a token that may not operate learns nothing about the firmware catalogue.
    principal.require("devices:operate")
    if "factory" in wanted and "device_factory" in wanted:
        raise BadRequest("factory and device_factory cannot be requested together.", code="CONTRADICTORY_FLAGS",
                         details=[field_problem("device_factory", "contradicts factory")])
    if firmware:
        wanted["firmware_update"] = _firmware_parameters(record)
    return plan(record, wanted, principal.actor(), now)


def plan(record: dict, wanted: dict[str, dict], actor: dict, now: datetime,
         bulk_operation_id: int | None = None) -> OperationPlan:
    """Operations `wanted` ({name: parameters}) on the device `record`, in QUEUE_ORDER; an operation of the
    same kind already queued or dispatched stands instead of a new one (for debug and firmware_update,
    only with the same parameters). `record` is not changed."""
    pending = dict(plain(record.get("pending_operations") or {}))
    last = int(record.get("last_operation_id") or 0)
    result = OperationPlan()
    for name in QUEUE_ORDER:
        if name not in wanted:
            continue
        standing = _standing(pending, name, wanted[name], record)
        if standing is not None:
            result.standing[name] = standing
            continue
        last += 1
        item = db.new_operation(record, last, name, wanted[name], actor, now, bulk_operation_id)
        pending[str(last)] = {"id": last, "operation": name, "state": "queued", "created": item["created"]}
        changes = {"operation": {"old": None, "new": name}, "operation_id": {"old": None, "new": last}}
        if bulk_operation_id is not None:
            changes["bulk_operation_id"] = {"old": None, "new": bulk_operation_id}
        result.actions += [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                           db.audit_put(record, "operation_requested", changes, actor, now)]
        result.operation_ids.append(last)
    if result.operation_ids:
        result.device_fields = {"pending_operations": pending, "pending_settings": db.pending_summary(pending)[0],
                                "last_operation_id": last}
    if "firmware_update" in wanted:
        result.device_fields["firmware_image_is_pending"] = True
    return result


def _firmware_parameters(record: dict) -> dict:
    image_id = record.get("firmware_image")
    if image_id is None:
        raise ValidationFailed("A firmware update needs firmware_image.",
                               details=[field_problem("firmware_image", "required with firmware_image_is_pending")])
    require_compatible(int(image_id), int(record["type"]))
    return firmware_parameters(firmware_db.get(int(image_id)))


def firmware_parameters(image) -> dict:
    """A firmware_update's parameters: what the agent sends the device (the image's id, version, URL, checksum)."""
    return {"firmware_image": image.id, "version": image.version, "url": image.url, "checksum": image.checksum}


def _standing(pending: dict, name: str, parameters: dict, record: dict) -> dict | None:
    for entry in pending.values():
        if entry["operation"] == name and entry["state"] in UNFINISHED:
            if name in ("debug", "firmware_update"):
                # A different value is a different request: debug off after debug on must still run.
                existing = db.get(int(record["id"]), int(entry["id"]))
                if existing is None or plain(existing["parameters"]) != parameters:
                    continue
            return entry
    return None


def enqueue(device_id: int, operation_ids: list[int]) -> None:
    """Send the operations a committed write queued to the agent (one SendMessageBatch).

    A message SQS does not take loses nothing: the operation stays queued with its outbox entry and the sweep
    sends it again (sweep.py); the request that wrote it has succeeded and says so.
    """
    if not operation_ids:
        return
    if refused := queue.send_operations([(device_id, operation_id) for operation_id in operation_ids]):
        metrics.add_metric(name=OPERATIONS_SEND_DEFERRED, unit="Count", value=len(refused))
    metrics.add_metric(name=OPERATIONS_REQUESTED, unit="Count", value=len(operation_ids))


def list_operations(principal: Principal, device_id: int, limit: int, offset: int,
                    after: str | None) -> tuple[list[dict], bool, int, str | None]:
    principal.require("devices:read")
    device = get_visible(principal, device_id)
    items, more = db.read_page(device_id, limit, offset, after)
    last = items[-1]["SK"] if items else None
    # Operations are numbered per device and only ever removed with it: the last number is the count.
    return [db.to_view(i) for i in items], more, int(device.get("last_operation_id") or 0), last


def get_operation(principal: Principal, device_id: int, operation_id: int) -> dict:
    """Raises: NotFound for an unknown or invisible device or operation."""
    principal.require("devices:read")
    get_visible(principal, device_id)
    item = db.get(device_id, operation_id)
    if item is None:
        raise NotFound(f"No operation {operation_id} on device {device_id}.", code="OPERATION_NOT_FOUND")
    return db.to_view(item)


def cancel_operation(principal: Principal, device_id: int, operation_id: int) -> dict:
    """Cancel a queued operation. Raises: NotFound; Conflict when it is no longer queued."""
    principal.require("devices:operate")
    get_visible(principal, device_id)
    state = cancel_queued(device_id, operation_id, principal.actor())
    if state is None:
        raise NotFound(f"No operation {operation_id} on device {device_id}.", code="OPERATION_NOT_FOUND")
    if state != "cancelled":
        raise Conflict(f"Operation {operation_id} is {state}; only a queued operation can be cancelled.",
                       code="OPERATION_NOT_CANCELLABLE")
    return db.to_view(db.get(device_id, operation_id, consistent=True))


def cancel_queued(device_id: int, operation_id: int, actor: dict | None,
                  bulk_operation_id: int | None = None) -> str | None:
    """Cancel the operation if it is queued (and, given `bulk_operation_id`, was requested by that bulk operation);
    its state afterwards (None: no such operation or device).

    Raises:
        Conflict: WRITE_CONFLICT when its device kept changing.
    """
    for _ in range(5):
        device, item = db.device(device_id), db.get(device_id, operation_id, consistent=True)
        if item is None or device is None:
            return None
        requested_by_other = bulk_operation_id is not None and item.get("bulk_operation_id") != bulk_operation_id
        if item["state"] != "queued" or requested_by_other:
            return item["state"]
        try:
            dispatch.finish(device, item, "cancelled", None, {}, actor, clock.now())
            return "cancelled"
        except db.StateChanged:
            continue
    raise Conflict("The operation kept changing; try again.", code="WRITE_CONFLICT")


def unfinished_dispatched(device: dict) -> bool:
    return any(e["state"] == "dispatched" for e in (device.get("pending_operations") or {}).values())
