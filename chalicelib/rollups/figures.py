"""Pure aggregation, no I/O: raw records -> bucket figures -> window figures -> summaries (API.md §7), and
connection events + usage records -> device hour -> organization hour (API.md §8).

App-session figures ("fig") are plain dicts, as stored: {"a": attempts, "s": successes, "rt": sum of
response_time_ms, "ls": latest successful started_at or absent, "apps": {app_name: [attempts, successes]}};
window figures add "days": {YYYY-MM-DD: attempts}. Categories are the records' app_category, stripped and
lower-cased; "*" holds every category together.
"""
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from chalicelib.rollups.windows import day_of

ALL = "*"
ZERO = Decimal(0)
# What keeps an aggregate item far below DynamoDB's 400 KB: the largest entries of a map are kept and the rest
# summed into one OTHER entry (docs/rollups.md). An IP address, a physical id or an app name is never "other"
# by accident: IPs and identifiers have their own formats, and an app really named so merges with it.
OTHER = "other"
DEVICE_IPS_CAP = 1000
ORGANIZATION_IPS_CAP = 1000
SUBSCRIBERS_CAP = 2000
SUMMARY_APPS_CAP = 1000


# --- app sessions -------------------------------------------------------------------------------

def category_of(value) -> str:
    return str(value).strip().lower()


def empty() -> dict:
    return {"a": 0, "s": 0, "rt": ZERO, "apps": {}}


def add_session(fig: dict, session: dict) -> None:
    success = session.get("success") is True
    fig["a"] += 1
    fig["rt"] += Decimal(str(session.get("response_time_ms") or 0))
    app = fig["apps"].setdefault(str(session["app_name"]), [0, 0])
    app[0] += 1
    if success:
        fig["s"] += 1
        app[1] += 1
        if session["started_at"] > fig.get("ls", ""):
            fig["ls"] = session["started_at"]


def merge(into: dict, fig: dict) -> None:
    into["a"] += int(fig["a"])
    into["s"] += int(fig["s"])
    into["rt"] += Decimal(fig["rt"])
    if fig.get("ls") and fig["ls"] > into.get("ls", ""):
        into["ls"] = fig["ls"]
    for name, (attempts, successes) in fig["apps"].items():
        app = into["apps"].setdefault(name, [0, 0])
        app[0] += int(attempts)
        app[1] += int(successes)


def bucket_figures(sessions: Iterable[dict]) -> dict[str, dict]:
    """{category: fig} of the app sessions of one bucket."""
    out: dict[str, dict] = {}
    for session in sessions:
        add_session(out.setdefault(category_of(session["app_category"]), empty()), session)
    return out


def window_figures(buckets: Iterable[tuple[str, dict]], start: str, end: str) -> tuple[dict, str | None, str | None]:
    """A device's figures over [start, end) from its buckets [(bucket start, {category: fig})]:
    ({category and "*": fig with days}, oldest bucket start inside, earliest bucket start at or after `end`).

    The last two say when the figures change without new records: the oldest bucket leaves the window, or a
    bucket already holding records (up to 5 minutes ahead of the clock) enters it.
    """
    out: dict[str, dict] = {}
    oldest = entering = None
    for bucket, categories in buckets:
        if bucket >= end:
            entering = bucket if entering is None else min(entering, bucket)
            continue
        if bucket < start or not categories:
            continue
        oldest = bucket if oldest is None else min(oldest, bucket)
        day = day_of(bucket)
        for category, fig in categories.items():
            for key in (category, ALL):
                target = out.setdefault(key, {**empty(), "days": {}})
                merge(target, fig)
                target["days"][day] = target["days"].get(day, 0) + int(fig["a"])
    return out, oldest, entering


def status_of(fig: dict | None) -> str:
    """API.md §7: active = a successful attempt, failed = attempts and none successful, inactive = none."""
    if not fig or not fig["a"]:
        return "inactive"
    return "active" if fig["s"] else "failed"


# --- summaries ----------------------------------------------------------------------------------

def _summary(devices: int, types: dict[str, int]) -> dict:
    return {"devices": devices, "active": 0, "failed": 0, "attempts": 0, "successes": 0, "rt": ZERO,
            "apps": {}, "app_count": 0, "days": {}, "types": types}


def summarize(devices: list[tuple[str, dict]], window_names: Iterable[str]) -> dict[tuple[str, str, str], dict]:
    """{(window, device type or "*", category or "*"): summary} over [(device type, {window: {category: fig}})].

    A (window, type, category) other than "*" exists only where some device of that type has attempts in that
    category; readers take a missing one as its "*" sibling with no activity (summary.py, merge_scopes).
    """
    types = dict(sorted(Counter(device_type for device_type, _ in devices).items()))
    out: dict[tuple[str, str, str], dict] = {}
    for window in window_names:
        for device_type in (ALL, *types):
            out[(window, device_type, ALL)] = _summary(
                len(devices) if device_type == ALL else types[device_type],
                types if device_type == ALL else {device_type: types[device_type]})
        for device_type, windows in devices:
            for category, fig in windows.get(window, {}).items():
                for scope_type in (ALL, device_type):
                    key = (window, scope_type, category)
                    if key not in out:
                        out[key] = {**_summary(out[(window, scope_type, ALL)]["devices"], {}),
                                    "types": out[(window, scope_type, ALL)]["types"]}
                    _add_device(out[key], fig)
    for summary in out.values():
        summary["app_count"] = len(summary["apps"])
        _cap_apps(summary)
    return out


def _add_device(summary: dict, fig: dict) -> None:
    status = status_of(fig)
    if status != "inactive":
        summary[status] += 1
    summary["attempts"] += int(fig["a"])
    summary["successes"] += int(fig["s"])
    summary["rt"] += Decimal(fig["rt"])
    for name, (attempts, _) in fig["apps"].items():
        app = summary["apps"].setdefault(name, [0, 0])
        app[0] += int(attempts)
        app[1] += 1
    for day, attempts in fig["days"].items():
        summary["days"][day] = summary["days"].get(day, 0) + int(attempts)


def _cap_apps(summary: dict) -> None:
    if len(summary["apps"]) > SUMMARY_APPS_CAP:
        ranked = sorted(summary["apps"].items(), key=lambda item: (-item[1][0], item[0]))
        summary["apps"] = dict(ranked[:SUMMARY_APPS_CAP])


def merge_scopes(parts: list[dict[tuple[str, str, str], dict]]) -> dict[tuple[str, str, str], dict]:
    """The fleet's summaries from its organizations' (devices belong to one organization, so counts add up)."""
    keys = {key for part in parts for key in part}
    out = {}
    for window, device_type, category in sorted(keys):
        total = None
        for part in parts:
            summary = part.get((window, device_type, category))
            if summary is None:
                base = part.get((window, device_type, ALL))
                if base is None:
                    continue
                summary = {**_summary(base["devices"], base["types"])}
            if total is None:
                total = _summary(0, {})
            _merge_summary(total, summary)
        if total is not None:
            total["app_count"] = max(len(total["apps"]), total["app_count"])
            _cap_apps(total)
            out[(window, device_type, category)] = total
    return out


def _merge_summary(total: dict, summary: dict) -> None:
    for name in ("devices", "active", "failed", "attempts", "successes"):
        total[name] += int(summary[name])
    total["rt"] += Decimal(summary["rt"])
    for name, (attempts, devices) in summary["apps"].items():
        app = total["apps"].setdefault(name, [0, 0])
        app[0] += int(attempts)
        app[1] += int(devices)
    for table in ("days", "types"):
        for key, count in summary[table].items():
            total[table][key] = total[table].get(key, 0) + int(count)
    # Capped organizations knew more applications than they kept: the merged count is at least theirs.
    total["app_count"] = max(total["app_count"], int(summary["app_count"]))


# --- analytics: device hour and organization hour --------------------------------------------------

def capped(entries: dict[str, dict], cap: int) -> dict[str, dict]:
    """At most `cap` entries: the most bytes first (ties by key), the rest summed into OTHER."""
    if len(entries) <= cap:
        return entries
    ranked = sorted(((key, value) for key, value in entries.items() if key != OTHER),
                    key=lambda item: (-item[1]["bytes"], item[0]))
    kept = dict(ranked[:cap - 1])
    rest = [value for _, value in ranked[cap - 1:]] + ([entries[OTHER]] if OTHER in entries else [])
    kept[OTHER] = {"bytes": sum(value["bytes"] for value in rest),
                   "last_seen": max(value["last_seen"] for value in rest)}
    return kept


def _seen(into: dict, key: str, size: int, at: str) -> None:
    entry = into.setdefault(key, {"bytes": 0, "last_seen": at})
    entry["bytes"] += size
    entry["last_seen"] = max(entry["last_seen"], at)


def device_hour(events: Iterable[dict], usage: Iterable[dict]) -> dict | None:
    """A device's hour from its connection events and usage records; None when there are none."""
    figures = {"sessions": 0, "mo_bytes": 0, "mt_bytes": 0, "protocols": {}, "ips": {}, "last_seen": ""}
    for event in events:
        figures["sessions"] += event.get("event") == "Start"
        figures["last_seen"] = max(figures["last_seen"], event["occurred_at"])
    for record in usage:
        mo, mt = int(record["mo_bytes"]), int(record["mt_bytes"])
        figures["mo_bytes"] += mo
        figures["mt_bytes"] += mt
        protocol = str(record["protocol"])
        figures["protocols"][protocol] = figures["protocols"].get(protocol, 0) + mo + mt
        _seen(figures["ips"], str(record["destination_ip"]), mo + mt, record["occurred_at"])
        figures["last_seen"] = max(figures["last_seen"], record["occurred_at"])
    if not figures["last_seen"]:
        return None
    figures["ips"] = capped(figures["ips"], DEVICE_IPS_CAP)
    return figures


def organization_hour(devices: Iterable[tuple[str | None, dict]]) -> dict | None:
    """An organization's hour from its devices' hours [(physical id, device hour)]; None when there are none."""
    figures = {"sessions": 0, "mo_bytes": 0, "mt_bytes": 0, "protocols": {}, "ips": {}, "subscribers": {}}
    found = False
    for physical_id, hour in devices:
        found = True
        figures["sessions"] += int(hour["sessions"])
        figures["mo_bytes"] += int(hour["mo_bytes"])
        figures["mt_bytes"] += int(hour["mt_bytes"])
        for protocol, size in hour["protocols"].items():
            figures["protocols"][protocol] = figures["protocols"].get(protocol, 0) + int(size)
        for ip, entry in hour["ips"].items():
            _seen(figures["ips"], ip, int(entry["bytes"]), entry["last_seen"])
        if physical_id is not None:
            _seen(figures["subscribers"], physical_id, int(hour["mo_bytes"]) + int(hour["mt_bytes"]),
                  hour["last_seen"])
    if not found:
        return None
    figures["ips"] = capped(figures["ips"], ORGANIZATION_IPS_CAP)
    figures["subscribers"] = capped(figures["subscribers"], SUBSCRIBERS_CAP)
    return figures


def physical_id(device: dict) -> str:
    """The analytics' physicalId of a device: its ICCID, else EUI, else IMEI, else its serial number."""
    identifiers = device.get("identifiers") or {}
    for kind in ("iccid", "eui", "imei"):
        if identifiers.get(kind):
            return str(identifiers[kind])
    return str(device["serial_number"])
