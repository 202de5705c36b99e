"""The connection summary's items of one device (API.md §7): its row, its index entries, and its contribution to the
summary items of its organization and of the fleet (docs/rollups.md, "The summary").

A summary item is the sum of its devices' contributions, so a unit adds to it the difference between a device's
contribution before and after (new records, a slide, a rename, a new type, a move, a delete), never re-sums it.
"""
import json
from dataclasses import dataclass, replace
from decimal import Decimal

from chalicelib.rollups import db, figures, state
from chalicelib.rollups.journal import Writes
from chalicelib.rollups.windows import WINDOWS
from chalicelib.store import schema

WINDOW_NAMES = tuple(window.name for window in WINDOWS)
ALL_SCOPE = schema.summary_scope(None)
UNKNOWN_TYPE = "unknown"


@dataclass(frozen=True)
class DeviceInfo:
    device_id: int
    organization_id: int
    organization: str | None
    name: str | None
    device_type: str
    physical_id: str | None


def device_info(item: dict, organization_names: dict[int, str | None]) -> DeviceInfo:
    """What a row shows of a device, from its item (or its create snapshot)."""
    from chalicelib.device_types import db as device_types_db
    from chalicelib.organizations import db as organizations_db

    organization_id = int(item["organization_id"])
    if organization_id not in organization_names:
        organization = organizations_db.get(organization_id)
        organization_names[organization_id] = organization.name if organization else None
    device_type = device_types_db.get_cached(int(item["type"])) if item.get("type") is not None else None
    return DeviceInfo(int(item["id"]), organization_id, organization_names[organization_id], item.get("name"),
                      device_type.category if device_type else UNKNOWN_TYPE, figures.physical_id(item))


def info_of(row: dict) -> DeviceInfo:
    return DeviceInfo(int(row["device_id"]), int(row["organization_id"]), row.get("organization"),
                      row.get("device_name"), row["device_type"], row.get("physical_id"))


def moved_to(info: DeviceInfo, organization_id: int) -> DeviceInfo:
    return replace(info, organization_id=organization_id)


# --- contributions ------------------------------------------------------------------------------------

def contributions(info: DeviceInfo | None, windows: dict | None) -> dict[tuple, dict]:
    """{(scope, window, type, category): {attribute: value}} the device adds to the summary items."""
    if info is None:
        return {}
    out: dict[tuple, dict] = {}
    figs = state.window_figures(windows or state.empty_windows())
    for scope in (schema.summary_scope(info.organization_id), ALL_SCOPE):
        for window in WINDOW_NAMES:
            for device_type in (figures.ALL, info.device_type):
                base = {"n": 1, f"t:{info.device_type}": 1}
                out[(scope, window, device_type, figures.ALL)] = {
                    **base, **_figures(figs.get(window, {}).get(figures.ALL))}
                for category, fig in figs.get(window, {}).items():
                    if category != figures.ALL:
                        out[(scope, window, device_type, category)] = _figures(fig)
    return out


def _figures(fig: dict | None) -> dict:
    if not fig or not int(fig["a"]):
        return {}
    status = figures.status_of(fig)
    out = {"act": int(status == "active"), "fail": int(status == "failed"), "att": int(fig["a"]),
           "suc": int(fig["s"]), "rt": fig["rt"]}
    for app, (attempts, _) in fig["apps"].items():
        out[f"a:{app}"] = int(attempts)
        out[f"u:{app}"] = int(int(attempts) > 0)
    for day, attempts in fig.get("days", {}).items():
        out[f"d:{day}"] = int(attempts)
    return out


def add_difference(deltas: dict[tuple, dict], before: dict[tuple, dict], after: dict[tuple, dict]) -> None:
    """Accumulate after - before into `deltas` {(scope, window, type, category): {attribute: difference}}."""
    for key in set(before) | set(after):
        old, new = before.get(key, {}), after.get(key, {})
        into = deltas.setdefault(key, {})
        for name in set(old) | set(new):
            into[name] = _number(into.get(name, 0)) + _number(new.get(name, 0)) - _number(old.get(name, 0))


def write_summaries(writes: Writes, lane: int, deltas: dict[tuple, dict]) -> None:
    """Add the differences to the lane's own summary items (read, add, rewrite): each summary is the sum of its
    lanes' items, so no two lanes ever write one item."""
    changed = {key: {name: value for name, value in delta.items() if value} for key, delta in deltas.items()}
    changed = {key: delta for key, delta in changed.items() if delta}
    stored = db.batch_get(schema.summary_key(*key, lane) for key in changed)
    for key, delta in changed.items():
        item_key = schema.summary_key(*key, lane)
        figures_ = db.unpack((stored.get((item_key["PK"], item_key["SK"])) or {}).get("figures"))
        for name, value in delta.items():
            figures_[name] = _number(figures_.get(name, 0)) + value
        figures_ = {name: value for name, value in figures_.items() if value}
        if not figures_:
            writes.delete(item_key)
            continue
        scope, window, device_type, category = key
        writes.put({**item_key, "entity": "Summary", "scope": scope, "window": window, "device_type": device_type,
                    "category": category, "lane": lane, "figures": db.pack(figures_)})


def _number(value):
    return Decimal(str(value)) if isinstance(value, (str, float, Decimal)) else int(value)


# --- the row and the index entries -----------------------------------------------------------------------

def _entry_id(scope: str, window: str) -> str:
    return json.dumps([scope, window])


def desired_index(info: DeviceInfo, windows: dict) -> dict[str, dict]:
    """{entry id: {"status", "type", "active", "failed"}} of the device's index entries: one per scope (its
    organization, ALL) and window, with the app categories it is active and failed in there."""
    figs = state.window_figures(windows)
    out = {}
    for scope in (schema.summary_scope(info.organization_id), ALL_SCOPE):
        for window in WINDOW_NAMES:
            window_figs = figs.get(window, {})
            by_status = {"active": [], "failed": []}
            for category in sorted(c for c in window_figs if c != figures.ALL):
                status = figures.status_of(window_figs[category])
                if status in by_status:
                    by_status[status].append(category)
            out[_entry_id(scope, window)] = {"status": figures.status_of(window_figs.get(figures.ALL)),
                                             "type": info.device_type, **by_status}
    return out


def write_index(writes: Writes, device_id: int, old: dict, new: dict) -> None:
    for entry_id, entry in new.items():
        if old.get(entry_id) != entry:
            scope, window = json.loads(entry_id)
            writes.put({**schema.summary_index_keys(scope, window, entry["type"], entry["status"], device_id),
                        "entity": "SummaryIndex", "device_id": device_id, "status": entry["status"],
                        "device_type": entry["type"], "active_in": entry["active"], "failed_in": entry["failed"]})
    for entry_id in set(old) - set(new):
        scope, window = json.loads(entry_id)
        keys = schema.summary_index_keys(scope, window, "-", "-", device_id)
        writes.delete({"PK": keys["PK"], "SK": keys["SK"]})


def row_item(info: DeviceInfo, windows: dict, wake: str | None, indexed: dict) -> dict:
    """The device's summary state and row (one item: they always change together)."""
    return {**schema.summary_row_key(info.device_id), "entity": "SummaryRow", "device_id": info.device_id,
            "device_name": info.name, "device_type": info.device_type, "organization_id": info.organization_id,
            "organization": info.organization, "physical_id": info.physical_id,
            "figures": db.pack(state.row_figures(windows)), "windows": db.pack(windows), "wake_at": wake,
            "indexed": db.pack(indexed)}


def loaded(row: dict) -> tuple[DeviceInfo, dict, dict]:
    """(info, windows, indexed) of a stored row."""
    return info_of(row), db.unpack(row.get("windows")) or state.empty_windows(), db.unpack(row.get("indexed"))
