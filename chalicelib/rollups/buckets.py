"""A device's app-session buckets (API.md §7), recomputed from its raw app sessions for the hours a unit touches.

Per touched hour: the hour bucket, and its 5-minute buckets while they can be in the 1h window; per touched UTC
day: the day bucket, summed from the day's hour buckets (those stored, this unit's over them). What comes out is
the list of buckets whose figures changed, old and new: state.py carries the difference into the device's windows.
"""
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.rollups import db, figures, raw
from chalicelib.rollups.journal import Writes
from chalicelib.rollups.windows import BUCKET_RETENTION, BY_NAME, DAY, HOUR, MINUTE, bucket_of
from chalicelib.store import schema

MINUTE_SLOTS = 12   # 5-minute buckets of an hour


@dataclass
class BucketChange:
    size: str
    start: str
    old: dict      # {category: fig}, {} when there was none
    new: dict


def _expires(start: str, size: str) -> int:
    return int((clock.parse_iso(start) + BUCKET_RETENTION[size]).timestamp())


def bucket_item(device_id: int, organization_id: int, size: str, start: str, categories: dict) -> dict:
    return {**schema.app_bucket_key(device_id, size, start), "entity": "AppBucket", "device_id": device_id,
            "organization_id": organization_id, "size": size, "start": start, "categories": db.pack(categories),
            schema.TTL_ATTRIBUTE: _expires(start, size)}


def recompute(device_id: int, organization_id: int, hours: set[str], at: datetime) -> list[BucketChange]:
    """The device's buckets of `hours` and of their days, as the raw records make them now: what changed."""
    sessions = raw.by_hour(device_id, "app_session", hours)
    minute_window_start = clock.iso(BY_NAME["1h"].bounds(at)[0] - timedelta(hours=1))
    fresh: dict[tuple[str, str], dict] = {}
    wanted = []
    for hour in hours:
        records = sessions.get(hour, [])
        fresh[(HOUR, hour)] = figures.bucket_figures(records)
        if hour >= minute_window_start:   # 5-minute buckets serve the 1h window only
            by_slot = defaultdict(list)
            for record in records:
                by_slot[bucket_of(record["started_at"], MINUTE)].append(record)
            start = clock.parse_iso(hour)
            for n in range(MINUTE_SLOTS):
                slot = clock.iso(start + timedelta(minutes=5 * n))
                fresh[(MINUTE, slot)] = figures.bucket_figures(by_slot.get(slot, []))
                wanted.append(schema.app_bucket_key(device_id, MINUTE, slot))
    days = sorted({bucket_of(hour, DAY) for hour in hours})
    stored_hours: dict[str, dict] = {}
    for start, end in raw.spans(days, timedelta(days=1)):   # the days' hours, one Query per run of days
        for item in db.query(schema.device_aggregates_partition(device_id), schema.app_bucket_sort_value(HOUR, start),
                             schema.app_bucket_sort_value(HOUR, end)):
            if item["start"] < end:
                stored_hours[item["start"]] = db.unpack(item["categories"])
    stored = {(item["size"], item["start"]): db.unpack(item["categories"]) for item in db.batch_get(
        wanted + [schema.app_bucket_key(device_id, DAY, day) for day in days]).values()}
    stored.update({(HOUR, start): categories for start, categories in stored_hours.items()})
    hourly = {**stored_hours, **{start: categories for (size, start), categories in fresh.items() if size == HOUR}}
    for day in days:
        total: dict[str, dict] = {}
        for hour, categories in hourly.items():
            if hour[:10] == day[:10]:
                for category, fig in categories.items():
                    into = total.setdefault(category, figures.empty())
                    figures.merge(into, fig)
                    if fig.get("ls") and fig["ls"] > into.get("ls", ""):
                        into["ls"] = fig["ls"]
        fresh[(DAY, day)] = total
    return [BucketChange(size, start, stored.get((size, start), {}), new)
            for (size, start), new in sorted(fresh.items()) if _plain(stored.get((size, start), {})) != _plain(new)]


def write_changes(writes: Writes, device_id: int, organization_id: int, changes: list[BucketChange]) -> None:
    for change in changes:
        if change.new:
            writes.put(bucket_item(device_id, organization_id, change.size, change.start, change.new))
        else:
            writes.delete(schema.app_bucket_key(device_id, change.size, change.start))


def _plain(categories: dict) -> str:
    return db.pack(categories)
