"""Running diagnostic helpers: for `update_status=true` within the request's budget, and on schedule.

Both run the helpers concurrently (operations.live_status.run_concurrently), store one `health_check`
entry per device that answered and move the device's next check one interval on. In a request, a device
that does not answer within the budget gets no entry (the response still comes back in time). The
scheduled check gives each device the driver's own timeout and records a silent device as `offline`.
"""
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from chalicelib import clock
from chalicelib.device_types import db as device_types_db
from chalicelib.devices import db as devices_db
from chalicelib.diagnostics import db, health
from chalicelib.drivers import get_driver
from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, OutcomeUncertain
from chalicelib.drivers.protocol import DeviceRef
from chalicelib.observability import HEALTH_CHECKS_LATE, HEALTH_CHECKS_RUN, logger, metrics
from chalicelib.operations.live_status import BUDGET_SECONDS, run_concurrently

# Of a request's budget: kept for reading the page after the checks, and for storing an entry.
READ_RESERVE_SECONDS = 0.5
WRITE_RESERVE_SECONDS = 0.5
SCHEDULED_BY = "scheduled health check"
# The scheduled check: devices per batch (all run at once), and how long a run may go on starting batches
# (a schedule Lambda has 60 s; a batch takes at most the driver timeout plus its writes).
BATCH_SIZE = 25
RUN_SECONDS = 40.0


def helper_of(device: dict) -> str:
    device_type = device_types_db.get_cached(int(device["type"]))
    return device_type.diagnostic_helper if device_type else health.GENERIC


def check(driver, device: dict, timeout: float, scheduled: bool) -> health.Outcome | None:
    """Run the device's helper; None when it did not answer in time and the caller records nothing."""
    helper = helper_of(device)
    try:
        return health.measured(helper, driver.diagnose(DeviceRef.from_item(device), helper, timeout))
    except DeviceUnreachable as error:
        return health.unreachable(helper, error.code, error.message)
    except DeviceFault as error:
        return health.faulted(helper, error.code, error.message)
    except OutcomeUncertain:
        return health.no_answer(helper, timeout) if scheduled else None


def store(device: dict, outcome: health.Outcome, performed_by: str, now: datetime) -> dict | None:
    """Write the entry of a check and move the device's next check; None when the device is gone."""
    due = db.next_check_due(device.get("update_frequency"), now)
    item = db.new_entry(device, {"diagnostic_type": "health_check", "status": outcome.status,
                                 "last_check": clock.iso(now), "details": outcome.details,
                                 "issues": outcome.issues, "performed_by": performed_by,
                                 "next_check_due": due}, now)
    return item if db.put_entry(item, schedule_next=due) else None


# --- update_status=true -----------------------------------------------------------------------------

def refresh(devices: list[dict | int], can_see: Callable[[int], bool], performed_by: str,
            budget: float = BUDGET_SECONDS) -> int:
    """Check devices (items, or ids read here) concurrently within `budget` seconds, less the time kept
    for reading the page after; returns how many entries were stored."""
    if not devices:
        return 0
    deadline = time.monotonic() + budget - READ_RESERVE_SECONDS
    timeout = max(0.1, budget - READ_RESERVE_SECONDS - WRITE_RESERVE_SECONDS)
    driver = get_driver()
    calls = [partial(_refresh_one, driver, device, can_see, timeout, deadline - WRITE_RESERVE_SECONDS, performed_by)
             for device in devices]
    results = run_concurrently(calls, deadline - time.monotonic())
    for result in results.values():
        if isinstance(result, BaseException):
            raise result
    stored = sum(1 for result in results.values() if isinstance(result, dict))
    late = len(devices) - len(results) + sum(1 for result in results.values() if result is False)
    _count(stored, late)
    return stored


def _refresh_one(driver, device: dict | int, can_see, timeout: float, write_by: float, performed_by: str):
    """The stored entry; False when the device did not answer in time; None when there is nothing to check."""
    if isinstance(device, int):
        device = devices_db.get(device)
        if device is None or not can_see(int(device["organization_id"])):
            return None
    outcome = check(driver, device, timeout, scheduled=False)
    # A helper that ran past the budget (a driver's timeout bounds each read, not their sum) writes nothing.
    if outcome is None or time.monotonic() > write_by:
        return False
    return store(device, outcome, performed_by, clock.now())


# --- the scheduled health check ---------------------------------------------------------------------

def run_due(now: datetime | None = None) -> int:
    """Check the devices whose next check is due, in batches, for at most RUN_SECONDS; returns how many."""
    from chalicelib.config import get_settings

    now = now or clock.now()
    started = time.monotonic()
    timeout = get_settings().driver_timeout_seconds
    driver = get_driver()
    checked, start = 0, None
    while time.monotonic() - started < RUN_SECONDS:
        due, start = db.due_states(clock.iso(now), BATCH_SIZE, start)
        calls = [partial(_scheduled_one, driver, int(state["device_id"]), timeout) for state in due]
        results = run_concurrently(calls, timeout + 2 * WRITE_RESERVE_SECONDS)
        for result in results.values():
            if isinstance(result, BaseException):
                logger.error("scheduled health check failed", exc_info=result)
        done = sum(1 for result in results.values() if result is True)
        checked += done
        _count(done, len(calls) - len(results))
        if start is None:
            break
    return checked


def _scheduled_one(driver, device_id: int, timeout: float) -> bool:
    device = devices_db.get(device_id)
    if device is None:
        db.forget_state(device_id)
        return False
    now = clock.now()
    if device.get("is_active") is False:
        # An inactive device is not expected to answer: no entry, and no check until the next interval.
        db.postpone(device_id, db.next_check_due(device.get("update_frequency"), now))
        return False
    outcome = check(driver, device, timeout, scheduled=True)
    return store(device, outcome, SCHEDULED_BY, clock.now()) is not None


def _count(run: int, late: int) -> None:
    if run:
        metrics.add_metric(name=HEALTH_CHECKS_RUN, unit="Count", value=run)
    if late:
        metrics.add_metric(name=HEALTH_CHECKS_LATE, unit="Count", value=late)
        logger.info("health checks without an answer in time", extra={"late": late})
