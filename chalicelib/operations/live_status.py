"""Live status (`update_status=true`): ask the driver about each device within the request's budget.

Devices are probed concurrently; a device that has not answered when the budget is spent keeps its
stored status, so the response always comes back in time. A changed status is stored (with its
counters and an audit entry) so that lists and counts agree with what was just shown.
"""
import time
from concurrent.futures import ThreadPoolExecutor, wait

from chalicelib import clock
from chalicelib.devices import db as devices_db
from chalicelib.observability import logger

BUDGET_SECONDS = 3.0
# Part of the budget kept for storing the statuses that changed.
WRITE_RESERVE_SECONDS = 0.5


def refresh(items: list[dict], budget: float = BUDGET_SECONDS) -> list[dict]:
    """The items with fresh statuses where the driver answered in time."""
    from chalicelib.operations.drivers import DeviceRef, DriverError, get_driver

    if not items:
        return items
    started = time.monotonic()
    probe_budget = max(0.1, budget - WRITE_RESERVE_SECONDS)
    driver = get_driver()
    pool = ThreadPoolExecutor(max_workers=min(32, len(items)))
    futures = {pool.submit(_probe, driver, DeviceRef.from_item(item), probe_budget): index
               for index, item in enumerate(items)}
    done, late = wait(futures, timeout=probe_budget)
    pool.shutdown(wait=False, cancel_futures=True)   # late probes are abandoned, not waited for
    fresh = list(items)
    for future in done:
        index = futures[future]
        try:
            online = future.result()
        except DriverError:
            continue
        if online is None:
            late.add(future)
            continue
        status = "Up" if online else "Down"
        if status != items[index].get("status") and time.monotonic() - started < budget:
            fresh[index] = _store_status(items[index], status)
    if late:
        logger.info("live status: devices kept their stored status", extra={"late": len(late)})
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
