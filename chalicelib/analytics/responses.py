"""The original Analytics API's response shapes (API.md §8): string values, `+00:00` keys. Figures come in already
summed by hour, protocol or key (service.py reads them); see docs/analytics.md."""
import json
from datetime import UTC, datetime

from chalicelib import clock
from chalicelib.errors import BadRequest, field_problem

MAX_ANSWER_BYTES = 5 * 1024 * 1024   # API.md §8: what one response can carry


def moment_label(at: str | datetime) -> str:
    """A stored instant as the seed writes it: UTC, whole seconds, `+00:00`."""
    moment = clock.parse_iso(at) if isinstance(at, str) else at
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def data_usage(hours: dict[str, list[int]]) -> list[dict]:
    """[FormattedDataUsageByDirection] from {hour: [sessions, mo, mt]}: hours with any usage, in both maps (one
    direction may be "0")."""
    used = sorted(hour for hour, (_, mo, mt) in hours.items() if mo + mt)
    return [{"mobileTerminated": {moment_label(hour): str(hours[hour][2]) for hour in used},
             "mobileOriginated": {moment_label(hour): str(hours[hour][1]) for hour in used}}]


def session_count(hours: dict[str, list[int]]) -> dict:
    """FormattedCompanySessionCount: {"content": {hour: "sessions"}}, hours with at least one Start event."""
    return {"content": {moment_label(hour): str(hours[hour][0]) for hour in sorted(hours) if hours[hour][0]}}


def usage_by_protocol(protocols: dict[str, dict[str, int]]) -> dict:
    """The content of FormattedDataUsageByNetworkProtocol: {protocol: {hour: "bytes"}}."""
    return {protocol: {moment_label(hour): str(used) for hour, used in sorted(protocols[protocol].items()) if used}
            for protocol in sorted(protocols) if any(protocols[protocol].values())}


def usage_by_ip(entries: dict[str, list], window: tuple[int, int] | None) -> tuple[dict, int]:
    """(FormattedCompany/SubscriberDataUsageByIpAddress, number of addresses) from {ip: [bytes, last seen]}; with a
    window (offset, limit), that slice of the addresses in ascending order, the total still the whole map's."""
    keys = _slice(entries, window)
    return ({"dataUsageByIp": {ip: {"lastSeen": moment_label(entries[ip][1]), "bytes": str(entries[ip][0])}
                               for ip in keys},
             "totalData": sum(used for used, _ in entries.values())}, len(entries))


def usage_by_subscriber(entries: dict[str, list], window: tuple[int, int] | None) -> tuple[dict, int]:
    """(FormattedDataUsageBySubscriber, number of subscribers): {"subscriberDataUsage": {physicalId: {lastSeen:
    "bytes"}}, "totalDataUsage"}, sliced as usage_by_ip."""
    keys = _slice(entries, window)
    return ({"subscriberDataUsage": {key: {moment_label(entries[key][1]): str(entries[key][0])} for key in keys},
             "totalDataUsage": sum(used for used, _ in entries.values())}, len(entries))


def _slice(entries: dict, window: tuple[int, int] | None) -> list[str]:
    keys = sorted(entries)
    if window is None:
        return keys
    offset, limit = window
    return keys[offset:offset + limit]


def fitting(body: dict, sliced: bool | None = None) -> dict:
    """The answer, unless it is larger than one response can carry.

    Raises:
        BadRequest: RESPONSE_TOO_LARGE, naming the limit and what narrows the answer (`sliced` says whether the path
        takes limit and offset: False when it does and they were not given).
    """
    size = len(json.dumps(body, separators=(",", ":")))
    if size <= MAX_ANSWER_BYTES:
        return body
    if sliced is False:
        raise BadRequest(f"The answer would be {size:,} bytes, over the {MAX_ANSWER_BYTES:,} one response carries: "
                         "ask for a slice of it with limit and offset, or for a shorter range.",
                         code="RESPONSE_TOO_LARGE", details=[field_problem("limit", "needed for an answer this large"),
                                                             field_problem("offset", "pages through the map")])
    raise BadRequest(f"The answer would be {size:,} bytes, over the {MAX_ANSWER_BYTES:,} one response carries: ask "
                     "for a shorter range (startDate, endDate), or a smaller limit.", code="RESPONSE_TOO_LARGE",
                     details=[field_problem("endDate", "narrow the range")])
