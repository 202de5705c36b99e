"""Run the rollups: the scheduled Lambda (every 5 minutes), POST /admin/rollups/ and make run call run().

A run takes the lease, then does rounds until the change log is caught up or its time budget is spent.
A round reads what changed since the watermarks, rewrites the buckets those changes name, recomputes the
devices whose window figures changed (new records, a device created/renamed/retyped/moved/deleted, a
bucket leaving or entering a window), re-sums the summaries of the organizations concerned and of the
fleet, and only then advances the watermarks and records the round's time (`last_updated`).
"""
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.errors import Conflict
from chalicelib.observability import (
    ROLLUP_CHANGES_READ,
    ROLLUP_DURATION,
    ROLLUP_ITEMS_WRITTEN,
    ROLLUP_RECORDS_READ,
    logger,
    metrics,
)
from chalicelib.rollups import buckets, changes, db, summaries
from chalicelib.store import schema

ROUND_CHANGES = 20_000           # change-log entries per round (all shards): a week of a 200-device demo
ROUND_DEVICE_CHANGES = 2000      # audit entries per round
# A round is not cut short: a run stops starting rounds once its budget is spent, and its lease outlives the
# Lambda's time-out by a minute, so that a run killed by it blocks the next ones for that minute only.
LEASE_MARGIN_SECONDS = 60
SCHEDULED_SECONDS = 300          # without a Lambda context (a direct call): as the deployment's time-out
REQUEST_BUDGET_SECONDS = 20      # POST /admin/rollups/ answers within API Gateway's 29 s
REQUEST_LEASE_SECONDS = 120
WINDOWS_STATE = "WINDOWS"


class RollupInProgress(Conflict):
    code = "ROLLUP_IN_PROGRESS"


@dataclass
class OrganizationWork:
    hours: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))   # device -> hours (§8)
    app_hours: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # device -> hours (§7)
    resync: dict[int, tuple[summaries.DeviceInfo, frozenset[int]]] = field(default_factory=dict)
    # Devices of this organization given new buckets by another one's change-log entries, and where they were.
    recompute: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    gone: set[int] = field(default_factory=set)          # deleted devices whose state is here
    moved_away: set[int] = field(default_factory=set)    # moved to another organization this round


@dataclass
class Round:
    changes: int = 0
    device_changes: int = 0
    organizations: int = 0
    devices_recomputed: int = 0
    more: bool = False


def run(budget_seconds: float = SCHEDULED_SECONDS - LEASE_MARGIN_SECONDS,
        lease_seconds: float = SCHEDULED_SECONDS + LEASE_MARGIN_SECONDS) -> dict:
    """Every rollup, round after round until caught up or out of time; what was done.

    Raises:
        RollupInProgress: another run holds the lease.
    """
    started, owner = time.monotonic(), uuid.uuid4().hex
    counts = db.reset_counts()
    if not db.acquire_lease(owner, time.time(), int(lease_seconds)):
        raise RollupInProgress("Another rollup run is in progress; try again when it has finished.")
    rounds: list[Round] = []
    try:
        while True:
            rounds.append(run_round(clock.now()))
            if not rounds[-1].more or time.monotonic() - started > budget_seconds:
                break
    finally:
        db.release_lease(owner)
    duration_ms = round((time.monotonic() - started) * 1000)
    for name, value, unit in ((ROLLUP_RECORDS_READ, counts.records_read, "Count"),
                              (ROLLUP_CHANGES_READ, counts.changes_read, "Count"),
                              (ROLLUP_ITEMS_WRITTEN, counts.items_written, "Count"),
                              (ROLLUP_DURATION, duration_ms, "Milliseconds")):
        metrics.add_metric(name=name, unit=unit, value=value)
    report = {"rounds": len(rounds), "caught_up": not rounds[-1].more, "duration_ms": duration_ms,
              "change_log_entries": sum(r.changes for r in rounds),
              "device_changes": sum(r.device_changes for r in rounds),
              "organizations_summarized": sum(r.organizations for r in rounds),
              "devices_recomputed": sum(r.devices_recomputed for r in rounds), **counts.as_dict(),
              "last_updated": db.read_state().get(WINDOWS_STATE, {}).get("computed_at")}
    logger.info("rollups run", extra=report)
    return report


def run_scheduled(context=None) -> dict | None:
    """The schedule's entry: a run within the Lambda's remaining time, or nothing when another one is still
    going (it will catch up)."""
    remaining = (context.get_remaining_time_in_millis() / 1000 if hasattr(context, "get_remaining_time_in_millis")
                 else SCHEDULED_SECONDS)
    try:
        return run(max(0.0, remaining - LEASE_MARGIN_SECONDS), remaining + LEASE_MARGIN_SECONDS)
    except RollupInProgress:
        logger.info("rollups already running; this tick is skipped")
        return None


def run_now(principal) -> dict:
    """POST /admin/rollups/. Raises: Forbidden (not admin), RollupInProgress."""
    principal.require("admin")
    return run(REQUEST_BUDGET_SECONDS, REQUEST_LEASE_SECONDS)


def run_round(now: datetime) -> Round:
    state = db.read_state()
    bound = clock.iso(now - timedelta(seconds=get_settings().rollup_settle_seconds))
    entries, positions, more_changes = changes.read_change_log(state, bound, ROUND_CHANGES)
    device_changes, device_positions, more_devices = changes.read_device_changes(state, bound, ROUND_DEVICE_CHANGES)
    work: dict[int, OrganizationWork] = defaultdict(OrganizationWork)
    for entry in entries:
        todo = work[entry.organization_id]
        (todo.app_hours if entry.kind == "app_session" else todo.hours)[entry.device_id].add(entry.hour)
    names: dict[int, str | None] = {}
    if device_changes is None:   # the first run: every device once
        fleet = changes.whole_fleet()
        resyncs = [(int(item["id"]), item, frozenset()) for item in fleet]
    else:
        resyncs = [(c.device_id, c.created or db.get(schema.device_key(c.device_id)), c.organizations)
                   for c in device_changes]
    for device_id, item, organizations in resyncs:
        if item is None:
            for organization_id in organizations:
                work[organization_id].gone.add(device_id)
            continue
        info = summaries.device_info(item, names)
        work[info.organization_id].resync[device_id] = (info, organizations - {info.organization_id})
        for organization_id in organizations - {info.organization_id}:
            work[organization_id].moved_away.add(device_id)
    for name, item in state.items():
        organization_id = schema.rollup_state_organization(name)
        if organization_id is not None and item.get("wake_at") and clock.parse_iso(item["wake_at"]) <= now:
            work[organization_id]   # its figures change now without new records
    result = Round(changes=len(entries), device_changes=len(resyncs), more=more_changes or more_devices)
    per_organization: dict[int, dict] = {}
    wakes: dict[int, str | None] = {}
    pending = list(work)
    changed = False
    while pending:
        organization_id = pending.pop(0)
        outcome = _organization(organization_id, work, now, names, pending, first=WINDOWS_STATE not in state)
        per_organization[organization_id], wakes[organization_id], org_changed, recomputed = outcome
        changed |= org_changed
        result.devices_recomputed += recomputed
    result.organizations = len(per_organization)
    if changed or WINDOWS_STATE not in state:
        _fleet_summaries(per_organization, now)
    updates = {name: {"position": position} for name, position in {**positions, **device_positions}.items()}
    for organization_id, wake_at in wakes.items():
        name = schema.organization_rollup_state(organization_id)
        if name not in state or state[name].get("wake_at") != wake_at:
            updates[name] = {"wake_at": wake_at}
    updates[WINDOWS_STATE] = {"computed_at": clock.iso(now), "settled_before": bound}
    db.put_states(updates)   # last: a run that dies before this reads the same changes again
    return result


def _organization(organization_id: int, work: dict[int, OrganizationWork], now: datetime,
                  names: dict[int, str | None], pending: list[int], first: bool) -> tuple[dict, str | None, bool, int]:
    """One organization's buckets, devices and summaries; (summaries, wake_at, summaries changed, devices)."""
    todo = work[organization_id]
    work[organization_id] = OrganizationWork(moved_away=todo.moved_away)   # done once, even if routed to again
    states = {int(item["device_id"]): summaries.loaded(item)
              for item in db.query(schema.summary_state_partition(organization_id))}
    devices = _Devices(names)
    if todo.hours:
        _device_hours(organization_id, todo, states, devices, now, first)
    targets = _targets(organization_id, todo, states, devices, work, pending, now, first)
    recomputed = summaries.recompute_devices(organization_id, states, targets, now)
    members = [state for device_id, state in states.items() if device_id not in todo.moved_away]
    organization_summaries = summaries.organization_summaries(members)
    changed = summaries.store_summaries(schema.summary_scope(organization_id), organization_summaries, now)
    wakes = [state["wake_at"] for state in members if state.get("wake_at")]
    return organization_summaries, min(wakes) if wakes else None, changed, recomputed


class _Devices:
    """Device items read at most once per organization, and their summary info."""

    def __init__(self, names: dict[int, str | None]):
        self.names, self.items = names, {}

    def item(self, device_id: int) -> dict | None:
        if device_id not in self.items:
            self.items[device_id] = db.get(schema.device_key(device_id))
        return self.items[device_id]

    def info(self, item: dict) -> summaries.DeviceInfo:
        return summaries.device_info(item, self.names)


def _device_hours(organization_id: int, todo: OrganizationWork, states: dict[int, dict], devices: _Devices,
                  now: datetime, first: bool) -> None:
    """The analytics' hours (§8): the devices' touched hours, then the organization's. There are no device hours
    to read back on the first run ever (`first`)."""
    physical_ids = {}
    for device_id in todo.hours:
        if device_id in todo.resync:     # as the device is now (and no read on a first run)
            physical_ids[device_id] = todo.resync[device_id][0].physical_id
        elif device_id in states:
            physical_ids[device_id] = states[device_id].get("physical_id")
        else:
            item = devices.item(device_id)
            physical_ids[device_id] = devices.info(item).physical_id if item else None
    written = buckets.rollup_device_hours(organization_id, todo.hours, physical_ids, now)
    buckets.rollup_organization_hours(organization_id, written, now, stored=not first)


def _targets(organization_id: int, todo: OrganizationWork, states: dict[int, dict], devices: _Devices,
             work: dict[int, OrganizationWork], pending: list[int], now: datetime,
             first: bool) -> dict[int, summaries.Target]:
    """Rewrite the app-session buckets of the touched devices; the devices whose summary items to rewrite.

    A device no run has seen (no state, no row) has no buckets but those this run writes (a run writes a
    device's buckets, row and state together, and a crash between them leaves the change-log entries to redo
    all): its windows and days are summed from what the run wrote, without reading them back. That is what
    makes a first run over a backfill (make run's demo) quick.
    """
    targets: dict[int, summaries.Target] = {}
    for device_id in todo.gone:
        if device_id in states:
            targets[device_id] = summaries.Target(None, [], False)
    for device_id, (info, elsewhere) in todo.resync.items():
        previous = [db.get(schema.summary_state_key(other, device_id)) for other in elsewhere]
        targets[device_id] = summaries.Target(info, [summaries.loaded(state) for state in previous if state], False)
    for device_id, hours in todo.app_hours.items():
        # No state here nor elsewhere, and no row (which is keyed by the device alone): no run has seen it.
        unseen = (device_id not in states and not (device_id in targets and targets[device_id].elsewhere)
                  and (first or db.get(schema.summary_row_key(device_id)) is None))
        fresh = buckets.rollup_app_buckets(device_id, organization_id, hours, now, stored=not unseen)
        if device_id in todo.gone:
            continue
        if device_id in targets:
            targets[device_id].recompute = True
            targets[device_id].only = fresh if unseen else None
        elif device_id in states and device_id not in todo.moved_away:
            targets[device_id] = summaries.Target(summaries.info_of(states[device_id]), [], True)
        elif (item := devices.item(device_id)) is not None:   # else deleted since: its audit entry handles it
            info = devices.info(item)
            if info.organization_id == organization_id:
                targets[device_id] = summaries.Target(info, [], True, fresh if unseen else None)
            else:         # moved: its own organization recomputes it
                work[info.organization_id].recompute[device_id].add(organization_id)
                if info.organization_id not in pending:
                    pending.append(info.organization_id)
    for device_id, seen_in in todo.recompute.items():
        if device_id in targets:
            targets[device_id].recompute = True
        elif device_id in states:
            targets[device_id] = summaries.Target(summaries.info_of(states[device_id]), [], True)
        elif (item := devices.item(device_id)) is not None and int(item["organization_id"]) == organization_id:
            # A move the audit trail has not told yet: its state is still where its records came from.
            previous = [db.get(schema.summary_state_key(other, device_id)) for other in seen_in]
            targets[device_id] = summaries.Target(devices.info(item),
                                                  [summaries.loaded(state) for state in previous if state], True)
    for target in targets.values():
        for state in target.elsewhere:   # re-summed without the device once its state there is gone
            other = int(state["organization_id"])
            work[other].moved_away.add(int(state["device_id"]))
            if other not in pending:
                pending.append(other)
    for device_id, state in states.items():
        if device_id not in todo.moved_away and summaries.due(state, now):
            if device_id in targets:
                targets[device_id].recompute = True
            else:
                targets[device_id] = summaries.Target(summaries.info_of(state), [], True)
    return targets


def _fleet_summaries(computed: dict[int, dict], now: datetime) -> None:
    """ALL's summaries: this round's organizations as computed, the others as stored."""
    from chalicelib.organizations import db as organizations_db

    parts = [computed[o.id] if o.id in computed else summaries.read_summaries(schema.summary_scope(o.id))
             for o in organizations_db.list_all()]
    summaries.store_summaries(summaries.ALL_SCOPE, summaries.figures.merge_scopes(parts), now)
