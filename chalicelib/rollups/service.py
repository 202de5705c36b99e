"""The rollups' entries: the schedule (every 2 minutes), POST /admin/rollups/, and the queue's consumer (worker.py).

The schedule does little: the audit pass (device changes to their lanes) and a tick to every lane. The lanes do the
work, in parallel, on the rollups queue. POST /admin/rollups/ does the same, then works as a consumer itself until
every lane has brought its figures to the request's time (API.md §9).
"""
import time
import uuid
from dataclasses import dataclass

from chalicelib import clock
from chalicelib.observability import ROLLUP_LAG, logger, metrics
from chalicelib.rollups import db, devices, lanes, unit, worker
from chalicelib.store import schema

REQUEST_BUDGET_SECONDS = 20      # POST /admin/rollups/ answers within API Gateway's 29 s
RETRY_AFTER_SECONDS = 5


@dataclass
class Answer:
    body: dict
    status: int = 200
    headers: dict | None = None


def lane_states() -> dict[int, dict]:
    """Every lane's state (one Query), by lane."""
    return {int(item["SK"]): item for item in db.query(schema.LANE_STATES_PK)}


def last_updated(states: dict[int, dict]) -> str | None:
    """The time every lane's figures are at least as recent as: the smallest computed_at (None until every lane has
    completed a tick)."""
    times = [states.get(lane, {}).get("computed_at") for lane in range(lanes.lane_count())]
    return None if any(t is None for t in times) else min(times)


def run_scheduled(context=None) -> dict:
    """The schedule's entry: device changes and a tick to every lane; the lag of the slowest lane as a metric."""
    now = clock.now()
    changed = devices.audit_pass(now)
    lanes.send_ticks(clock.iso(now), f"schedule-{uuid.uuid4().hex}")
    oldest = last_updated(lane_states())
    lag = (now - clock.parse_iso(oldest)).total_seconds() if oldest else None
    if lag is not None:
        metrics.add_metric(name=ROLLUP_LAG, unit="Seconds", value=lag)
    report = {"devices_changed": changed, "lanes": lanes.lane_count(), "lag_seconds": lag}
    logger.info("rollups scheduled", extra=report)
    return report


def run_now(principal) -> Answer:
    """POST /admin/rollups/: every record acknowledged before the request in the figures it leaves; 202 with
    Retry-After when the backlog does not fit the request's time. Raises: Forbidden (not admin)."""
    principal.require("admin")
    started = time.monotonic()
    deadline = started + REQUEST_BUDGET_SECONDS
    counts_before = db.counts.as_dict()
    now = clock.now()
    at = clock.iso(now)
    devices.audit_pass(now)
    lanes.send_ticks(at, f"request-{uuid.uuid4().hex}")
    tally, first = unit.Tally(), True
    while True:
        states = lane_states()
        behind = [lane for lane in range(lanes.lane_count()) if (states.get(lane) or {}).get("computed_at", "") < at]
        if not behind or (not first and time.monotonic() > deadline):   # each request takes one batch at least
            break
        first = False
        # Join the work: lanes held by another consumer (the deployed worker, make run's) are waited for.
        worker.consume_once(deadline, tally)
    counts = {name: value - counts_before[name] for name, value in db.counts.as_dict().items()}
    body = {"caught_up": not behind, "lanes": lanes.lane_count(), "lanes_behind": behind, "units": tally.units,
            "devices": tally.devices, "duration_ms": round((time.monotonic() - started) * 1000), **counts,
            "last_updated": last_updated(states)}
    logger.info("rollups run on request", extra=body)
    if behind:
        return Answer(body, 202, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return Answer(body)
