"""A small reference aggregation of the records a test ingested, written from the contract (API.md §7, §8 and
docs/rollups.md), not from chalicelib: every figure the API answers or the rollups store is compared with it.

§7 windows end with the bucket holding the run's time and span their length back: 1h in 5-minute buckets,
24h in hours, 7d/30d/90d in UTC days. success_rate and average_response_time have one decimal (half up);
the quality class is taken from those shown figures.
"""
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WINDOWS = {"1h": (timedelta(minutes=5), timedelta(hours=1)), "24h": (timedelta(hours=1), timedelta(hours=24)),
           "7d": (timedelta(days=1), timedelta(days=7)), "30d": (timedelta(days=1), timedelta(days=30)),
           "90d": (timedelta(days=1), timedelta(days=90))}
DAYS = {"1h": 1, "24h": 1, "7d": 7, "30d": 30, "90d": 90}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def bounds(window: str, now: datetime) -> tuple[datetime, datetime]:
    size, length = WINDOWS[window]
    end = EPOCH + (now - EPOCH) // size * size + size
    return end - length, end


def one_decimal(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def in_window(sessions: list[dict], window: str, now: datetime, category: str | None = None) -> list[dict]:
    start, end = bounds(window, now)
    return [s for s in sessions if start <= when(s["started_at"]) < end
            and (category is None or s["app_category"].strip().lower() == category)]


def row(device: dict, sessions: list[dict], window: str, now: datetime, category: str | None = None) -> dict:
    """The result row of one device, from every app session the test ingested."""
    mine = [s for s in in_window(sessions, window, now, category) if s["device_id"] == device["id"]]
    attempts = len(mine)
    successes = sum(1 for s in mine if s["success"])
    total_ms = sum(Decimal(str(s["response_time_ms"])) for s in mine)
    rate = one_decimal(Decimal(successes) * 100 / attempts) if attempts else None
    average = one_decimal(total_ms / attempts) if attempts else None
    status = "inactive" if not attempts else ("active" if successes else "failed")
    if status == "inactive":
        quality = None
    elif rate >= 98 and average <= 250:
        quality = "excellent"
    else:
        quality = "good" if rate >= 95 else ("fair" if rate >= 90 else "poor")
    successful = [when(s["started_at"]) for s in mine if s["success"]]
    return {"device_id": device["id"], "device_name": device["name"], "device_type": device["category"],
            "organization": device["organization"], "total_attempts": attempts,
            "successful_connections": successes, "failed_connections": attempts - successes,
            "success_rate": rate, "average_response_time": average,
            "last_successful_connection": iso(max(successful)) if successful else None, "status": status,
            "connection_quality": quality}


def summary(devices: list[dict], sessions: list[dict], window: str, now: datetime, last_updated: str,
            category: str | None = None) -> tuple[dict, dict]:
    """(summary, aggregated_insights) over `devices` (the scope after organization and type filters)."""
    ids = {device["id"] for device in devices}
    mine = [s for s in in_window(sessions, window, now, category) if s["device_id"] in ids]
    rows = [row(device, sessions, window, now, category) for device in devices]
    attempts = len(mine)
    successes = sum(1 for s in mine if s["success"])
    total_ms = sum(Decimal(str(s["response_time_ms"])) for s in mine)
    apps: dict[str, list] = defaultdict(lambda: [0, set()])
    for s in mine:
        apps[s["app_name"]][0] += 1
        apps[s["app_name"]][1].add(s["device_id"])
    per_day = Counter(when(s["started_at"]).strftime("%Y-%m-%d") for s in mine)
    peak = min(per_day, key=lambda day: (-per_day[day], day)) if per_day else None
    types = Counter(device["category"] for device in devices)
    overview = {"total_devices": len(devices), "active_devices": sum(r["status"] == "active" for r in rows),
                "total_applications": len(apps), "active_connections": successes,
                "success_rate": one_decimal(Decimal(successes) * 100 / attempts) if attempts else None,
                "average_response_time": one_decimal(total_ms / attempts) if attempts else None,
                "time_range": window, "last_updated": last_updated}
    top = sorted(apps.items(), key=lambda item: (-item[1][0], item[0]))[:10]
    insights = {"top_applications": [{"app_name": name, "connection_count": n, "unique_devices": len(who)}
                                     for name, (n, who) in top],
                "device_type_breakdown": {t: one_decimal(Decimal(n) * 100 / len(devices)) for t, n in types.items()},
                "connection_trends": {"daily_average": one_decimal(Decimal(attempts) / DAYS[window]),
                                      "peak_day": peak, "peak_connections": per_day[peak] if peak else 0}}
    return overview, insights


def period(window: str, now: datetime) -> dict:
    start, end = bounds(window, now)
    return {"start_date": iso(start), "end_date": iso(end - timedelta(milliseconds=1)), "time_range": window}


# --- API.md §8: the device-hour and organization-hour items ------------------------------------------------

def hour_of(text: str) -> str:
    return iso(when(text).replace(minute=0, second=0, microsecond=0))


def device_hours(events: list[dict], usage: list[dict]) -> dict[tuple[int, str], dict]:
    """{(device, hour): the figures the device-hour item holds}."""
    out: dict[tuple[int, str], dict] = {}

    def hour_item(device_id, at):
        return out.setdefault((device_id, hour_of(at)), {"sessions": 0, "mo_bytes": 0, "mt_bytes": 0, "protocols": {},
                                                         "ips": {}, "last_seen": ""})
    for event in events:
        item = hour_item(event["device_id"], event["occurred_at"])
        item["sessions"] += event["event"] == "Start"
        item["last_seen"] = max(item["last_seen"], iso(when(event["occurred_at"])))
    for record in usage:
        item = hour_item(record["device_id"], record["occurred_at"])
        size = record["mo_bytes"] + record["mt_bytes"]
        item["mo_bytes"] += record["mo_bytes"]
        item["mt_bytes"] += record["mt_bytes"]
        protocol = record["protocol"].upper()
        item["protocols"][protocol] = item["protocols"].get(protocol, 0) + size
        seen = iso(when(record["occurred_at"]))
        ip = item["ips"].setdefault(record["destination_ip"], {"bytes": 0, "last_seen": seen})
        ip["bytes"] += size
        ip["last_seen"] = max(ip["last_seen"], seen)
        item["last_seen"] = max(item["last_seen"], seen)
    return out


def organization_hours(hours: dict[tuple[int, str], dict], organization_of: dict[int, int],
                       physical_id_of: dict[int, str]) -> dict[tuple[int, str], dict]:
    out: dict[tuple[int, str], dict] = {}
    for (device_id, hour), item in sorted(hours.items()):
        total = out.setdefault((organization_of[device_id], hour), {
            "sessions": 0, "mo_bytes": 0, "mt_bytes": 0, "protocols": {}, "ips": {}, "subscribers": {}})
        for name in ("sessions", "mo_bytes", "mt_bytes"):
            total[name] += item[name]
        for protocol, size in item["protocols"].items():
            total["protocols"][protocol] = total["protocols"].get(protocol, 0) + size
        for ip, entry in item["ips"].items():
            mine = total["ips"].setdefault(ip, {"bytes": 0, "last_seen": entry["last_seen"]})
            mine["bytes"] += entry["bytes"]
            mine["last_seen"] = max(mine["last_seen"], entry["last_seen"])
        total["subscribers"][physical_id_of[device_id]] = {"bytes": item["mo_bytes"] + item["mt_bytes"],
                                                           "last_seen": item["last_seen"]}
    return out
