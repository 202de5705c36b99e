"""What changed since the last run: the telemetry change log (which buckets got records) and the audit
trail (which devices were created, renamed, retyped, moved or deleted), each read from a watermark.

Both are read only up to `bound` = now - ROLLUP_SETTLE_SECONDS: an ingest batch writes its change-log
entries after its records and finishes within the settle lag, so an entry older than it announces records
that are readable, and no entry older than it can still appear. Watermarks are advanced by the caller
only after the buckets are written, so a crashed run reads the same entries again.
"""
from dataclasses import dataclass

from chalicelib.rollups import db
from chalicelib.store import schema

DEVICES_WATERMARK = "DEVICES"
# Device fields that a summary row, an index entry or an analytics subscriber is made of.
RELEVANT_FIELDS = {"name", "type", "organization_id", "identifiers", "serial_number"}


@dataclass(frozen=True)
class Change:
    device_id: int
    organization_id: int
    hour: str
    kind: str


@dataclass(frozen=True)
class DeviceChange:
    device_id: int
    organizations: frozenset[int]   # where its summary state may be: the old and new organization of a move
    created: dict | None = None     # the device as its create entry recorded it, when that is all that happened


def read_change_log(state: dict[str, dict], bound: str, quota: int) -> tuple[list[Change], dict[str, str], bool]:
    """(changes, new watermarks by state name, more left) of every shard, at most `quota` entries in all."""
    changes, positions, more = [], {}, False
    per_shard = max(1, quota // schema.CHANGE_LOG_SHARDS)
    for shard in range(schema.CHANGE_LOG_SHARDS):
        name = schema.change_log_watermark(shard)
        after = (state.get(name) or {}).get("position")
        entries, left = db.query_after(schema.change_log_partition(shard), after, bound, per_shard,
                                       attributes=("SK", "device_id", "organization_id", "hour", "kind"))
        more |= left
        if entries:
            positions[name] = entries[-1]["SK"]
        changes += [Change(int(e["device_id"]), int(e["organization_id"]), e["hour"], e["kind"]) for e in entries]
    return changes, positions, more


def read_device_changes(state: dict[str, dict], bound: str, quota: int) -> tuple[list[DeviceChange] | None,
                                                                               dict[str, str], bool]:
    """Devices whose summary rows may have changed, from the fleet-wide audit trail (GSI2, oldest
    first). None on the very first run, which has no watermark: the caller then reads the whole fleet once."""
    watermark = state.get(DEVICES_WATERMARK)
    if watermark is None:
        return None, {DEVICES_WATERMARK: bound}, False
    # The fleet's trail is sharded: each shard is read from the same position and the merge cut at `quota`, so
    # one position still says what was taken (every entry before it was in some shard's first `quota`).
    entries, more = [], False
    for pk in schema.audit_fleet_partitions():
        shard, left = db.query_after(pk, watermark["position"], bound, quota, index="GSI2",
                                     attributes=("GSI2SK", "device_id", "organization_id", "action", "changes"))
        entries, more = entries + shard, more or left
    entries.sort(key=lambda entry: entry["GSI2SK"])
    entries, more = entries[:quota], more or len(entries) > quota
    found: dict[int, set[int]] = {}
    created: dict[int, dict | None] = {}
    for entry in entries:
        changes = entry.get("changes") or {}
        if entry["action"] in ("create", "delete") or set(changes) & RELEVANT_FIELDS:
            device_id = int(entry["device_id"])
            organizations = found.setdefault(device_id, set())
            organizations.add(int(entry["organization_id"]))
            moved = changes.get("organization_id") or {}
            organizations.update(int(v) for v in (moved.get("old"), moved.get("new")) if v is not None)
            # A create entry holds every field the summary needs (name, type, organization, serial number,
            # identifiers): a device only created since the last run is not read again (a bulk load of devices
            # costs no GetItem each). Anything else is read as it is now.
            created[device_id] = ({"id": device_id, **{k: v.get("new") for k, v in changes.items()}}
                                  if entry["action"] == "create" and device_id not in created else None)
    positions = {DEVICES_WATERMARK: entries[-1]["GSI2SK"]} if entries else {}
    return ([DeviceChange(device, frozenset(orgs), created[device]) for device, orgs in found.items()],
            positions, more)


DEVICE_FIELDS = ("id", "organization_id", "name", "type", "serial_number", "identifiers")


def whole_fleet() -> list[dict]:
    """Every device (the GSI2 shards of the fleet), the fields a summary row needs: the first run's starting point."""
    return [device for pk in schema.fleet_devices_partitions()
            for device in db.query(pk, index="GSI2", attributes=DEVICE_FIELDS)]
