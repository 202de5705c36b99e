"""Pure aggregation, no I/O: raw records -> bucket figures (API.md §7) and device hours (API.md §8), and the
arithmetic a unit does on them (adding, subtracting, comparing).

App-session figures ("fig") are plain dicts, as stored: {"a": attempts, "s": successes, "rt": sum of
response_time_ms, "ls": latest successful started_at or absent, "apps": {app_name: [attempts, successes]}};
window figures add "days": {YYYY-MM-DD: attempts}. Categories are the records' app_category, stripped and
lower-cased; "*" holds every category together.
"""
from collections.abc import Iterable
from decimal import Decimal

ALL = "*"
ZERO = Decimal(0)


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


def bucket_figures(sessions: Iterable[dict]) -> dict[str, dict]:
    """{category: fig} of the app sessions of one bucket."""
    out: dict[str, dict] = {}
    for session in sessions:
        add_session(out.setdefault(category_of(session["app_category"]), empty()), session)
    return out


def merge(into: dict, fig: dict, sign: int = 1) -> None:
    """into += fig (sign 1) or into -= fig (sign -1); apps and days that fall to zero are dropped. `ls` is not
    touched: a window's latest success is the largest of its buckets' (state.py keeps them)."""
    into["a"] = int(into["a"]) + sign * int(fig["a"])
    into["s"] = int(into["s"]) + sign * int(fig["s"])
    into["rt"] = Decimal(str(into["rt"])) + sign * Decimal(str(fig["rt"]))
    for name, (attempts, successes) in fig["apps"].items():
        app = into["apps"].setdefault(name, [0, 0])
        app[0] += sign * int(attempts)
        app[1] += sign * int(successes)
        if not app[0] and not app[1]:
            del into["apps"][name]


def status_of(fig: dict | None) -> str:
    """API.md §7: active = a successful attempt, failed = attempts and none successful, inactive = none."""
    if not fig or not int(fig["a"]):
        return "inactive"
    return "active" if int(fig["s"]) else "failed"


def total(categories: dict[str, dict]) -> dict:
    """Every category's figures together (the "*" category), days included."""
    out = {**empty(), "days": {}}
    for fig in categories.values():
        merge(out, fig)
        for day, attempts in fig.get("days", {}).items():
            out["days"][day] = out["days"].get(day, 0) + int(attempts)
        if fig.get("ls") and fig["ls"] > out.get("ls", ""):
            out["ls"] = fig["ls"]
    return out


# --- analytics: a device's hour ---------------------------------------------------------------------

def connection_part(events: Iterable[dict]) -> dict | None:
    """A device hour's connection-event figures: sessions (Start events) and the latest event; None without any."""
    part = {"sessions": 0, "seen_conn": ""}
    for event in events:
        part["sessions"] += event.get("event") == "Start"
        part["seen_conn"] = max(part["seen_conn"], event["occurred_at"])
    return part if part["seen_conn"] else None


def usage_part(usage: Iterable[dict]) -> tuple[dict | None, dict[str, list]]:
    """A device hour's usage figures (mo_bytes, mt_bytes, protocols {protocol: bytes}, the latest record) and its
    addresses {ip: [bytes, latest]}; (None, {}) without any record."""
    part = {"mo_bytes": 0, "mt_bytes": 0, "protocols": {}, "seen_use": ""}
    ips: dict[str, list] = {}
    for record in usage:
        mo, mt = int(record["mo_bytes"]), int(record["mt_bytes"])
        part["mo_bytes"] += mo
        part["mt_bytes"] += mt
        protocol = str(record["protocol"])
        part["protocols"][protocol] = part["protocols"].get(protocol, 0) + mo + mt
        entry = ips.setdefault(str(record["destination_ip"]), [0, record["occurred_at"]])
        entry[0] += mo + mt
        entry[1] = max(entry[1], record["occurred_at"])
        part["seen_use"] = max(part["seen_use"], record["occurred_at"])
    return (part, ips) if part["seen_use"] else (None, {})


def device_hour(connection: dict | None, usage: dict | None) -> dict | None:
    """A device's hour from its two parts (each recomputed, or kept when no record of its kind came): sessions,
    mo_bytes, mt_bytes, protocols, last_seen (the latest record of either kind); None when there are none."""
    if connection is None and usage is None:
        return None
    connection = connection or {"sessions": 0, "seen_conn": ""}
    usage = usage or {"mo_bytes": 0, "mt_bytes": 0, "protocols": {}, "seen_use": ""}
    return {**connection, **usage, "last_seen": max(connection["seen_conn"], usage["seen_use"])}


def physical_id(device: dict) -> str:
    """The analytics' physicalId of a device: its ICCID, else EUI, else IMEI, else its serial number."""
    identifiers = device.get("identifiers") or {}
    for kind in ("iccid", "eui", "imei"):
        if identifiers.get(kind):
            return str(identifiers[kind])
    return str(device["serial_number"])


# --- an instant inside its hour, as a number -----------------------------------------------------------------------
# An IP address's day entry keeps, per lane and hour, its latest record: at 96 lanes x 24 hours, as clock.iso strings
# (30 bytes with the name) that is ~70 KB, and every guarded ADD is billed for the whole item. Milliseconds within the
# hour (at most 3,599,999: 5 bytes as a DynamoDB number) keep it near 25 KB.

def ms_in_hour(moment: str) -> int:
    """Milliseconds since the hour start of a clock.iso instant ("2026-11-25T16:03:12.345Z" -> 192345)."""
    return int(moment[14:16]) * 60_000 + int(moment[17:19]) * 1000 + int(moment[20:23])


def at_ms_in_hour(hour_start: str, ms: int) -> str:
    """The clock.iso instant `ms` milliseconds after an hour start given as clock.iso (its inverse)."""
    ms = int(ms)
    return f"{hour_start[:14]}{ms // 60_000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
