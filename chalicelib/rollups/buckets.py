"""Recompute the buckets a change-log entry names, from the raw records, and write them over the old ones.

Recomputing (never adding to) a bucket is what makes a run idempotent: a bucket written twice, or by a run
that crashed before its watermark moved, holds the same figures. A device's touched hours are read with
one Query per kind and per run of nearby hours (a backfill of a week is a handful of Queries, not 168).

Per (device, hour) of connection events or usage: the device-hour item (API.md §8), then per (organization,
hour) the organization-hour item summed from its devices' hours. Per (device, hour) of app sessions: the
hour bucket, its 5-minute buckets while they can be in the 1h window, and the day bucket summed from the
day's hours (API.md §7).
"""
from collections import defaultdict
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.rollups import db, figures
from chalicelib.rollups.windows import BUCKET_RETENTION, BY_NAME, DAY, HOUR, MINUTE, bucket_of
from chalicelib.store import schema

SPAN_GAP = timedelta(hours=6)   # touched hours closer than this are read by one Query...
BACKFILL_GAP = timedelta(days=2)   # ...and closer than this when they are scattered (a backfill, a first run)
BACKFILL_SPANS = 3
DAY_QUERY_HOURS = 3             # an organization-day with this many touched hours is read whole (GSI2)


def _merge(spans: list[list[datetime]], gap: timedelta) -> list[list[datetime]]:
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _spans(starts: list[str], length: timedelta = timedelta(hours=1)) -> list[tuple[str, str]]:
    """[(first start, end of last bucket)] covering the buckets starting at `starts`: those less than SPAN_GAP
    apart in one span; when that leaves more than BACKFILL_SPANS, those less than BACKFILL_GAP apart. A record
    out of the touched buckets is read for nothing, so a wide gap is two Queries; many narrow ones, one."""
    spans = _merge([[clock.parse_iso(s), clock.parse_iso(s) + length] for s in sorted(starts)], SPAN_GAP)
    if len(spans) > BACKFILL_SPANS:
        spans = _merge(spans, BACKFILL_GAP)
    return [(clock.iso(a), clock.iso(b)) for a, b in spans]


# What each kind's figures are made of: a connection event's RADIUS attributes are most of its size.
FIELDS = {"connection_event": ("SK", "occurred_at", "event"),
          "usage": ("SK", "occurred_at", "mo_bytes", "mt_bytes", "protocol", "destination_ip"),
          "app_session": ("SK", "started_at", "app_name", "app_category", "success", "response_time_ms")}


def raw_by_hour(device_id: int, kind: str, hours: set[str]) -> dict[str, list[dict]]:
    """The device's records of `kind` in those hours (and the hours between them), by hour."""
    out: dict[str, list[dict]] = defaultdict(list)
    for start, end in _spans(list(hours)):
        # Sort keys are "<at>#<event id>": from "<start>" up to "<end>" is every record in [start, end).
        for item in db.query(schema.telemetry_partition(device_id, kind), start, end, attributes=FIELDS[kind],
                             kind="records"):
            at = item["SK"].split("#", 1)[0]
            out[bucket_of(at, HOUR)].append(item)
    return out


def _expires(start: str, retention: timedelta) -> int:
    return int((clock.parse_iso(start) + retention).timestamp())


# --- analytics (API.md §8) --------------------------------------------------------------------------

def rollup_device_hours(organization_id: int, touched: dict[int, set[str]], physical_ids: dict[int, str | None],
                        now: datetime) -> dict[str, dict[int, dict | None]]:
    """Rewrite the device-hour items of `touched` {device: hours}; {hour: {device: item or None}} as written."""
    computed_at = clock.iso(now)
    retention = timedelta(days=get_settings().telemetry_retention_days)
    written: dict[str, dict[int, dict | None]] = defaultdict(dict)
    puts, deletes = [], []
    for device_id, hours in touched.items():
        events = raw_by_hour(device_id, "connection_event", hours)
        usage = raw_by_hour(device_id, "usage", hours)
        for hour in hours:
            key = schema.device_hour_key(device_id, hour)
            hour_figures = figures.device_hour(events.get(hour, ()), usage.get(hour, ()))
            if hour_figures is None:
                deletes.append(key)
                written[hour][device_id] = None
                continue
            item = {**key, **schema.device_hour_index_keys(organization_id, hour, device_id), "entity": "DeviceHour",
                    "organization_id": organization_id, "device_id": device_id, "hour": hour,
                    "physical_id": physical_ids.get(device_id), **hour_figures, "computed_at": computed_at,
                    schema.TTL_ATTRIBUTE: _expires(hour, retention)}
            puts.append(item)
            written[hour][device_id] = item
    db.write(puts, deletes)
    return written


def rollup_organization_hours(organization_id: int, written: dict[str, dict[int, dict | None]], now: datetime,
                              stored: bool = True) -> None:
    """Rewrite the organization-hour item of each hour in `written`, summed from its devices' hours: those
    just written, and the others read from GSI1/GSI2 (not readable consistently, so this run's own writes win)
    unless no run wrote any before (`stored` false)."""
    computed_at = clock.iso(now)
    retention = timedelta(days=get_settings().telemetry_retention_days)
    puts, deletes = [], []
    by_day: dict[str, list[str]] = defaultdict(list)
    for hour in written:
        by_day[hour[:10]].append(hour)
    stored: dict[str, dict[int, dict]] = defaultdict(dict)
    for day, hours in by_day.items() if stored else ():
        if len(hours) >= DAY_QUERY_HOURS:
            for item in db.query(schema.organization_day_devices_pk(organization_id, day), index="GSI2"):
                stored[item["hour"]][int(item["device_id"])] = item
            continue
        for hour in hours:
            for item in db.query(schema.organization_hour_devices_pk(organization_id, hour), index="GSI1"):
                stored[hour][int(item["device_id"])] = item
    for hour, fresh in written.items():
        stored[hour].update(fresh)
        hours = [(item.get("physical_id"), item) for item in stored[hour].values() if item is not None]
        key = schema.organization_hour_key(organization_id, hour)
        total = figures.organization_hour(hours)
        if total is None:
            deletes.append(key)
        else:
            puts.append({**key, "entity": "OrganizationHour", "organization_id": organization_id, "hour": hour,
                         **total, "computed_at": computed_at, schema.TTL_ATTRIBUTE: _expires(hour, retention)})
    db.write(puts, deletes)


# --- app sessions (API.md §7) ------------------------------------------------------------------------

def _bucket_item(device_id: int, organization_id: int, size: str, start: str, categories: dict,
                 computed_at: str) -> dict:
    return {**schema.app_bucket_key(device_id, size, start), "entity": "AppBucket", "device_id": device_id,
            "organization_id": organization_id, "size": size, "start": start, "categories": db.pack(categories),
            "computed_at": computed_at, schema.TTL_ATTRIBUTE: _expires(start, BUCKET_RETENTION[size])}


def rollup_app_buckets(device_id: int, organization_id: int, hours: set[str], now: datetime,
                       stored: bool = True) -> dict[str, dict[str, dict]]:
    """Rewrite the device's app-session buckets of `hours`: {size: {start: categories}} as written. Without
    `stored` buckets (a device no run has rolled up yet) its days are summed from these hours alone."""
    computed_at = clock.iso(now)
    minute_window_start = clock.iso(BY_NAME["1h"].bounds(now)[0] - timedelta(hours=1))
    sessions = raw_by_hour(device_id, "app_session", hours)
    fresh: dict[str, dict[str, dict]] = {MINUTE: {}, HOUR: {}, DAY: {}}
    puts, deletes = [], []
    for hour in hours:
        records = sessions.get(hour, [])
        fresh[HOUR][hour] = figures.bucket_figures(records)
        if hour >= minute_window_start:   # 5-minute buckets serve the 1h window only
            by_slot = defaultdict(list)
            for record in records:
                by_slot[bucket_of(record["started_at"], MINUTE)].append(record)
            fresh[MINUTE].update({slot: figures.bucket_figures(slot_records)
                                  for slot, slot_records in by_slot.items()})
    days = {bucket_of(hour, DAY) for hour in hours}
    stored_hours: dict[str, dict] = {}
    for start, end in _spans(list(days), timedelta(days=1)) if stored else ():   # their hours, a Query a run
        stored_hours.update({item["start"]: db.unpack(item["categories"]) for item in db.query(
            schema.app_bucket_key(device_id, HOUR, start)["PK"], schema.app_bucket_sort_value(HOUR, start),
            schema.app_bucket_sort_value(HOUR, end)) if item["start"] < end})
    stored_hours.update(fresh[HOUR])
    for day in days:
        total: dict[str, dict] = {}
        for hour, categories in stored_hours.items():
            if hour[:10] == day[:10]:
                for category, fig in categories.items():
                    figures.merge(total.setdefault(category, figures.empty()), fig)
        fresh[DAY][day] = total
    for size, buckets in fresh.items():
        for start, categories in buckets.items():
            if categories:
                puts.append(_bucket_item(device_id, organization_id, size, start, categories, computed_at))
            else:
                deletes.append(schema.app_bucket_key(device_id, size, start))
    db.write(puts, deletes)
    return fresh
