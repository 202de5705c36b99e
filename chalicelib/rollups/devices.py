"""Which devices changed: the audit pass of the scheduled run (and of POST /admin/rollups/).

The audit trail (every create, update and delete of a device, fleet-wide on GSI2) is read from the run's watermark up
to now - ROLLUP_SETTLE_SECONDS (a GSI is read eventually consistently: an entry younger than that may not show yet,
and no older one can still appear). Each device created, renamed, retyped, re-identified, moved or deleted becomes a
`devices` message to its lane. The very first runs have no watermark: they read the whole fleet once instead, a
page of devices a pass.
"""
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.rollups import db, lanes
from chalicelib.rollups.lanes import DeviceChange
from chalicelib.store import dynamo, schema

WATERMARK = "DEVICES"
AUDIT_PAGE = 5000       # audit entries per partition and pass
BOOTSTRAP_PAGE = 100_000  # devices a first-run pass reads and sends (~60 MB of snapshots in the Lambda)
# Device fields that a summary row, an index entry or an analytics subscriber is made of.
RELEVANT_FIELDS = {"name", "type", "organization_id", "identifiers", "serial_number"}
DEVICE_FIELDS = ("id", "organization_id", "name", "type", "serial_number", "identifiers")


def audit_pass(now: datetime) -> int:
    """Send every lane its device changes since the last pass; the number of devices."""
    bound = clock.iso(now - timedelta(seconds=get_settings().rollup_settle_seconds))
    state = db.get(schema.rollup_state_key(WATERMARK))
    if state is None or state.get("bootstrap"):
        return _bootstrap(state, bound)
    changes, positions = _audit_changes(state.get("positions") or {}, bound)
    if changes:
        lanes.send_device_changes(changes)
    if positions:
        _save({**(state.get("positions") or {}), **positions})
    return len(changes)


def _bootstrap(state: dict | None, bound: str) -> int:
    """The first runs ever: every device once, BOOTSTRAP_PAGE a pass (a fleet of a million takes a few passes, each
    within its Lambda's memory and time). The audit positions are taken when it starts, so that what changes
    meanwhile is read from the trail afterwards."""
    if state is None:
        positions = {partition: bound for partition in schema.audit_fleet_partitions()}
        cursors = {partition: "" for partition in schema.fleet_devices_partitions()}
    else:
        positions, cursors = state.get("positions") or {}, dict(state["bootstrap"])
    sent = 0
    for partition, cursor in cursors.items():
        if cursor is None or sent >= BOOTSTRAP_PAGE:
            continue
        items, more = db.query_index("GSI2", partition, cursor or None, "~", BOOTSTRAP_PAGE - sent,
                                     attributes=DEVICE_FIELDS)
        lanes.send_device_changes([DeviceChange(device_id=int(item["id"]), organizations=[int(item["organization_id"])],
                                                created=_snapshot(item)) for item in items])
        sent += len(items)
        cursors[partition] = items[-1]["GSI2SK"] if more and items else (cursor if more else None)
    _save(positions, cursors if any(cursor is not None for cursor in cursors.values()) else None)
    return sent


def _save(positions: dict[str, str], bootstrap: dict | None = None) -> None:
    db.update(schema.rollup_state_key(WATERMARK), UpdateExpression="SET positions = :p, bootstrap = :b, entity = :e",
              ExpressionAttributeValues={":p": positions, ":b": bootstrap, ":e": "RollupState"})


def _audit_changes(watermarks: dict[str, str], bound: str) -> tuple[list[DeviceChange], dict[str, str]]:
    found: dict[int, set[int]] = {}
    created: dict[int, dict | None] = {}
    positions = {}
    for partition in schema.audit_fleet_partitions():
        entries, _ = db.query_index("GSI2", partition, watermarks.get(partition), bound, AUDIT_PAGE,
                                    attributes=("GSI2SK", "device_id", "organization_id", "action", "changes"))
        if entries:
            positions[partition] = entries[-1]["GSI2SK"]
        for entry in entries:
            changes = entry.get("changes") or {}
            if entry["action"] not in ("create", "delete") and not set(changes) & RELEVANT_FIELDS:
                continue
            device_id = int(entry["device_id"])
            organizations = found.setdefault(device_id, set())
            organizations.add(int(entry["organization_id"]))
            moved = changes.get("organization_id") or {}
            organizations.update(int(v) for v in (moved.get("old"), moved.get("new")) if v is not None)
            # A create entry holds every field the summary needs: a device only created since the last pass is not
            # read again (a bulk load of devices costs no GetItem each). Anything else is read as it is now.
            created[device_id] = (dynamo.plain({"id": device_id, **{k: v.get("new") for k, v in changes.items()}})
                                  if entry["action"] == "create" and device_id not in created else None)
    return ([DeviceChange(device_id=device, organizations=sorted(organizations), created=created[device])
             for device, organizations in found.items()], positions)


def _snapshot(item: dict) -> dict:
    return dynamo.plain({name: item.get(name) for name in DEVICE_FIELDS})
