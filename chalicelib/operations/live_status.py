"""Live status (`update_status=true`): ask the driver about each device within the request's budget.

Devices are probed concurrently; a device that has not answered when the budget is spent keeps its
stored status, so the response always comes back in time. A changed status is stored (with its
counters and an audit entry) so that lists and counts agree with what was just shown.
"""
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial

from chalicelib import clock
from chalicelib.devices import db as devices_db
from chalicelib.observability import logger

BUDGET_SECONDS = 3.0
# Part of the budget kept for storing the statuses that changed.
WRITE_RESERVE_SECONDS = 0.5
MAX_THREADS = 32


def run_concurrently(calls: list[Callable[[], object]], budget: float) -> dict[int, object]:
    """Run the calls in threads; {index: result, or the exception raised} of those finished within `budget`
    seconds. The others are abandoned, not waited for (also used by diagnostics' health checks)."""
    if not calls:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(calls)))
    futures = {pool.submit(call): index for index, call in enumerate(calls)}
    done, _ = wait(futures, timeout=max(0.0, budget))
    pool.shutdown(wait=False, cancel_futures=True)
    return {futures[future]: future.exception() or future.result() for future in done}


def refresh(items: list[dict], budget: float = BUDGET_SECONDS) -> list[dict]:
    """The items with fresh statuses where the driver answered in time."""
    from chalicelib.drivers import get_driver
    from chalicelib.drivers.errors import DriverError
    from chalicelib.drivers.protocol import DeviceRef

    if not items:
        return items
    started = time.monotonic()
    probe_budget = max(0.1, budget - WRITE_RESERVE_SECONDS)
    driver = get_driver()
    answers = run_concurrently([partial(_probe, driver, DeviceRef.from_item(item), probe_budget) for item in items],
                               probe_budget)
    fresh = list(items)
    late = len(items) - len(answers)
    for index, online in answers.items():
        if isinstance(online, DriverError):
            continue
        if isinstance(online, BaseException):
            raise online
        if online is None:
            late += 1
            continue
        status = "Up" if online else "Down"
        if status != items[index].get("status") and time.monotonic() - started < budget:
            fresh[index] = _store_status(items[index], status)
    if late:
        logger.info("live status: devices kept their stored status", extra={"late": late})
    return fresh


def _probe(driver, device, timeout: float) -> bool | None:
    """The driver's answer, or None when it gave up waiting. A probe answers False both for "offline" and
    for "no answer within the timeout", and only the first may turn a device Down (API.md §3); which one
    it was would otherwise depend on whether the probe or the wait for it ran out first."""
    started = time.monotonic()
    online = driver.probe(device, timeout)
    if not online and time.monotonic() - started >= timeout:
        return None
    return online


def _store_status(item: dict, status: str) -> dict:
    now = clock.iso(clock.now())
    record = {k: v for k, v in item.items() if k not in devices_db.KEY_ATTRIBUTES and k != "entity"}
    record |= {"status": status, "status_change": now, "version": int(item["version"]) + 1}
    if status == "Up":
        record["last_connection"] = now
    try:
        devices_db.replace(item, record, {"status": {"old": item.get("status"), "new": status}}, None)
    except devices_db.VersionChanged:
        return item    # written meanwhile: show what is stored rather than overwrite it
    return {**item, **record}
