"""Analytics use cases (API.md §8): company figures from the organization's day totals and map entries, subscriber
figures from the device's own days and IP entries (analytics/db.py). Nothing here reads a telemetry record.
"""
import json
import re
from collections import defaultdict
from urllib.parse import unquote

from chalicelib import clock
from chalicelib.analytics import db, ranges, responses
from chalicelib.analytics.models import AnalyticsQuery, MapQuery, SubscriberMapQuery, SubscriberQuery
from chalicelib.errors import NotFound
from chalicelib.rollups import figures
from chalicelib.tokens.models import Principal

OVERVIEW = "analytics:overview"
SUBSCRIBER = "analytics:subscriber"
# The seed's physicalId: ICCID (cellular), EUI (non-IP), IMEI (satellite); their formats do not overlap, so at most
# one of them passes validation and is looked up. Then the serial number: the rollups key a device that has none
# of the three by it (rollups.figures.physical_id), and every key data-usage-by-subscriber lists must lead here.
SUBSCRIBER_KINDS = ("iccid", "eui", "imei", "serial")
# An organization day's attributes: per hour HH, sessions (sHH), bytes sent (moHH) and received (mtHH), and bytes by
# protocol (pHH#<PROTOCOL>).
_TOTAL = re.compile(r"(s|mo|mt)([0-9]{2})")
_PROTOCOL = re.compile(r"p([0-9]{2})#(.+)")
# An IP address's day entry: bytes by hour (bHH) and, per lane, its latest record (l<lane>) and by hour (l<lane>hHH, in
# milliseconds within the hour: rollups.figures.ms_in_hour).
_HOUR_BYTES = re.compile(r"b([0-9]{2})")
_LANE_SEEN = re.compile(r"l[0-9]+")
_LANE_HOUR_SEEN = re.compile(r"l[0-9]+h([0-9]{2})")


def subscriber_caller(principal: Principal) -> Principal:
    """The principal, once it holds both permissions a subscriber path needs (routes check it before the query,
    so that a token without them learns nothing but 403). Raises: Forbidden."""
    principal.require(OVERVIEW)
    principal.require(SUBSCRIBER)
    return principal


# --- company (the caller's organization; every organization for a platform token) ------------------------------

def company_data_usage(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/data-usage. Raises: Forbidden, BadRequest (RESPONSE_TOO_LARGE)."""
    hours, _ = _company_totals(principal, query)
    return responses.fitting({"content": responses.data_usage(hours)})


def company_session_count(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/session-count. Raises: Forbidden, BadRequest (RESPONSE_TOO_LARGE)."""
    hours, _ = _company_totals(principal, query)
    return responses.fitting(responses.session_count(hours))


def company_usage_by_protocol(principal: Principal, query: AnalyticsQuery) -> dict:
    """GET /analytics/data-usage-network-protocol. Raises: Forbidden, BadRequest (RESPONSE_TOO_LARGE)."""
    _, protocols = _company_totals(principal, query)
    return responses.fitting({"content": responses.usage_by_protocol(protocols)})


def company_usage_by_subscriber(principal: Principal, query: MapQuery) -> dict:
    """GET /analytics/data-usage-by-subscriber. Raises: Forbidden, BadRequest (RESPONSE_TOO_LARGE)."""
    content, count = responses.usage_by_subscriber(_company_map(principal, query, "SUB"), _window(query))
    return responses.fitting(_counted({"content": content}, count, query), query.sliced())


def company_usage_by_ip(principal: Principal, query: MapQuery) -> dict:
    """GET /analytics/data-usage-ip-address. Raises: Forbidden, BadRequest (RESPONSE_TOO_LARGE)."""
    content, count = responses.usage_by_ip(_company_map(principal, query, "IP"), _window(query))
    return responses.fitting(_counted({"content": [content]}, count, query), query.sliced())


def _organizations(principal: Principal) -> list[int]:
    principal.require(OVERVIEW)
    # A platform token sees every organization: their figures are added up (physical ids are unique system-wide).
    return db.organization_ids() if principal.is_platform else [principal.organization_id]


def _company_totals(principal: Principal, query: AnalyticsQuery) -> tuple[dict, dict]:
    """({hour: [sessions, mo, mt]}, {protocol: {hour: bytes}}) of the range, from the organizations' day items."""
    hours = query.hours()
    first, last = clock.iso(hours.first), clock.iso(hours.last)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    protocols: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for organization_id in _organizations(principal):
        for item in db.organization_days(organization_id, *ranges.days(hours.first, hours.last)):
            for name, value in item.items():
                if match := _TOTAL.fullmatch(name):
                    hour = _hour(item["day"], match[2])
                    if first <= hour <= last:
                        totals[hour][("s", "mo", "mt").index(match[1])] += int(value)
                elif match := _PROTOCOL.fullmatch(name):
                    hour = _hour(item["day"], match[1])
                    if first <= hour <= last:
                        protocols[match[2]][hour] += int(value)
    return totals, protocols


def _company_map(principal: Principal, query: MapQuery, kind: str) -> dict[str, list]:
    """{key: [bytes, last seen]} of the range, from the organizations' day and month entries of the periods that tile
    it: a run of hours reads the days they lie in and takes those hours from inside each day entry."""
    hours = query.hours()
    first, last = clock.iso(hours.first), clock.iso(hours.last)
    reads, hour_runs = [], []
    for level, low, high in ranges.pieces(hours.first, hours.last):
        reads.append(("D", low[:10], high[:10]) if level == "H" else (level, low, high))
        hour_runs.append((max(low, first), min(high, last)) if level == "H" else None)
    entries: dict[str, list] = {}
    for organization_id in _organizations(principal):
        for run, items in zip(hour_runs, db.organization_map(organization_id, kind, reads), strict=True):
            for item in items:
                used, seen = (_hours_of(item, kind, *run) if run else _total_of(item, kind))
                if seen:
                    _add(entries, item["key"], used, seen)
    return entries


def _total_of(entry: dict, kind: str) -> tuple[int, str]:
    """(bytes, last seen) of a day or month entry. An IP address's latest record is the largest of its lanes'."""
    if kind == "SUB":
        return int(entry["bytes"]), entry["last_seen"]
    return int(entry.get("b", 0)), max((v for n, v in entry.items() if _LANE_SEEN.fullmatch(n)), default="")


def _hours_of(entry: dict, kind: str, first: str, last: str) -> tuple[int, str]:
    """(bytes, last seen) of the hours of a day entry from `first` to `last` (clock.iso hour starts)."""
    day = entry["period"]
    if kind == "SUB":
        rows = [row for hh, row in json.loads(entry["hours"]).items() if first <= _hour(day, hh) <= last]
        return sum(int(used) for used, _ in rows), max((seen for _, seen in rows), default="")
    used, seen = 0, ""
    for name, value in entry.items():
        if (match := _HOUR_BYTES.fullmatch(name)) and first <= _hour(day, match[1]) <= last:
            used += int(value)
        elif (match := _LANE_HOUR_SEEN.fullmatch(name)) and first <= (hour := _hour(day, match[1])) <= last:
            seen = max(seen, figures.at_ms_in_hour(hour, value))
    return used, seen


def _add(entries: dict[str, list], key: str, used: int, seen: str) -> None:
    entry = entries.setdefault(key, [0, seen])
    entry[0] += used
    entry[1] = max(entry[1], seen)


def _window(query: MapQuery) -> tuple[int, int] | None:
    return query.window() if query.sliced() else None


def _counted(body: dict, count: int, query: MapQuery) -> dict:
    """With limit or offset, the answer names how many keys the whole map has."""
    return {**body, "count": count} if query.sliced() else body


def _hour(day: str, hh: str) -> str:
    return f"{day}T{hh}:00:00.000Z"


# --- subscriber (one device the caller may see) -------------------------------------------------------------------

def subscriber_data_usage(principal: Principal, physical_id: str, query: SubscriberQuery) -> dict:
    """GET /analytics/data-usage/{physicalId}. Raises: Forbidden, NotFound."""
    return {"content": responses.data_usage(_subscriber_hours(principal, physical_id, query))}


def subscriber_session_count(principal: Principal, physical_id: str, query: SubscriberQuery) -> dict:
    """GET /analytics/session-count/{physicalId}: an array of FormattedCompanySessionCount, as the seed's schema
    says. Raises: Forbidden, NotFound."""
    return {"content": [responses.session_count(_subscriber_hours(principal, physical_id, query))]}


def subscriber_usage_by_ip(principal: Principal, physical_id: str, query: SubscriberMapQuery) -> dict:
    """GET /analytics/data-usage-ip-address/{physicalId}: the device's hour items for the hours at the range's ends,
    its day items for the rest (a month is its days). Raises: Forbidden, NotFound, BadRequest."""
    device_id = _subscriber(principal, physical_id, query)
    hours = query.hours()
    first, last = clock.iso(hours.first), clock.iso(hours.last)
    entries: dict[str, list] = {}
    for level, low, high in ranges.pieces(hours.first, hours.last):
        if level == "H":
            items = [("H", item) for item in db.device_items(device_id, "H", max(low, first), min(high, last))]
        elif level == "D":
            items = [("D", item) for item in db.device_items(device_id, "D", low, high)]
        else:   # whole months: their days
            items = [("D", item) for item in db.device_items(device_id, "D", f"{low}-01", f"{high}-31")]
        for item_level, item in items:
            for ip, (used, seen) in _device_ips(device_id, item_level, item).items():
                _add(entries, ip, int(used), seen)
    content, count = responses.usage_by_ip(entries, _window(query))
    return responses.fitting(_counted({"content": [content]}, count, query), query.sliced())


def _device_ips(device_id: int, level: str, item: dict) -> dict[str, list]:
    if not item.get("ips_spilled"):
        return json.loads(item.get("ips") or "{}")
    period = item.get("hour") or item["period"]
    return {entry["ip"]: [entry["bytes"], entry["last_seen"]]
            for entry in db.spilled_ips(device_id, level, period, int(item["organization_id"]))}


def _subscriber(principal: Principal, physical_id: str, query: SubscriberQuery) -> int:
    subscriber_caller(principal)
    query.check_physical_id(unquote(physical_id))
    return find_subscriber(principal, physical_id)


def _subscriber_hours(principal: Principal, physical_id: str, query: SubscriberQuery) -> dict[str, list[int]]:
    """{hour: [sessions, mo, mt]} of the device in the range, from its day items (one per organization it had
    records under that day)."""
    device_id = _subscriber(principal, physical_id, query)
    hours = query.hours()
    first, last = clock.iso(hours.first), clock.iso(hours.last)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in db.device_items(device_id, "D", *ranges.days(hours.first, hours.last)):
        for hh, (sessions, mo, mt, _) in json.loads(item["hours"]).items():
            hour = _hour(item["period"], hh)
            if first <= hour <= last:
                total = out[hour]
                total[0], total[1], total[2] = total[0] + int(sessions), total[1] + int(mo), total[2] + int(mt)
    return out


def find_subscriber(principal: Principal, physical_id: str) -> int:
    """The id of the device a physicalId names, if the caller may see it.

    Raises:
        NotFound: SUBSCRIBER_NOT_FOUND, alike for an unknown value and another organization's device.
    """
    from pydantic import TypeAdapter, ValidationError

    from chalicelib.devices import service as devices
    from chalicelib.devices.models import SerialNumber

    value = unquote(physical_id).strip()   # path parameters arrive URL-encoded (STYLE fact 2)
    for kind in SUBSCRIBER_KINDS:
        if kind == "serial":
            # find_visible checks identifiers' formats but takes any serial: a key too long for DynamoDB is a 500.
            try:
                TypeAdapter(SerialNumber).validate_python(value)
            except ValidationError:
                break
        try:
            return int(devices.find_visible(principal, kind, value)["id"])
        except NotFound:
            continue
    raise NotFound(f"No subscriber with physicalId {value!r}.", code="SUBSCRIBER_NOT_FOUND")
