"""Raw telemetry as a unit reads it: a device's records of the hours it touches, and the periods they fall in.

A device's records of one kind are one partition sorted by time (telemetry/db.py), so the records of a run of
nearby hours are one Query. Touched hours less than SPAN_GAP apart share a Query; when that still leaves more than
BACKFILL_SPANS Queries (a backfill, or a first run over a week of history), hours less than BACKFILL_GAP apart do.
"""
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.rollups import db
from chalicelib.store import schema

SPAN_GAP = timedelta(hours=6)
BACKFILL_GAP = timedelta(days=2)
BACKFILL_SPANS = 3
HOUR = timedelta(hours=1)

# What each kind's figures are made of: a connection event's RADIUS attributes are most of its size.
FIELDS = {"connection_event": ("SK", "organization_id", "occurred_at", "event"),
          "usage": ("SK", "organization_id", "occurred_at", "mo_bytes", "mt_bytes", "protocol", "destination_ip"),
          "app_session": ("SK", "started_at", "app_name", "app_category", "success", "response_time_ms")}


def _merge(spans: list[list[datetime]], gap: timedelta) -> list[list[datetime]]:
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def spans(starts: list[str], length: timedelta = HOUR) -> list[tuple[str, str]]:
    """[(first start, end of last bucket)] covering the buckets starting at `starts`: a record out of the touched
    buckets is read for nothing, so a wide gap is two Queries; many narrow ones, one."""
    merged = _merge([[clock.parse_iso(s), clock.parse_iso(s) + length] for s in sorted(starts)], SPAN_GAP)
    if len(merged) > BACKFILL_SPANS:
        merged = _merge(merged, BACKFILL_GAP)
    return [(clock.iso(a), clock.iso(b)) for a, b in merged]


def by_hour(device_id: int, kind: str, hours: set[str]) -> dict[str, list[dict]]:
    """The device's records of `kind` in those hours (and the hours between them), by hour."""
    out: dict[str, list[dict]] = defaultdict(list)
    for start, end in spans(list(hours)):
        # Sort keys are "<at>#<event id>": from "<start>" up to "<end>" is every record in [start, end).
        for item in db.query(schema.telemetry_partition(device_id, kind), start, end, attributes=FIELDS[kind],
                             records=True):
            out[hour_of(item["SK"].split("#", 1)[0])].append(item)
    return out


# --- periods -----------------------------------------------------------------------------------------

def hour_of(at: str) -> str:
    return clock.iso(clock.parse_iso(at).replace(minute=0, second=0, microsecond=0))


def day_of(hour: str) -> str:
    return hour[:10]


def month_of(hour: str) -> str:
    return hour[:7]


def period_of(level: str, hour: str) -> str:
    return {"H": hour, "D": day_of(hour), "M": month_of(hour)}[level]


def period_end(level: str, period: str) -> datetime:
    if level == "H":
        return clock.parse_iso(period) + HOUR
    if level == "D":
        return datetime.fromisoformat(period).replace(tzinfo=UTC) + timedelta(days=1)
    year, month = int(period[:4]), int(period[5:7])
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def expires_at(level: str, period: str) -> int:
    """An aggregate is kept as long as the records it sums (TELEMETRY_RETENTION_DAYS after its period)."""
    return int((period_end(level, period) + timedelta(days=get_settings().telemetry_retention_days)).timestamp())
