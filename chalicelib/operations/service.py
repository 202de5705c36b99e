"""Operation use cases: plan from a PATCH, read, cancel, and advance (the agent's step) to an outcome."""
from datetime import datetime

from chalicelib import clock
from chalicelib.errors import BadRequest, Conflict, FleetlineError, NotFound, ValidationFailed, field_problem
from chalicelib.firmware import db as firmware_db
from chalicelib.firmware.service import require_compatible
from chalicelib.observability import logger, metrics
from chalicelib.operations import db, queue
from chalicelib.operations.models import DESTRUCTIVE, FINISHED, MAX_ATTEMPTS, QUEUE_ORDER, UNFINISHED
from chalicelib.store.dynamo import plain
from chalicelib.tokens.models import Principal

FLAGS = ("reboot", "factory", "device_factory", "sync", "reconf")


class RetryLater(Exception):
    """A transient failure: the message comes back after `delay` seconds."""

    def __init__(self, delay: int):
        super().__init__(f"retry in {delay} s")
        self.delay = delay


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
            _conclude(device, item, "failed", _error("QUEUE_UNAVAILABLE", "The operation could not be sent to the "
                                                     "agent.", item), {})


def list_operations(principal: Principal, device_id: int, limit: int, offset: int,
                    after: str | None) -> tuple[list[dict], bool, int, str | None]:
    from chalicelib.devices.service import get_visible
    principal.require("devices:read")
    get_visible(principal, device_id)
    items, more = db.read_page(device_id, limit, offset, after)
    last = items[-1]["SK"] if items else None
    return [db.to_view(i) for i in items], more, db.count(device_id), last


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
            _finish(device, item, "cancelled", None, {}, principal.actor(), clock.now())
            return db.to_view(db.get(device_id, operation_id, consistent=True))
        except db.StateChanged:
            continue
    raise Conflict("The operation kept changing; try again.", code="WRITE_CONFLICT")


def unfinished_dispatched(device: dict) -> bool:
    return any(e["state"] == "dispatched" for e in (device.get("pending_operations") or {}).values())


# --- the agent's step -------------------------------------------------------------------------------

def advance(device_id: int, operation_id: int, receive_count: int = 1) -> str:
    """Carry one operation one step further; returns its state afterwards.

    Safe under duplicate delivery: every transition is conditional on the state it leaves, and a
    destructive operation found already dispatched is never sent again.

    Raises:
        RetryLater: a transient failure of a retryable operation, or a device that kept changing while the
            operation was being dispatched (the message should come back).
        LookupError: the message names an operation that does not exist on an existing device.
    """
    from chalicelib.config import get_settings
    from chalicelib.operations.drivers import DeviceFault, DeviceRef, DeviceUnreachable, OutcomeUncertain, get_driver

    device = db.device(device_id)
    if device is None:
        return "gone"          # the device was deleted, and its operations with it (or are being swept)
    item = db.get(device_id, operation_id, consistent=True)
    if item is None:
        raise LookupError(f"device {device_id} has no operation {operation_id}")
    if item["state"] in FINISHED:
        return item["state"]   # a duplicate delivery
    now = clock.now()
    name = item["operation"]
    if clock.iso(now) > item["deadline"]:
        return _conclude(device, item, "timed_out", _error("DEADLINE_EXCEEDED", "Not finished within its deadline.",
                                                           item), {})
    if item["state"] == "dispatched" and name in DESTRUCTIVE:
        return _conclude(device, item, "failed", _error(
            "UNCERTAIN_OUTCOME", f"The {name} may have reached the device before the agent stopped; "
            "it is not sent twice.", item), {})
    attempt = int(item["attempts"]) + 1
    try:
        item, device = _move(device, item, "dispatched", attempts=attempt)
    except db.StateChanged:
        return "skipped"       # another delivery of the same message got there first
    logger.info("dispatching operation", extra={"device_id": device_id, "operation_id": operation_id,
                                                "operation": name, "attempt": attempt})
    try:
        facts = get_driver().execute(DeviceRef.from_item(device), name, plain(item["parameters"]),
                                     timeout=get_settings().driver_timeout_seconds)
    except DeviceFault as fault:
        return _conclude(device, item, "failed", _error(fault.code, fault.message, item), {})
    except OutcomeUncertain as uncertain:
        if name in DESTRUCTIVE or _last_try(attempt, receive_count):
            state = "timed_out" if uncertain.code == "TIMEOUT" else "failed"
            return _conclude(device, item, state, _error(uncertain.code, uncertain.message, item), {})
        return _retry(device, item, uncertain)
    except DeviceUnreachable as unreachable:
        if _last_try(attempt, receive_count):
            return _conclude(device, item, "failed", _error(unreachable.code, unreachable.message, item), {})
        return _retry(device, item, unreachable)
    return _conclude(device, item, "succeeded", None, facts or {})


def _last_try(attempt: int, receive_count: int) -> bool:
    """No retry left: the attempts are spent, or this is the message's last receive before the dead-letter
    queue, where nothing would ever finish the operation. Receives outrun attempts when a device's earlier
    operation failed and its later messages were handed back unattempted."""
    return attempt >= MAX_ATTEMPTS or receive_count >= queue.MAX_RECEIVES


def _retry(device: dict, item: dict, error) -> str:
    """Back to queued (the device never got it, or may redo it harmlessly) and come back later."""
    _move(device, item, "queued", error=_error(error.code, error.message, item))
    raise RetryLater(delay=min(900, 5 * 2 ** int(item["attempts"])))


def _error(code: str, message: str, item: dict) -> dict:
    return {"code": str(code), "message": message, "attempt": int(item["attempts"])}


def _move(device: dict, item: dict, state: str, **fields) -> tuple[dict, dict]:
    """Move the operation to `state` with its device's pending map; (operation, device) as now stored."""
    for _ in range(5):
        pending = dict(plain(device.get("pending_operations") or {}))
        entry = pending.get(str(int(item["id"])))
        if entry is not None:
            pending[str(int(item["id"]))] = {**entry, "state": state}
        now = clock.now()
        try:
            db.transact([db.operation_update(item, state, now, **fields), db.device_update(device, pending, now)])
            # What was just written, so the caller needs no read-back (two requests per operation).
            settings, _ = db.pending_summary(pending)
            return ({**item, "state": state, "updated": clock.iso(now), **fields},
                    {**device, "pending_operations": pending, "pending_settings": settings,
                     "version": int(device["version"]) + 1})
        except db.StateChanged:
            fresh = db.get(int(item["device_id"]), int(item["id"]), consistent=True)
            if fresh is None or fresh["state"] != item["state"]:
                raise
            device = db.device(int(item["device_id"]))   # only the device moved on: try again
            if device is None:
                raise
    # The operation is where we found it but the device kept changing: come back soon rather than let the
    # caller take this for another delivery's work and drop the message.
    raise RetryLater(delay=5)


def _conclude(device: dict, item: dict, state: str, error: dict | None, facts: dict) -> str:
    for _ in range(5):
        try:
            _finish(device, item, state, error, facts, None, clock.now())
            metrics.add_metric(name=f"Operations{state.title().replace('_', '')}", unit="Count", value=1)
            return state
        except db.StateChanged:
            fresh = db.get(int(item["device_id"]), int(item["id"]), consistent=True)
            device = db.device(int(item["device_id"]))
            if fresh is None or device is None or fresh["state"] != item["state"]:
                return fresh["state"] if fresh else "gone"
    raise db.StateChanged()


def _finish(device: dict, item: dict, state: str, error: dict | None, facts: dict, actor: dict | None,
            now: datetime) -> None:
    pending = dict(plain(device.get("pending_operations") or {}))
    pending.pop(str(int(item["id"])), None)
    follow = _device_fields_after(item, state, facts, now)
    changes = {"operation": {"old": None, "new": item["operation"]}, "operation_id": {"old": None,
                                                                                     "new": int(item["id"])},
               "state": {"old": item["state"], "new": state}}
    changes |= {k: {"old": plain(device.get(k)), "new": v} for k, v in follow.items() if plain(device.get(k)) != v}
    db.transact([db.operation_update(item, state, now, error=error),
                 db.device_update(device, pending, now, **follow),
                 db.audit_put(device, "operation_finished", changes, actor, now)])


def _device_fields_after(item: dict, state: str, facts: dict, now: datetime) -> dict:
    """What the device's record learns from a finished operation (API.md §3)."""
    name, parameters, stamp = item["operation"], plain(item["parameters"]), clock.iso(now)
    if name == "firmware_update":
        if state != "succeeded":
            return {"firmware_image_is_pending": False}
        return {"firmware_image_is_pending": False, "firmware_image": parameters["firmware_image"],
                "software_version": facts.get("software_version", parameters["version"]), "last_connection": stamp}
    if state != "succeeded":
        return {}
    follow = {"last_connection": stamp}
    if name in ("reconf", "sync"):
        follow["last_configuration"] = stamp
    if name == "debug":
        follow["debug"] = bool(parameters["enabled"])
    return follow


def sweep_overdue(now: datetime | None = None) -> int:
    """Time out unfinished operations past their deadline; returns how many."""
    count = 0
    for entry in db.overdue(now or clock.now()):
        device = db.device(int(entry["device_id"]))
        if device is not None and entry["state"] in UNFINISHED:
            state = _conclude(device, entry, "timed_out",
                              _error("DEADLINE_EXCEEDED", "Not finished within its deadline.", entry), {})
            count += state == "timed_out"
    return count
