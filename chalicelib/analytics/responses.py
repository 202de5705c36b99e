"""The original Analytics API's response shapes (API.md §8), folded from hour items: string values, `+00:00` keys.

Every function takes hour items of any number of partitions (a platform token reads one per organization) and
adds up what shares a key, so the shapes do not care where the items came from. See docs/analytics.md.
"""
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from chalicelib import clock


def moment_label(at: str | datetime) -> str:
    """A stored instant as the seed writes it: UTC, whole seconds, `+00:00`."""
    moment = clock.parse_iso(at) if isinstance(at, str) else at
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def data_usage(items: Iterable[dict]) -> list[dict]:
    """[FormattedDataUsageByDirection]: hours with any usage, in both maps (one direction may be "0")."""
    mo, mt = Counter(), Counter()
    for item in items:
        sent, received = int(item.get("mo_bytes", 0)), int(item.get("mt_bytes", 0))
        if sent + received:
            hour = moment_label(item["hour"])
            mo[hour] += sent
            mt[hour] += received
    return [{"mobileTerminated": _strings(mt), "mobileOriginated": _strings(mo)}]


def session_count(items: Iterable[dict]) -> dict:
    """FormattedCompanySessionCount: {"content": {hour: "sessions"}}, hours with at least one Start event."""
    sessions = Counter()
    for item in items:
        if count := int(item.get("sessions", 0)):
            sessions[moment_label(item["hour"])] += count
    return {"content": _strings(sessions)}


def usage_by_protocol(items: Iterable[dict]) -> dict:
    """The content of FormattedDataUsageByNetworkProtocol: {protocol: {hour: "bytes"}}."""
    protocols: dict[str, Counter] = defaultdict(Counter)
    for item in items:
        hour = moment_label(item["hour"])
        for protocol, used in (item.get("protocols") or {}).items():
            protocols[protocol][hour] += int(used)
    return {protocol: _strings(protocols[protocol]) for protocol in sorted(protocols)}


def usage_by_ip(items: Iterable[dict]) -> dict:
    """FormattedCompany/SubscriberDataUsageByIpAddress: {"dataUsageByIp": {ip: {"lastSeen", "bytes"}}, "totalData"}."""
    used, last_seen = _by_key(items, "ips")
    return {"dataUsageByIp": {ip: {"lastSeen": moment_label(last_seen[ip]), "bytes": str(used[ip])}
                              for ip in sorted(used)},
            "totalData": sum(used.values())}


def usage_by_subscriber(items: Iterable[dict]) -> dict:
    """FormattedDataUsageBySubscriber: {"subscriberDataUsage": {physicalId: {lastSeen: "bytes"}}, "totalDataUsage"}."""
    used, last_seen = _by_key(items, "subscribers")
    return {"subscriberDataUsage": {subscriber: {moment_label(last_seen[subscriber]): str(used[subscriber])}
                                    for subscriber in sorted(used)},
            "totalDataUsage": sum(used.values())}


def _by_key(items: Iterable[dict], attribute: str) -> tuple[Counter, dict[str, datetime]]:
    """Bytes summed and the latest last_seen of each key of a {key: {"bytes", "last_seen"}} map, over all hours."""
    used, last_seen = Counter(), {}
    for item in items:
        for key, figures in (item.get(attribute) or {}).items():
            used[key] += int(figures.get("bytes", 0))
            seen = clock.parse_iso(figures.get("last_seen") or item["hour"])
            if key not in last_seen or seen > last_seen[key]:
                last_seen[key] = seen
    return used, last_seen


def _strings(figures: Counter) -> dict[str, str]:
    """Hour-keyed figures as the seed writes them: string values, hours in order (the labels sort as time)."""
    return {hour: str(figures[hour]) for hour in sorted(figures)}
