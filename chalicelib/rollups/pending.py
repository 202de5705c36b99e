"""A lane's pending log (docs/rollups.md, "Messages"): what its inbox was told, kept in the table until a unit has
aggregated it. Items are sorted by when they were told; a tick takes those written before its inbox passed it on.
"""
import uuid
from collections import defaultdict
from datetime import timedelta

from chalicelib import clock
from chalicelib.rollups import db
from chalicelib.store import schema

ITEM_ENTRIES = 1000       # a pending item's entries at most, so that units stay near unit.UNIT_ENTRIES
ITEM_BYTES = 200_000      # and its size, far below DynamoDB's 400 KB
SKEW = timedelta(seconds=5)   # Lambdas' clocks may differ a little: a tick may take a few seconds more


def append(lane: int, work: dict) -> None:
    """What a lane has been told, kept in the table until a unit aggregates it (never expires): one item, or several
    in order when it is more than a unit should take at once or than an item holds (ten messages of created devices'
    snapshots are ~1 MB)."""
    flat = [(name, value) for name in ("records", "changes", "purges") for value in work.get(name, [])]
    stamp = f"{clock.iso(clock.now())}#{uuid.uuid4().hex}"
    db.write([item(lane, body, f"{stamp}#{index:04d}") for index, body in enumerate(_pieces(flat))])


def _pieces(flat: list[tuple[str, object]]) -> list[dict]:
    body: dict[str, list] = defaultdict(list)
    for name, value in flat:
        body[name].append(value)
    if len(flat) > 1 and (len(flat) > ITEM_ENTRIES or len(db.pack(body)) > ITEM_BYTES):
        half = len(flat) // 2
        return _pieces(flat[:half]) + _pieces(flat[half:])
    return [dict(body)]


def bound() -> str:
    """A sort key after every pending item written so far, whichever process's clock stamped it."""
    return f"{clock.iso(clock.now() + SKEW)}#~"


def item(lane: int, work: dict, sort_key: str | None = None) -> dict:
    """Sorted by when it was told (the pieces of one message batch in their order)."""
    return {"PK": schema.lane_pending_partition(lane),
            "SK": sort_key or f"{clock.iso(clock.now())}#{uuid.uuid4().hex}", "entity": "PendingWork",
            "work": db.pack(work)}
