"""A unit's writes, made safe to repeat: computed in full, written down (the journal), committed, then applied.

A unit reads stored items, computes their new values and the differences it adds to shared items, and only then
writes. Were it to die half-way through its writes and simply run again, it would find some items already new
and lose the differences they were owed. So every write goes first into the journal (compressed pages in the
lane's journal partition); an UpdateItem of the lane state commits it; then it is applied. Puts and deletes are
idempotent, and each guarded ADD carries the unit's sequence number, which its item keeps per lane: applying a
journal twice changes nothing. The next unit of a lane applies a committed journal it finds before anything else.
"""
import json
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from chalicelib.rollups import db
from chalicelib.store import schema

PAGE_BYTES = 90_000           # compressed bytes a journal page holds (every item stays under 100 KB)
JOURNAL_DAYS = 30     # outlives any stall the lag alarm (10 minutes) would not catch
MAX_ATTRIBUTES = 120          # per UpdateItem: an update expression is at most 4 KB
_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize


@dataclass
class Add:
    """A lane's share of a shared item: numbers to ADD, its own attributes to SET, attributes for a new item."""
    key: dict
    adds: dict[str, Any] = field(default_factory=dict)
    sets: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Writes:
    """Everything one unit writes, the last word per key."""
    puts: dict[tuple[str, str], dict] = field(default_factory=dict)
    deletes: dict[tuple[str, str], dict] = field(default_factory=dict)
    adds: dict[tuple[str, str], Add] = field(default_factory=dict)

    def put(self, item: dict) -> None:
        key = (item["PK"], item["SK"])
        self.deletes.pop(key, None)
        self.puts[key] = item

    def delete(self, key: dict) -> None:
        pair = (key["PK"], key["SK"])
        self.puts.pop(pair, None)
        self.deletes[pair] = {"PK": key["PK"], "SK": key["SK"]}

    def add(self, key: dict, deltas: dict[str, Any], sets: dict[str, Any] | None = None,
            meta: dict[str, Any] | None = None) -> None:
        entry = self.adds.setdefault((key["PK"], key["SK"]), Add({"PK": key["PK"], "SK": key["SK"]}))
        for name, value in deltas.items():
            entry.adds[name] = entry.adds.get(name, 0) + value
        entry.sets.update(sets or {})
        entry.meta.update(meta or {})

    def shared(self) -> list[Add]:
        """The guarded adds that change something, split so that each fits one UpdateItem."""
        out = []
        for entry in self.adds.values():
            adds = {name: value for name, value in sorted(entry.adds.items()) if value}
            if not adds and not entry.sets:
                continue
            names = [("a", name) for name in adds] + [("s", name) for name in sorted(entry.sets)]
            for start in range(0, len(names), MAX_ATTRIBUTES):
                part = names[start:start + MAX_ATTRIBUTES]
                out.append(Add(entry.key, {n: adds[n] for kind, n in part if kind == "a"},
                               {**{n: entry.sets[n] for kind, n in part if kind == "s"}, **entry.meta}))
        return out

    def __len__(self) -> int:
        return len(self.puts) + len(self.deletes) + len(self.adds)


def encode(writes: Writes) -> bytes:
    def wire(value: dict) -> dict:
        return {name: _serialize(_number(v)) for name, v in value.items()}
    body = {"puts": [wire(item) for item in writes.puts.values()], "deletes": list(writes.deletes.values()),
            "adds": [[wire(a.key), wire(a.adds), wire(a.sets)] for a in writes.shared()]}
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)


def decode(data: bytes) -> tuple[list[dict], list[dict], list[Add]]:
    body = json.loads(zlib.decompress(data))

    def plain(value: dict) -> dict:
        return {name: _deserialize(v) for name, v in value.items()}
    return ([plain(item) for item in body["puts"]], body["deletes"],
            [Add(plain(key), plain(adds), plain(sets)) for key, adds, sets in body["adds"]])


def _number(value):
    return Decimal(str(value)) if isinstance(value, float) else value


def write_pages(lane: int, seq: int, data: bytes, expires_at: int) -> int:
    """The journal's pages (before the commit); their number."""
    pages = [data[start:start + PAGE_BYTES] for start in range(0, len(data), PAGE_BYTES)] or [b""]
    db.write([{**schema.lane_journal_key(lane, seq, n), "entity": "Journal", "data": Binary(page),
               schema.TTL_ATTRIBUTE: expires_at} for n, page in enumerate(pages)])
    return len(pages)


def read_pages(lane: int, seq: int) -> bytes:
    prefix = schema.lane_journal_prefix(seq)
    items = db.query(schema.lane_journal_partition(lane), prefix, prefix + "~")
    return b"".join(bytes(item["data"]) for item in items)


def apply(lane: int, seq: int, data: bytes) -> None:
    """Puts and deletes, then the guarded adds (each once per lane and sequence number)."""
    puts, deletes, adds = decode(data)
    db.write(puts, deletes)
    guard, seen, work = f"g{lane}", {}, []
    for add in adds:
        # Each part of a split item has a guard of its own: the parts are applied independently.
        part = seen[(add.key["PK"], add.key["SK"])] = seen.get((add.key["PK"], add.key["SK"]), -1) + 1
        work.append((add, guard if part == 0 else f"{guard}_{part}"))
    db.parallel(lambda pair: db.guarded_add(pair[0].key, pair[0].adds, pair[0].sets, pair[1], seq), work)
