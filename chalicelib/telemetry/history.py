"""Connection history (API.md §6): one device's connection events in a window, oldest first, in pages.

A page is one Query of the device's CONN partition between the window's bounds, Limit = page size + 1 (the
extra event says whether more follow): its cost follows the page, not the window nor the history.

Ties: events of one millisecond sort by event id (their sort key is "<time>#<event_id>"). The client goes on
from the last event's time + 1 ms (the seed's rule), which would skip the rest of that millisecond, so a full
page ends on a millisecond boundary: when the next event shares the last one's millisecond, that
millisecond's events are left to the next page. Only if one millisecond holds more events than a page does
the page hold all of them (the one case above the page size, read with extra Queries).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.devices.service import find_visible, get_visible
from chalicelib.telemetry import db
from chalicelib.telemetry.models import HISTORY_PAGE, DeviceIdentifier, Window
from chalicelib.tokens.models import Principal

ONE_MS = timedelta(milliseconds=1)


@dataclass
class HistoryPage:
    events: list[dict]                 # stored items: occurred_at, event, attributes, extended_attributes
    complete: bool
    next_earliest: datetime | None     # last event's time + 1 ms while not complete


def by_identifier(principal: Principal, identifier: DeviceIdentifier, window: Window) -> HistoryPage:
    """Raises: BadRequest (earliest after latest), NotFound DEVICE_NOT_FOUND."""
    principal.require("devices:read")
    window.check()
    device = find_visible(principal, identifier.kind, identifier.id)
    return read_page(int(device["id"]), window.earliest, window.latest, HISTORY_PAGE)


def by_device_id(principal: Principal, device_id: int, window: Window, size: int) -> HistoryPage:
    """Raises: BadRequest (earliest after latest), NotFound DEVICE_NOT_FOUND."""
    principal.require("devices:read")
    window.check()
    get_visible(principal, device_id)
    return read_page(device_id, window.earliest, window.latest, size)


def read_page(device_id: int, earliest: datetime, latest: datetime, size: int) -> HistoryPage:
    now = clock.now()
    # Nothing older than the retention is kept (TTL); starting there keeps pages of expired items from costing reads.
    start = max(earliest, now - timedelta(days=get_settings().telemetry_retention_days))
    if start > latest:
        return HistoryPage([], True, None)
    high = db.upper_bound(clock.iso(latest))
    items = _live(device_id, db.lower_bound(clock.iso(start)), high, size + 1, now)
    more = len(items) > size
    events = items[:size]
    if more and items[size]["occurred_at"] == events[-1]["occurred_at"]:
        tied = events[-1]["occurred_at"]
        events = [event for event in events if event["occurred_at"] != tied]
        if not events:
            events = _live(device_id, db.lower_bound(tied), db.upper_bound(tied), None, now)
            after = clock.iso(clock.parse_iso(tied) + ONE_MS)
            more = after <= clock.iso(latest) and bool(_live(device_id, db.lower_bound(after), high, 1, now))
    next_earliest = clock.parse_iso(events[-1]["occurred_at"]) + ONE_MS if more else None
    return HistoryPage(events, not more, next_earliest)


def _live(device_id: int, low: str, high: str, wanted: int | None, now: datetime) -> list[dict]:
    """Up to `wanted` (None: all) events between the sort-key bounds, without those past their TTL.

    DynamoDB deletes expired items within days, moto never: they are dropped here (STYLE fact 8). One Query
    unless items were dropped or the 1 MB answer limit cut the page short.
    """
    alive_after = int(now.timestamp())
    kept: list[dict] = []
    start = None
    while True:
        items, start = db.connection_events(device_id, low, high, None if wanted is None else wanted - len(kept),
                                            start)
        kept += [item for item in items if int(item.get("expires_at", alive_after + 1)) > alive_after]
        if start is None or (wanted is not None and len(kept) >= wanted):
            return kept
