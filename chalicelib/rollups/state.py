"""A device's summary state (API.md §7): its figures in every window, kept up to date by differences only.

Per window: `end` (the end of the bucket holding the time the window was last brought to), `cats` ({category: figures
with apps and days}, the sum of its buckets), `in` ({bucket start: {category: latest success or ""}}, its non-empty
buckets) and `ahead` (non-empty buckets at or after `end`, records up to 5 minutes ahead of the clock).

Moving a window (`plan_slide` then `slide`) subtracts the buckets that leave it and adds those that enter: it reads
those buckets only. A changed bucket (`absorb`) adds its difference to the windows it lies in. The latest success of
a window is the largest of its buckets' (kept in `in`), so a bucket that leaves takes its own away.
"""
from dataclasses import dataclass
from datetime import datetime

from chalicelib import clock
from chalicelib.rollups import figures
from chalicelib.rollups.windows import WINDOWS, Window


@dataclass
class Move:
    window: Window
    end: str
    leaving: list[str]
    entering: list[str]


def empty_windows() -> dict:
    return {window.name: {"end": None, "cats": {}, "in": {}, "ahead": []} for window in WINDOWS}


def plan_slide(windows: dict, at: datetime) -> list[Move]:
    """The windows whose end moves to the bucket holding `at` (never backwards), with the buckets that leave them and
    those that enter them."""
    moves = []
    for window in WINDOWS:
        state = windows[window.name]
        start, end = (clock.iso(moment) for moment in window.bounds(at))
        if state["end"] is not None and end <= state["end"]:
            continue
        leaving = sorted(bucket for bucket in state["in"] if bucket < start)
        entering = sorted(bucket for bucket in state["ahead"] if start <= bucket < end)
        moves.append(Move(window, end, leaving, entering))
    return moves


def slide(windows: dict, moves: list[Move], buckets: dict[tuple[str, str], dict]) -> None:
    """Apply `moves`; `buckets` holds {(size, start): categories} of every bucket they name."""
    for move in moves:
        state = windows[move.window.name]
        for bucket in move.leaving:
            _absorb(state, bucket, buckets.get((move.window.size, bucket), {}), -1)
            del state["in"][bucket]
        state["ahead"] = [bucket for bucket in state["ahead"] if bucket >= move.end]
        state["end"] = move.end
        for bucket in move.entering:
            categories = buckets.get((move.window.size, bucket), {})
            _absorb(state, bucket, categories, 1)
            _mark(state, bucket, categories)
        _latest(state)


def absorb(windows: dict, size: str, bucket: str, old: dict, new: dict) -> None:
    """A bucket of `size` changed from `old` to `new` ({category: fig}): each window of that size holding it moves by
    the difference; one it is ahead of remembers it."""
    for window in WINDOWS:
        if window.size != size:
            continue
        state = windows[window.name]
        if state["end"] is None:
            continue
        start = clock.iso(clock.parse_iso(state["end"]) - window.length)
        if start <= bucket < state["end"]:
            _absorb(state, bucket, old, -1)
            _absorb(state, bucket, new, 1)
            _mark(state, bucket, new)
            _latest(state)
        elif bucket >= state["end"]:
            state["ahead"] = sorted(set(state["ahead"]) - {bucket} | ({bucket} if new else set()))


def _absorb(state: dict, bucket: str, categories: dict, sign: int) -> None:
    day = bucket[:10]
    for category, fig in categories.items():
        into = state["cats"].setdefault(category, {**figures.empty(), "days": {}})
        figures.merge(into, fig, sign)
        attempts = into["days"].get(day, 0) + sign * int(fig["a"])
        if attempts:
            into["days"][day] = attempts
        else:
            into["days"].pop(day, None)
        if not int(into["a"]) and not into["apps"]:
            del state["cats"][category]


def _mark(state: dict, bucket: str, categories: dict) -> None:
    if categories:
        state["in"][bucket] = {category: fig.get("ls") or "" for category, fig in categories.items()}
    else:
        state["in"].pop(bucket, None)


def _latest(state: dict) -> None:
    for category, fig in state["cats"].items():
        latest = max((seen.get(category) or "" for seen in state["in"].values()), default="")
        if latest:
            fig["ls"] = latest
        else:
            fig.pop("ls", None)


def wake_at(windows: dict) -> str | None:
    """When the figures next change without new records: a window's oldest bucket leaves it, or a bucket ahead of it
    enters."""
    moments = []
    for window in WINDOWS:
        state = windows[window.name]
        if state["in"]:
            moments.append(clock.iso(clock.parse_iso(min(state["in"])) + window.length))
        if state["ahead"]:
            moments.append(min(state["ahead"]))
    return min(moments) if moments else None


def window_figures(windows: dict) -> dict[str, dict[str, dict]]:
    """{window: {category and "*": figures}} of the windows with any attempt."""
    out = {}
    for window in WINDOWS:
        cats = windows[window.name]["cats"]
        if cats:
            out[window.name] = {**cats, figures.ALL: figures.total(cats)}
    return out


def row_figures(windows: dict) -> dict:
    """What a page shows: {window: {category and "*": [attempts, successes, response ms, last success]}}."""
    return {window: {category: [int(fig["a"]), int(fig["s"]), fig["rt"], fig.get("ls")]
                     for category, fig in figs.items()} for window, figs in window_figures(windows).items()}
