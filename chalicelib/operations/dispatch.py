"""The agent's step: carry one operation through the driver to an outcome (docs/operations.md).

Every transition is one transaction conditional on the state it leaves and on the device's version, so
a duplicate delivery finds the operation moved on and does nothing.
"""
from datetime import datetime

from chalicelib import clock
from chalicelib.observability import logger, metrics
from chalicelib.operations import db, queue, transitions
from chalicelib.operations.models import DESTRUCTIVE, FINISHED, MAX_ATTEMPTS
from chalicelib.store.dynamo import plain

# Never sent twice once the device may have received them: the resets, and a firmware update (a second
# Download would flash the device twice).
NEVER_RESENT = DESTRUCTIVE | {"firmware_update"}


class RetryLater(Exception):
    """A transient failure: the message comes back after `delay` seconds."""

    def __init__(self, delay: int):
        super().__init__(f"retry in {delay} s")
        self.delay = delay


def advance(device_id: int, operation_id: int, receive_count: int = 1, halted: frozenset[int] = frozenset()) -> str:
    """Carry one operation one step further; returns its state afterwards.

    Safe under duplicate delivery: every transition is conditional on the state it leaves, and a
    destructive operation found already dispatched is never sent again. A queued operation of a bulk operation
    in `halted` (cancelled or aborted) is cancelled instead of sent.

    Raises:
        RetryLater: a transient failure of a retryable operation, or a device that kept changing while the
            operation was being dispatched (the message should come back).
        LookupError: the message names an operation that does not exist on an existing device.
    """
    from chalicelib.config import get_settings
    from chalicelib.drivers import get_driver
    from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, OutcomeUncertain
    from chalicelib.drivers.protocol import DeviceRef

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
    if item["state"] == "queued" and item.get("bulk_operation_id") is not None and \
            int(item["bulk_operation_id"]) in halted:
        return conclude(device, item, "cancelled", None, {})   # its bulk operation was cancelled or aborted
    if item["state"] == "dispatched" and item.get("settlement"):
        return settle(device, item, receive_count)   # the driver left it uncertain: ask it again (below)
    if clock.iso(now) > item["deadline"]:
        return conclude(device, item, "timed_out", failure("DEADLINE_EXCEEDED", "Not finished within its deadline.",
                                                           item), {})
    if item["state"] == "dispatched" and name in NEVER_RESENT:
        return conclude(device, item, "failed", failure(
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
                                     timeout=get_settings().driver_timeout_seconds,
                                     operation_id=int(item["id"]), deadline=clock.parse_iso(item["deadline"]))
    except DeviceFault as fault:
        return conclude(device, item, "failed", failure(fault.code, fault.message, item), {})
    except OutcomeUncertain as uncertain:
        if uncertain.pending is not None:   # the driver can look again later: nothing is re-sent meanwhile
            return await_settlement(device, item, uncertain.pending, receive_count)
        if name in NEVER_RESENT or _last_try(attempt, receive_count):
            state = "timed_out" if uncertain.code == "TIMEOUT" else "failed"
            return conclude(device, item, state, failure(uncertain.code, uncertain.message, item), {})
        return _retry(device, item, uncertain)
    except DeviceUnreachable as unreachable:
        if _last_try(attempt, receive_count):
            return conclude(device, item, "failed", failure(unreachable.code, unreachable.message, item), {})
        return _retry(device, item, unreachable)
    return conclude(device, item, "succeeded", None, facts or {})


def _last_try(attempt: int, receive_count: int) -> bool:
    """No retry left: the attempts are spent, or this is the message's last receive before the dead-letter
    queue, where nothing would ever finish the operation. Receives outrun attempts when a device's earlier
    operation failed and its later messages were handed back unattempted."""
    return attempt >= MAX_ATTEMPTS or receive_count >= queue.MAX_RECEIVES


def _retry(device: dict, item: dict, error, **fields) -> str:
    """Back to queued (the device never got it, or may redo it harmlessly) and come back later."""
    _move(device, item, "queued", error=failure(error.code, error.message, item), **fields)
    raise RetryLater(delay=min(900, 5 * 2 ** int(item["attempts"])))


def failure(code: str, message: str, item: dict) -> dict:
    """An operation's `error`: {code, message, attempt} (API.md §3)."""
    return {"code": str(code), "message": message, "attempt": int(item["attempts"])}


def _move(device: dict, item: dict, state: str, **fields) -> tuple[dict, dict]:
    """Move the operation to `state` with its device's pending map; (operation, device) as now stored."""
    for _ in range(5):
        pending = dict(plain(device.get("pending_operations") or {}))
        entry = pending.get(str(int(item["id"])))
        if entry is not None:
            pending[str(int(item["id"]))] = {**entry, "state": state}
        now = clock.now()
        bulks = db.bulk_memberships(item)
        try:
            db.transact([db.operation_update(item, state, now, **fields), db.device_update(device, pending, now),
                         *(db.target_update(bulk, item, state, now) for bulk in bulks)])
            transitions.record(bulks, int(item["device_id"]), item["state"], state)
            # What was just written, so the caller needs no read-back (two requests per operation).
            settings, _ = db.pending_summary(pending)
            return ({**item, "state": state, "updated": clock.iso(now), **fields},
                    {**device, "pending_operations": pending, "pending_settings": settings,
                     "version": int(device["version"]) + 1})
        except db.StateChanged:
            fresh = db.get(int(item["device_id"]), int(item["id"]), consistent=True)
            if fresh is None or fresh["state"] != item["state"]:
                raise
            # Only the device moved on (a write, or a bulk operation linking this operation): try again with both
            # as they are now.
            item, device = fresh, db.device(int(item["device_id"]))
            if device is None:
                raise
    # The operation is where we found it but the device kept changing: come back soon rather than let the
    # caller take this for another delivery's work and drop the message.
    raise RetryLater(delay=5)


def conclude(device: dict, item: dict, state: str, error: dict | None, facts: dict) -> str:
    for _ in range(5):
        try:
            finish(device, item, state, error, facts, None, clock.now())
            metrics.add_metric(name=f"Operations{state.title().replace('_', '')}", unit="Count", value=1)
            return state
        except db.StateChanged:
            fresh = db.get(int(item["device_id"]), int(item["id"]), consistent=True)
            device = db.device(int(item["device_id"]))
            if fresh is None or device is None or fresh["state"] != item["state"]:
                return fresh["state"] if fresh else "gone"
            item = fresh
    raise db.StateChanged()


def finish(device: dict, item: dict, state: str, error: dict | None, facts: dict, actor: dict | None,
            now: datetime) -> None:
    pending = dict(plain(device.get("pending_operations") or {}))
    pending.pop(str(int(item["id"])), None)
    follow = _device_fields_after(item, state, facts, now)
    changes = {"operation": {"old": None, "new": item["operation"]}, "operation_id": {"old": None,
                                                                                     "new": int(item["id"])},
               "state": {"old": item["state"], "new": state}}
    changes |= {k: {"old": plain(device.get(k)), "new": v} for k, v in follow.items() if plain(device.get(k)) != v}
    bulks = db.bulk_memberships(item)
    db.transact([db.operation_update(item, state, now, error=error),
                 db.device_update(device, pending, now, **follow),
                 db.audit_put(device, "operation_finished", changes, actor, now),
                 *(db.target_update(bulk, item, state, now, error) for bulk in bulks)])
    transitions.record(bulks, int(item["device_id"]), item["state"], state)


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


# --- Settling what a driver left uncertain (issue 15) ---------------------------------------------------
# A driver that cannot tell at once what became of an operation (a task the ACS only queued, a session still
# running, a firmware download accepted but not yet confirmed) raises OutcomeUncertain with `pending`: a small
# handle it can look at again (chalicelib/drivers/errors.py). The operation stays `dispatched` with the
# handle in `settlement`, and its message comes back (RetryLater) to ask the driver again, the looks spread
# over the time left to the deadline; the device's later operations wait behind it (FIFO order). Nothing is
# sent again while the outcome is uncertain. What is still open at the deadline, the sweep settles for good.

# Seconds between two looks: at least long enough for GenieACS to have stored a task whose POST was still
# waiting for the device's session lock (30 s), at most the backoff ceiling of _retry.
SETTLE_DELAY_SECONDS = (40, 900)


def await_settlement(device: dict, item: dict, pending: dict, receive_count: int) -> str:
    """Keep the operation dispatched with the driver's handle; its message comes back to settle it."""
    item = {**item, "settlement": pending}
    if receive_count >= queue.MAX_RECEIVES:   # the message will not come back: settle it now, for good
        return settle(device, item, receive_count, final=True)
    try:
        db.transact([db.operation_update(item, "dispatched", clock.now(), settlement=pending)])
    except db.StateChanged:
        fresh = db.get(int(item["device_id"]), int(item["id"]), consistent=True)
        return fresh["state"] if fresh else "gone"
    left = (clock.parse_iso(item["deadline"]) - clock.now()).total_seconds()
    looks = max(1, queue.MAX_RECEIVES - receive_count)
    raise RetryLater(delay=int(min(SETTLE_DELAY_SECONDS[1], max(SETTLE_DELAY_SECONDS[0], left / looks))))


def settle(device: dict, item: dict, receive_count: int = 1, final: bool = False) -> str:
    """Ask the driver what became of a dispatched operation it left uncertain; conclude it once it can tell.

    `final` (also past the deadline, or on the message's last receive): whatever is still unknown is concluded.

    Raises:
        RetryLater: still uncertain (look again later), or it never ran and may be sent again.
    """
    from chalicelib.config import get_settings
    from chalicelib.drivers import get_driver
    from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, OutcomeUncertain
    from chalicelib.drivers.protocol import DeviceRef

    late = clock.iso(clock.now()) > item["deadline"]
    final = final or late or receive_count >= queue.MAX_RECEIVES
    try:
        facts = get_driver().settle(DeviceRef.from_item(device), item["operation"], plain(item["parameters"]),
                                    plain(item["settlement"]), timeout=get_settings().driver_timeout_seconds,
                                    final=final)
    except DeviceFault as fault:
        return conclude(device, item, "failed", failure(fault.code, fault.message, item), {})
    except DeviceUnreachable as never_ran:   # withdrawn before it ran: it may be sent again, time permitting
        if final or _last_try(int(item["attempts"]), receive_count):
            return conclude(device, item, "timed_out" if late else "failed",
                            failure(never_ran.code, never_ran.message, item), {})
        return _retry(device, item, never_ran, settlement=None)
    except OutcomeUncertain as uncertain:
        if uncertain.pending is not None and not final:
            return await_settlement(device, item, uncertain.pending, receive_count)
        return conclude(device, item, "timed_out" if late else "failed",
                        failure(uncertain.code, uncertain.message, item), {})
    return conclude(device, item, "succeeded", None, facts or {})
