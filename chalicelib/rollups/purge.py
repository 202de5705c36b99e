"""The delete cascade's telemetry part (API.md §2: DELETE removes the device and all its data; issue 12, item 5).

devices/db.py's delete calls `request`: a `purge` message to the device's lane (the audit pass's "delete" entry is the
backstop: a lane purges every device it finds gone). At its next tick the lane removes the
device's raw records and their de-duplication guards, every aggregate under `DEV#<id>#AGG`, its subscriber entries,
index entries and wake entry, and takes it out of the summaries. Organization totals (day totals, IP entries) keep
their sums. At most PURGE_ITEMS items a unit: a device with more is finished by the next units of the same tick,
its row kept until last (marked `purging`) since it names the subscriber entries still to remove.
"""
from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import logger
from chalicelib.rollups import db, lanes, summaries
from chalicelib.rollups.journal import Writes
from chalicelib.store import schema

PURGE_ITEMS = 4000
PERIOD_LEVELS = {"DeviceDay": "D", "DeviceMonth": "M"}   # the device's items its subscriber entries copy


def request(device_id: int) -> None:
    """Ask the device's lane to remove its telemetry and aggregates (in the background, within minutes). The device
    is already gone when this is called: a queue that refuses the message is logged, not answered 503, since the
    audit pass tells the lane of the delete within minutes too (devices.py), and the lane purges then."""
    try:
        lanes.send_purge(device_id)
    except ServiceUnavailable:
        logger.warning("purge request not sent; the audit pass will carry it", extra={"device_id": device_id})


def purge(writes: Writes, deltas: dict[tuple, dict], lane: int, device_id: int, row: dict | None,
          budget: int | None = None) -> bool:
    """Add the removal of one device's data to `writes` (its summaries' differences to `deltas`), at most `budget`
    items; True when nothing is left."""
    physical_id = row.get("physical_id") if row else None
    if row is not None and not row.get("purging"):
        info, windows, indexed = summaries.loaded(row)
        summaries.add_difference(deltas, summaries.contributions(info, windows), {})
        summaries.write_index(writes, device_id, indexed, {})
        if row.get("wake_at"):
            writes.delete(schema.wake_key(lane, row["wake_at"], device_id))
    left = PURGE_ITEMS if budget is None else budget
    for kind in schema.TELEMETRY_KINDS:
        records = db.query(schema.telemetry_partition(device_id, kind), limit=left + 1, records=True,
                           attributes=("PK", "SK", "organization_id", "event_id"))
        for record in records[:left]:
            writes.delete(record)
            writes.delete(schema.event_guard_key(int(record["organization_id"]), kind, record["event_id"]))
        if len(records) > left:
            return _unfinished(writes, row)
        left -= len(records)
    aggregates = [item for item in db.query(schema.device_aggregates_partition(device_id), limit=left + 2)
                  if item["SK"] != "SUMROW"]
    for item in aggregates[:left]:
        if physical_id and item.get("entity") in PERIOD_LEVELS:
            writes.delete(schema.map_entry_key(int(item["organization_id"]), "SUB", PERIOD_LEVELS[item["entity"]],
                                               item["period"], physical_id))
        writes.delete(item)
    if len(aggregates) > left:
        return _unfinished(writes, row)
    writes.delete(schema.summary_row_key(device_id))
    return True


def _unfinished(writes: Writes, row: dict | None) -> bool:
    if row is not None:
        writes.put({**row, "purging": True})
    return False
