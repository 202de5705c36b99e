"""A range of hour buckets cut into the coarsest periods that tile it: hours at its two ends, days, whole months in
the middle. A 366-day range is at most 23 + 30 + 12 + 30 + 23 periods in five runs, whatever it holds."""
from datetime import UTC, datetime, timedelta

from chalicelib import clock

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_end(day: datetime) -> datetime:
    """The last day of `day`'s month."""
    following = day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1, day=1)
    return following - DAY


def pieces(first: datetime, last: datetime) -> list[tuple[str, str, str]]:
    """[(level, first period, last period)] covering the hours first..last (both hour starts, UTC) exactly once:
    level H (periods are clock.iso hour starts), D (YYYY-MM-DD) or M (YYYY-MM)."""
    first, last = first.astimezone(UTC), last.astimezone(UTC)
    if _day(first) == _day(last):
        return [("H", clock.iso(first), clock.iso(last))]
    out = []
    start_day, end_day = _day(first), _day(last)
    if first != start_day:
        out.append(("H", clock.iso(first), clock.iso(start_day + 23 * HOUR)))
        start_day += DAY
    tail = None
    if last != end_day + 23 * HOUR:
        tail = ("H", clock.iso(end_day), clock.iso(last))
        end_day -= DAY
    runs: list[list] = []
    day = start_day
    while day <= end_day:
        if day.day == 1 and _month_end(day) <= end_day:
            level, period, day_after = "M", day.strftime("%Y-%m"), _month_end(day) + DAY
        else:
            level, period, day_after = "D", day.strftime("%Y-%m-%d"), day + DAY
        if runs and runs[-1][0] == level:
            runs[-1][2] = period
        else:
            runs.append([level, period, period])
        day = day_after
    out += [tuple(run) for run in runs]
    if tail:
        out.append(tail)
    merged: list[tuple[str, str, str]] = []
    for piece in out:   # hours of two adjacent days are one run
        if merged and merged[-1][0] == piece[0]:
            merged[-1] = (piece[0], merged[-1][1], piece[2])
        else:
            merged.append(piece)
    return merged


def days(first: datetime, last: datetime) -> tuple[str, str]:
    """(first day, last day) as YYYY-MM-DD of the hours first..last."""
    return first.astimezone(UTC).strftime("%Y-%m-%d"), last.astimezone(UTC).strftime("%Y-%m-%d")
