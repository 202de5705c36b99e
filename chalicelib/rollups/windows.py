"""The summary's windows (API.md §7) and the buckets they are summed from.

A window ends with the bucket that holds `now` and spans its length back from that bucket's end, so it
is a whole number of buckets: 1h = twelve 5-minute buckets, 24h = 24 hours, 7d/30d/90d = UTC days. It
moves once per bucket, which is when figures can leave it; a run computes every window from its own `now`.
"""
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib import clock

MINUTE, HOUR, DAY = "M", "H", "D"
BUCKET_LENGTH = {MINUTE: timedelta(minutes=5), HOUR: timedelta(hours=1), DAY: timedelta(days=1)}


@dataclass(frozen=True)
class Window:
    name: str
    size: str            # the buckets it is summed from
    length: timedelta

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """[start, end): end is the end of the bucket holding `now`."""
        end = floor(now, self.size) + BUCKET_LENGTH[self.size]
        return end - self.length, end

    @property
    def days(self) -> int:
        """What connection_trends.daily_average divides by: the window's length in days, at least one."""
        return max(1, self.length // timedelta(days=1))


WINDOWS: tuple[Window, ...] = (
    Window("1h", MINUTE, timedelta(hours=1)),
    Window("24h", HOUR, timedelta(hours=24)),
    Window("7d", DAY, timedelta(days=7)),
    Window("30d", DAY, timedelta(days=30)),
    Window("90d", DAY, timedelta(days=90)),
)
BY_NAME = {window.name: window for window in WINDOWS}
ALIASES = {"1d": "24h"}
# How long app-session buckets are kept: the longest window plus a margin for late records and slow runs.
BUCKET_RETENTION = {MINUTE: timedelta(days=2), HOUR: timedelta(days=100), DAY: timedelta(days=100)}


def floor(moment: datetime, size: str) -> datetime:
    moment = moment.astimezone(UTC)
    if size == MINUTE:
        return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)
    if size == HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_of(at: str, size: str) -> str:
    """The start (clock.iso) of the bucket holding the instant `at` (clock.iso)."""
    return clock.iso(floor(clock.parse_iso(at), size))


def period(window: Window, now: datetime) -> dict:
    """summary_period of API.md §7: both ends inclusive, to the millisecond."""
    start, end = window.bounds(now)
    return {"start_date": clock.iso(start), "end_date": clock.iso(end - timedelta(milliseconds=1)),
            "time_range": window.name}


def day_of(start: str) -> str:
    """The UTC date (YYYY-MM-DD) of a bucket start: what connection_trends counts per day."""
    return start[:10]
