"""Shared by the analytics tests (API.md §8): query strings, the records a test ingests the real way (POST
/telemetry/... then POST /admin/rollups/), and a small reference aggregation of those same records that every
figure the API answers is compared with, exactly.

The reference is written from the contract (API.md §5, §8), not from chalicelib: a bucket is the UTC hour a
record's occurred_at falls in; sessions are Start events; MO = mo_bytes, MT = mt_bytes; the bytes of a protocol,
an IP address or a subscriber are mo_bytes + mt_bytes of its usage records; an IP address's lastSeen is the latest
occurred_at among them, a subscriber's the latest among all its records (its last network activity, as the seed
describes it).
"""
import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from chalicelib import clock

DATA_USAGE = "/analytics/data-usage"
BY_SUBSCRIBER = "/analytics/data-usage-by-subscriber"
SESSIONS = "/analytics/session-count"
BY_PROTOCOL = "/analytics/data-usage-network-protocol"
BY_IP = "/analytics/data-usage-ip-address"
COMPANY_PATHS = (DATA_USAGE, BY_SUBSCRIBER, SESSIONS, BY_PROTOCOL, BY_IP)
SUBSCRIBER_PATHS = (DATA_USAGE + "/{}", SESSIONS + "/{}", BY_IP + "/{}")
ANALYTICS_PERMISSIONS = ("analytics:overview", "analytics:subscriber")

_event_ids = itertools.count(1)


def window(start: datetime | str, end: datetime | str, **extra) -> str:
    """?startDate=&endDate= with a `+` offset encoded (%2B) as a careful client does."""
    def text(moment):
        return moment.isoformat() if isinstance(moment, datetime) else moment
    return "?" + urlencode({"startDate": text(start), "endDate": text(end), **extra})


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def label(moment: datetime) -> str:
    """How the seed writes an hour or an instant: UTC, whole seconds, +00:00."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def base_hour(days_ago: int = 3) -> datetime:
    """An hour start recent enough for ingestion (records up to 90 days old), in the past for any rollup window."""
    return floor_hour(clock.now() - timedelta(days=days_ago))


# --- records ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    id: int
    organization_id: int
    physical_id: str


@dataclass(frozen=True)
class Usage:
    device: Device
    at: datetime
    mo: int
    mt: int
    protocol: str
    ip: str

    def record(self) -> dict:
        return {"event_id": f"use-{next(_event_ids)}", "device_id": self.device.id, "occurred_at": clock.iso(self.at),
                "mo_bytes": self.mo, "mt_bytes": self.mt, "protocol": self.protocol, "destination_ip": self.ip}


@dataclass(frozen=True)
class Connection:
    device: Device
    at: datetime
    event: str   # Start, Stop, Interim

    def record(self) -> dict:
        return {"event_id": f"conn-{next(_event_ids)}", "device_id": self.device.id,
                "occurred_at": clock.iso(self.at), "event": self.event,
                "attributes": {"FramedIpAddress": "10.0.0.1", "BytesUsed": "0"}}


def feed(api, usage: list[Usage], connections: list[Connection]) -> None:
    """Ingest through POST /telemetry/... then POST /admin/rollups/ (the platform token holds telemetry:write and
    admin): the way every figure reaches the analytics."""
    for path, records in (("/telemetry/usage/", usage), ("/telemetry/connection_events/", connections)):
        for start in range(0, len(records), 1000):
            batch = [r.record() for r in records[start:start + 1000]]
            response = api.post(path, {"records": batch})
            assert response.status_code == 202, response.body
            assert response.json_body["accepted"] == len(batch), response.body
    # No settle lag to change: POST /admin/rollups/ aggregates every record acknowledged before it (API.md §9).
    response = api.post("/admin/rollups/", {})
    assert response.status_code == 200, response.body


# --- the reference aggregation ------------------------------------------------------------------------------------

def selected(records, start: datetime, end: datetime, devices=None):
    """Records in buckets whose hour start lies in [floor_hour(start), end], of `devices` (ids) if given."""
    first = floor_hour(start.astimezone(UTC))
    return [r for r in records if first <= floor_hour(r.at) <= end and (devices is None or r.device.id in devices)]


def expected_data_usage(usage: list[Usage]) -> dict:
    mo, mt = defaultdict(int), defaultdict(int)
    for r in usage:
        hour = label(floor_hour(r.at))
        mo[hour] += r.mo
        mt[hour] += r.mt
    hours = sorted(h for h in mo if mo[h] + mt[h])
    return {"content": [{"mobileTerminated": {h: str(mt[h]) for h in hours},
                         "mobileOriginated": {h: str(mo[h]) for h in hours}}]}


def expected_session_counts(connections: list[Connection]) -> dict:
    starts = defaultdict(int)
    for c in connections:
        if c.event == "Start":
            starts[label(floor_hour(c.at))] += 1
    return {"content": {h: str(starts[h]) for h in sorted(starts)}}


def expected_by_protocol(usage: list[Usage]) -> dict:
    used = defaultdict(lambda: defaultdict(int))
    for r in usage:
        used[r.protocol][label(floor_hour(r.at))] += r.mo + r.mt
    return {"content": {p: {h: str(n) for h, n in sorted(hours.items())} for p, hours in used.items()}}


def _bytes_and_last_seen(usage: list[Usage], key) -> tuple[dict, dict]:
    used, seen = defaultdict(int), {}
    for r in usage:
        used[key(r)] += r.mo + r.mt
        seen[key(r)] = max(seen.get(key(r), r.at), r.at)
    return used, seen


def expected_by_ip(usage: list[Usage]) -> dict:
    used, seen = _bytes_and_last_seen(usage, lambda r: r.ip)
    by_ip = {ip: {"lastSeen": label(seen[ip]), "bytes": str(n)} for ip, n in used.items()}
    return {"content": [{"dataUsageByIp": by_ip, "totalData": sum(used.values())}]}


def expected_by_subscriber(usage: list[Usage], connections: list[Connection]) -> dict:
    """Every subscriber with a record in the range: its bytes, keyed by its last network activity (the latest
    occurred_at of its usage records and connection events alike)."""
    used, seen = _bytes_and_last_seen(usage, lambda r: r.device.physical_id)
    for c in connections:
        pid = c.device.physical_id
        used[pid] += 0
        seen[pid] = max(seen.get(pid, c.at), c.at)
    return {"content": {"subscriberDataUsage": {pid: {label(seen[pid]): str(n)} for pid, n in used.items()},
                        "totalDataUsage": sum(used.values())}}
