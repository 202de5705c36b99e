"""The connection summary's precomputed items (API.md §7), kept by the rollups per organization.

Per device, three kinds of item (docs/rollups.md has their attributes):
- its state (SUMSTATE#ORG#<org> / <device>): its figures in every window and app category, with the apps
  and days the summary counts, and when they next change without new records (`wake_at`: its oldest
  bucket leaves a window, or a bucket ahead of the clock enters one). The rollups' own record;
- its row (DEV#<id>#AGG / SUMROW): what a page of results shows, for every window and category;
- its index entries (SIDX#<scope>#<window>): one per scope (its organization, and ALL) and window, keyed by
  type and status so that those filters of a page are key conditions, with the app categories it is active
  and failed in. Written only when one of those changes.
Per scope, the summary items (SUMMARY#<scope> / <window>#T#<type>#C#<category>): summed from all its
devices' states (an organization's) or from its organizations' summaries (ALL).

Crash safety: every item is a full rewrite from its sources, and a device's index entries are the same ten
for as long as it stays in its organization (recompute_devices).
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.rollups import db, figures
from chalicelib.rollups.windows import DAY, HOUR, MINUTE, WINDOWS
from chalicelib.store import schema

WINDOW_NAMES = tuple(window.name for window in WINDOWS)
ALL_SCOPE = schema.summary_scope(None)
UNKNOWN_TYPE = "unknown"
# Buckets read past a window's end: a record may be up to 5 minutes ahead of the clock (telemetry/models.py).
AHEAD = {MINUTE: timedelta(hours=1), HOUR: timedelta(hours=1), DAY: timedelta(days=1)}


@dataclass(frozen=True)
class DeviceInfo:
    device_id: int
    organization_id: int
    organization: str | None
    name: str | None
    device_type: str
    physical_id: str | None


@dataclass
class Target:
    """A device to rewrite in its organization: its current info (None once deleted), its states in other
    organizations (a move), which are replaced, and whether its windows are read again from its buckets.
    They are not when only its info changed: buckets are written only by a run that also recomputes the
    device's windows, so a device without a state has none, and one with a state has them in it."""
    info: DeviceInfo | None
    elsewhere: list[dict]
    recompute: bool
    only: dict | None = None   # a device seen for the first time: every bucket it has, just written


def device_info(item: dict, organization_names: dict[int, str | None]) -> DeviceInfo:
    from chalicelib.device_types import db as device_types_db
    from chalicelib.organizations import db as organizations_db

    organization_id = int(item["organization_id"])
    if organization_id not in organization_names:
        organization = organizations_db.get(organization_id)
        organization_names[organization_id] = organization.name if organization else None
    device_type = device_types_db.get_cached(int(item["type"])) if item.get("type") is not None else None
    return DeviceInfo(int(item["id"]), organization_id, organization_names[organization_id], item.get("name"),
                      device_type.category if device_type else UNKNOWN_TYPE, figures.physical_id(item))


def info_of(state: dict) -> DeviceInfo:
    return DeviceInfo(int(state["device_id"]), int(state["organization_id"]), state.get("organization"),
                      state.get("device_name"), state["device_type"], state.get("physical_id"))


# --- a device's windows ----------------------------------------------------------------------------

def compute_windows(device_id: int, now: datetime, only: dict | None = None) -> tuple[dict, str | None]:
    """({window: {category: fig}}, wake_at) from the device's buckets: three Queries, one per bucket size; or,
    for a device whose every bucket this run has just written (`only`: {size: {start: categories}}), none."""
    bounds = {window.name: window.bounds(now) for window in WINDOWS}
    buckets: dict[str, list[tuple[str, dict]]] = {}
    partition = schema.app_bucket_key(device_id, DAY, "")["PK"]
    for size in (MINUTE, HOUR, DAY):
        low = min(bounds[w.name][0] for w in WINDOWS if w.size == size)
        high = max(bounds[w.name][1] for w in WINDOWS if w.size == size) + AHEAD[size]
        if only is not None:
            buckets[size] = sorted(item for item in only.get(size, {}).items() if item[1])
            continue
        items = db.query(partition, schema.app_bucket_sort_value(size, clock.iso(low)),
                         schema.app_bucket_sort_value(size, clock.iso(high)))
        buckets[size] = [(item["start"], db.unpack(item["categories"])) for item in items]
    windows, wakes = {}, []
    for window in WINDOWS:
        start, end = bounds[window.name]
        figs, oldest, entering = figures.window_figures(buckets[window.size], clock.iso(start), clock.iso(end))
        if figs:
            windows[window.name] = figs
        if oldest is not None:   # it leaves when the window's start passes it
            wakes.append(clock.parse_iso(oldest) + window.length)
        if entering is not None:   # it enters when the clock reaches it
            wakes.append(clock.parse_iso(entering))
    return windows, clock.iso(min(wakes)) if wakes else None


def _id(scope: str, window: str) -> str:
    return json.dumps([scope, window])


def desired_index(info: DeviceInfo, windows: dict) -> dict[str, dict]:
    """{entry id: {"status", "type", "active", "failed"}} of the device's index entries: one per scope (its
    organization, ALL) and window, with the app categories it is active and failed in there."""
    out = {}
    for scope in (schema.summary_scope(info.organization_id), ALL_SCOPE):
        for window in WINDOW_NAMES:
            figs = windows.get(window, {})
            by_status = {"active": [], "failed": []}
            for category in sorted(c for c in figs if c != figures.ALL):
                by_status[figures.status_of(figs[category])].append(category)
            out[_id(scope, window)] = {"status": figures.status_of(figs.get(figures.ALL)), "type": info.device_type,
                                       **by_status}
    return out


def _index_item(device_id: int, entry_id: str, entry: dict) -> dict:
    scope, window = json.loads(entry_id)
    return {**schema.summary_index_keys(scope, window, entry["type"], entry["status"], device_id),
            "entity": "SummaryIndex", "device_id": device_id, "status": entry["status"],
            "device_type": entry["type"], "active_in": entry["active"], "failed_in": entry["failed"]}


def _index_key(device_id: int, entry_id: str) -> dict:
    scope, window = json.loads(entry_id)
    keys = schema.summary_index_keys(scope, window, "-", "-", device_id)
    return {"PK": keys["PK"], "SK": keys["SK"]}


def row_item(info: DeviceInfo, windows: dict, computed_at: str) -> dict:
    return {**schema.summary_row_key(info.device_id), "entity": "SummaryRow", "device_id": info.device_id,
            "device_name": info.name, "device_type": info.device_type, "organization_id": info.organization_id,
            "organization": info.organization, "computed_at": computed_at,
            "figures": db.pack({window: {category: [fig["a"], fig["s"], fig["rt"], fig.get("ls")]
                                         for category, fig in figs.items()} for window, figs in windows.items()})}


def state_item(info: DeviceInfo, windows: dict, wake_at: str | None, indexed: dict, computed_at: str) -> dict:
    return {**schema.summary_state_key(info.organization_id, info.device_id), "entity": "SummaryState",
            "device_id": info.device_id, "organization_id": info.organization_id, "organization": info.organization,
            "device_name": info.name, "device_type": info.device_type, "physical_id": info.physical_id,
            "windows": db.pack(windows), "wake_at": wake_at, "indexed": db.pack(indexed), "computed_at": computed_at}


def loaded(item: dict) -> dict:
    """A state item as read, its figures and index entries unpacked."""
    return {**item, "windows": db.unpack(item.get("windows")), "indexed": db.unpack(item.get("indexed"))}


def due(state: dict, now: datetime) -> bool:
    return bool(state.get("wake_at")) and clock.parse_iso(state["wake_at"]) <= now


def recompute_devices(organization_id: int, states: dict[int, dict], targets: dict[int, Target],
                      now: datetime) -> int:
    """Recompute the targets' windows and rewrite what changed: index entries, rows, states, and last the states
    a move leaves behind. Updates `states`; the number of devices whose figures or entries changed.

    A device's entries are always the same ten (two scopes by five windows) for as long as it stays in its
    organization; only a move or a delete retires some, and the state naming them is deleted last. So a run
    that dies half-way leaves no entry the next run cannot find."""
    computed_at = clock.iso(now)
    index_puts, index_deletes, row_puts, row_deletes, state_puts, state_deletes = [], [], [], [], [], []
    changed = 0
    for device_id, target in targets.items():
        old = states.get(device_id)
        old_indexed = {}
        for previous in [*target.elsewhere, *([old] if old else [])]:
            old_indexed.update(previous.get("indexed") or {})
        state_deletes += [{"PK": s["PK"], "SK": s["SK"]} for s in target.elsewhere]
        if target.info is None:   # deleted: take everything it had out of the summary
            index_deletes += [_index_key(device_id, entry_id) for entry_id in old_indexed]
            row_deletes.append(schema.summary_row_key(device_id))
            if old:
                state_deletes.append({"PK": old["PK"], "SK": old["SK"]})
                del states[device_id]
            changed += 1
            continue
        info = target.info
        if target.recompute:
            windows, wake_at = compute_windows(device_id, now, target.only)
        else:
            source = old or (target.elsewhere[0] if target.elsewhere else {})
            windows, wake_at = source.get("windows") or {}, source.get("wake_at")
        indexed = desired_index(info, windows)
        new = state_item(info, windows, wake_at, indexed, computed_at)
        index_puts += [_index_item(device_id, entry_id, entry) for entry_id, entry in indexed.items()
                       if old_indexed.get(entry_id) != entry]
        index_deletes += [_index_key(device_id, entry_id) for entry_id in old_indexed if entry_id not in indexed]
        row = row_item(info, windows, computed_at)
        if old is None or target.elsewhere or not db.same(row_item(info_of(old), old["windows"], computed_at), row):
            row_puts.append(row)
        if old is None or target.elsewhere or not db.same(
                state_item(info_of(old), old["windows"], old.get("wake_at"), old["indexed"], computed_at), new):
            state_puts.append(new)
            changed += 1
        states[device_id] = loaded(new)
    db.write(index_puts, index_deletes)
    db.write(row_puts, row_deletes)
    db.write(state_puts)
    db.write(deletes=state_deletes)
    return changed


# --- summaries -----------------------------------------------------------------------------------

def organization_summaries(states: list[dict]) -> dict[tuple[str, str, str], dict]:
    return figures.summarize([(state["device_type"], state.get("windows") or {}) for state in states],
                             WINDOW_NAMES)


def read_summaries(scope: str) -> dict[tuple[str, str, str], dict]:
    return {(item["window"], item["device_type"], item["category"]): db.unpack(item["figures"])
            for item in db.query(schema.summary_partition(scope))}


def store_summaries(scope: str, summaries: dict[tuple[str, str, str], dict], now: datetime) -> bool:
    """Rewrite the scope's summary items that changed, delete those no longer there; whether any did."""
    stored = {item["SK"]: item for item in db.query(schema.summary_partition(scope))}
    puts, wanted = [], set()
    for (window, device_type, category), summary in summaries.items():
        item = {**schema.summary_key(scope, window, device_type, category), "entity": "Summary", "scope": scope,
                "window": window, "device_type": device_type, "category": category, "figures": db.pack(summary),
                "computed_at": clock.iso(now)}
        wanted.add(item["SK"])
        if not db.same(stored.get(item["SK"]), item):
            puts.append(item)
    deletes = [{"PK": item["PK"], "SK": sk} for sk, item in stored.items() if sk not in wanted]
    db.write(puts, deletes)
    return bool(puts or deletes)
