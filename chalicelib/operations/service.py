"""Operation use cases at the API: plan from a PATCH, queue, read, cancel. The agent's step is dispatch.py."""
from datetime import datetime

from chalicelib import clock
from chalicelib.errors import BadRequest, Conflict, FleetlineError, NotFound, ValidationFailed, field_problem
from chalicelib.firmware import db as firmware_db
from chalicelib.firmware.service import require_compatible
from chalicelib.observability import logger, metrics
from chalicelib.operations import db, dispatch, queue
from chalicelib.operations.models import QUEUE_ORDER, UNFINISHED
from chalicelib.store.dynamo import plain
from chalicelib.tokens.models import Principal

FLAGS = ("reboot", "factory", "device_factory", "sync", "reconf")


def plan_operations(principal: Principal, record: dict, requested: dict, now: datetime) -> tuple[list[int], list]:
    """Add the operations a PATCH asks for to `record` (the device being written).

    `requested` holds the PATCH's flags: reboot/factory/device_factory/sync/reconf (true queues one),
    debug (a value: queues one either way) and firmware_image_is_pending (true queues a firmware update
    to record["firmware_image"]). An operation of the same kind already queued or dispatched stands
    instead of a new one (API.md §3). Returns the new operation ids and the transaction items to add.

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
        return [], []
    # Permission first: a token that may not operate learns nothing about the firmware catalogue.
    principal.require("devices:operate")
    if "factory" in wanted and "device_factory" in wanted:
        raise BadRequest("factory and device_factory cannot be requested together.", code="CONTRADICTORY_FLAGS",
                         details=[field_problem("device_factory", "contradicts factory")])
    if firmware:
        wanted["firmware_update"] = _firmware_parameters(record)
    pending = dict(plain(record.get("pending_operations") or {}))
    new_ids, actions = [], []
    for name in QUEUE_ORDER:
        if name not in wanted or _already_pending(pending, name, wanted[name], record):
            continue
        operation_id = int(record.get("last_operation_id") or 0) + 1
        record["last_operation_id"] = operation_id
        item = db.new_operation(record, operation_id, name, wanted[name], principal.actor(), now)
        pending[str(operation_id)] = {"id": operation_id, "operation": name, "state": "queued",
                                      "created": item["created"]}
        actions += [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                    db.audit_put(record, "operation_requested",
                                 {"operation": {"old": None, "new": name}, "operation_id": {"old": None,
                                                                                          "new": operation_id}},
                                 principal.actor(), now)]
        new_ids.append(operation_id)
    record["pending_operations"] = pending
    record["pending_settings"], _ = db.pending_summary(pending)
    if "firmware_update" in wanted:
        record["firmware_image_is_pending"] = True
    return new_ids, actions


def _firmware_parameters(record: dict) -> dict:
    image_id = record.get("firmware_image")
    if image_id is None:
        raise ValidationFailed("A firmware update needs firmware_image.",
                               details=[field_problem("firmware_image", "required with firmware_image_is_pending")])
    require_compatible(int(image_id), int(record["type"]))
    image = firmware_db.get(int(image_id))
    return {"firmware_image": image.id, "version": image.version, "url": image.url, "checksum": image.checksum}


def _already_pending(pending: dict, name: str, parameters: dict, record: dict) -> bool:
    for entry in pending.values():
        if entry["operation"] == name and entry["state"] in UNFINISHED:
            if name in ("debug", "firmware_update"):
                # A different value is a different request: debug off after debug on must still run.
                existing = db.get(int(record["id"]), int(entry["id"]))
                if existing is None or plain(existing["parameters"]) != parameters:
                    continue
            return True
    return False


def enqueue(device_id: int, operation_ids: list[int]) -> None:
    """Send the operations a committed PATCH queued to the agent.

    Raises:
        FleetlineError: QUEUE_UNAVAILABLE when SQS refused a message (after botocore's own retries). The
            operations not sent are failed first: left queued they would never run, and a retried PATCH
            would coalesce onto them instead of queueing anew.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    for index, operation_id in enumerate(operation_ids):
        try:
            queue.send_operation(device_id, operation_id)
        except (BotoCoreError, ClientError):
            logger.exception("operation not queued", extra={"device_id": device_id, "operation_id": operation_id})
            _abandon(device_id, operation_ids[index:])
            raise FleetlineError("The operation could not be queued and is marked failed; request it again.",
                                 code="QUEUE_UNAVAILABLE") from None
    if operation_ids:
        metrics.add_metric(name="OperationsRequested", unit="Count", value=len(operation_ids))


def _abandon(device_id: int, operation_ids: list[int]) -> None:
    for operation_id in operation_ids:
        item, device = db.get(device_id, operation_id, consistent=True), db.device(device_id)
        if item is not None and device is not None and item["state"] == "queued":
            reason = dispatch.failure("QUEUE_UNAVAILABLE", "The operation could not be sent to the agent.", item)
            dispatch.conclude(device, item, "failed", reason, {})


def list_operations(principal: Principal, device_id: int, limit: int, offset: int,
                    after: str | None) -> tuple[list[dict], bool, int, str | None]:
    from chalicelib.devices.service import get_visible
    principal.require("devices:read")
    device = get_visible(principal, device_id)
    items, more = db.read_page(device_id, limit, offset, after)
    last = items[-1]["SK"] if items else None
    # Operations are numbered per device and only ever removed with it: the last number is the count.
    return [db.to_view(i) for i in items], more, int(device.get("last_operation_id") or 0), last


def get_operation(principal: Principal, device_id: int, operation_id: int) -> dict:
    """Raises: NotFound for an unknown or invisible device or operation."""
    from chalicelib.devices.service import get_visible
    principal.require("devices:read")
    get_visible(principal, device_id)
    item = db.get(device_id, operation_id)
    if item is None:
        raise NotFound(f"No operation {operation_id} on device {device_id}.", code="OPERATION_NOT_FOUND")
    return db.to_view(item)


def cancel_operation(principal: Principal, device_id: int, operation_id: int) -> dict:
    """Cancel a queued operation. Raises: NotFound; Conflict when it is no longer queued."""
    from chalicelib.devices.service import get_visible
    principal.require("devices:operate")
    for _ in range(5):
        device = get_visible(principal, device_id)
        item = db.get(device_id, operation_id, consistent=True)
        if item is None:
            raise NotFound(f"No operation {operation_id} on device {device_id}.", code="OPERATION_NOT_FOUND")
        if item["state"] != "queued":
            raise Conflict(f"Operation {operation_id} is {item['state']}; only a queued operation can be cancelled.",
                           code="OPERATION_NOT_CANCELLABLE")
        try:
            dispatch.finish(device, item, "cancelled", None, {}, principal.actor(), clock.now())
            return db.to_view(db.get(device_id, operation_id, consistent=True))
        except db.StateChanged:
            continue
    raise Conflict("The operation kept changing; try again.", code="WRITE_CONFLICT")


def unfinished_dispatched(device: dict) -> bool:
    return any(e["state"] == "dispatched" for e in (device.get("pending_operations") or {}).values())
