"""A device's app-session buckets (API.md §7), recomputed from its raw app sessions for the hours a unit touches.

Per touched hour: the hour bucket, and its 5-minute buckets while they can be in the 1h window; per touched UTC
day: the day bucket, moved by the difference of its hours (records are only ever added, so a day's latest success
is the largest of its hours'). What comes out is the list of buckets whose figures changed, old and new: state.py
carries the difference into the device's windows.
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


def recompute(devices: dict[int, set[str]], at: datetime) -> dict[int, list[BucketChange]]:
    """{device: its buckets that changed} for the touched hours of each device, as its raw records make them now: one
    Query of raw records per device and run of hours (on threads), one BatchGetItem per 100 stored buckets for all."""
    fresh = dict(zip(devices, db.parallel(lambda pair: _fresh(*pair, at), list(devices.items())), strict=True))
    wanted = [schema.app_bucket_key(device_id, size, start) for device_id, buckets in fresh.items()
              for size, start in buckets]
    wanted += [schema.app_bucket_key(device_id, DAY, day) for device_id, hours in devices.items()
               for day in {bucket_of(hour, DAY) for hour in hours}]
    stored = {(int(item["device_id"]), item["size"], item["start"]): db.unpack(item["categories"])
              for item in db.batch_get(wanted).values()}
    out = {}
    for device_id, buckets in fresh.items():
        old = {(size, start): stored.get((device_id, size, start), {}) for size, start in buckets}
        days: dict[str, dict] = {}
        for (size, start), categories in buckets.items():
            if size != HOUR:
                continue
            # A day is its hours: the stored day, less what an hour held, plus what it holds now.
            day = days.setdefault(bucket_of(start, DAY), _copy(stored.get((device_id, DAY, bucket_of(start, DAY)), {})))
            _shift(day, old[(size, start)], -1)
            _shift(day, categories, 1)
        for day, categories in days.items():
            buckets[(DAY, day)] = categories
            old[(DAY, day)] = stored.get((device_id, DAY, day), {})
        out[device_id] = [BucketChange(size, start, old[(size, start)], new) for (size, start), new
                          in sorted(buckets.items()) if _plain(old[(size, start)]) != _plain(new)]
    return out


def _fresh(device_id: int, hours: set[str], at: datetime) -> dict[tuple[str, str], dict]:
    """{(size, start): categories} of the device's hours and, while they can be in the 1h window, their 5-minute
    buckets, from the raw app sessions."""
    sessions = raw.by_hour(device_id, "app_session", hours)
    minute_window_start = clock.iso(BY_NAME["1h"].bounds(at)[0] - timedelta(hours=1))
    fresh: dict[tuple[str, str], dict] = {}
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
    return fresh


def _copy(categories: dict) -> dict:
    return db.unpack(db.pack(categories))


def _shift(into: dict, categories: dict, sign: int) -> None:
    for category, fig in categories.items():
        target = into.setdefault(category, figures.empty())
        figures.merge(target, fig, sign)
        if sign > 0 and fig.get("ls") and fig["ls"] > target.get("ls", ""):
            target["ls"] = fig["ls"]
        if not int(target["a"]) and not target["apps"]:
            del into[category]


def write_changes(writes: Writes, device_id: int, organization_id: int, changes: list[BucketChange]) -> None:
    for change in changes:
        if change.new:
            writes.put(bucket_item(device_id, organization_id, change.size, change.start, change.new))
        else:
            writes.delete(schema.app_bucket_key(device_id, change.size, change.start))


def _plain(categories: dict) -> str:
    return db.pack(categories)
