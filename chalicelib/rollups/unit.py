"""A lane's tick: units until its pending log is empty and its devices due at T are done (docs/rollups.md, "A unit").

A unit reads the lane state (applying a committed journal left by a unit that died), takes up to UNIT_ENTRIES pending
entries and UNIT_DEVICES due devices, computes every write (analytics, buckets, states, summaries, purges), writes
them as its journal, commits it, applies it, and marks the lane state done.
"""
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.rollups import buckets, db, journal, pending, purge, state, summaries
from chalicelib.rollups.journal import Writes
from chalicelib.rollups.lanes import DeviceChange
from chalicelib.rollups.usage import Analytics
from chalicelib.store import schema

UNIT_ENTRIES = 4000       # pending entries (a device, hour and kind each) per unit
UNIT_DEVICES = 1500       # devices due at T per unit
PENDING_ITEMS = 100       # pending items read at a time (each holds one queue batch's messages for the lane)


@dataclass
class Inputs:
    pending: list[dict] = field(default_factory=list)            # the pending items taken (deleted by the unit)
    records: dict[int, list[tuple[int, str, str]]] = field(default_factory=lambda: defaultdict(list))
    changes: dict[int, DeviceChange] = field(default_factory=dict)
    purges: set[int] = field(default_factory=set)
    due: dict[int, dict] = field(default_factory=dict)           # device -> its wake entry

    def __bool__(self) -> bool:
        return bool(self.pending or self.records or self.changes or self.purges or self.due)


@dataclass
class Tally:
    units: int = 0
    devices: int = 0
    hours_changed: int = 0
    buckets_changed: int = 0

    def add(self, other: "Tally") -> None:
        for name in ("units", "devices", "hours_changed", "buckets_changed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --- the lane state ----------------------------------------------------------------------------------

def lane_state(lane: int) -> dict:
    return db.get(schema.lane_state_key(lane)) or {**schema.lane_state_key(lane), "seq": 0}


def recover(lane: int, current: dict) -> dict:
    """Apply a committed journal that a unit left unapplied (it died): before anything else of the lane."""
    pending = current.get("journal")
    if not pending:
        return current
    seq = int(pending["seq"])
    journal.apply(lane, seq, journal.read_pages(lane, seq))
    _done(lane, seq)
    return lane_state(lane)


def _done(lane: int, seq: int, extra: dict | None = None) -> None:
    names, values, sets = {}, {":seq": seq}, ["seq = :seq"]
    for i, (name, value) in enumerate((extra or {}).items()):
        names[f"#x{i}"], values[f":x{i}"] = name, value
        sets.append(f"#x{i} = :x{i}")
    db.update(schema.lane_state_key(lane), UpdateExpression="SET " + ", ".join(sets) + " REMOVE journal",
              ConditionExpression="journal.seq = :seq", ExpressionAttributeValues=values,
              **({"ExpressionAttributeNames": names} if names else {}))


def finish_tick(lane: int, at: str, tick_id: str) -> None:
    """The lane has nothing left for T: its figures hold every record announced before the tick was sent (a tick
    is sent after its T), so `computed_at` only moves forward. A tick older than the lane's figures changes nothing."""
    db.update(schema.lane_state_key(lane),
              UpdateExpression="SET computed_at = :at, tick = :tick, entity = :entity",
              ConditionExpression="attribute_not_exists(computed_at) OR computed_at <= :at",
              ExpressionAttributeValues={":at": at, ":tick": tick_id, ":entity": "LaneState"})


# --- a tick -----------------------------------------------------------------------------------------

def run_tick(lane: int, at: str, tick_id: str, deadline: float, tally: Tally | None = None,
             upto: str | None = None) -> bool:
    """Units until nothing is left for `at` (True), or until `deadline` (time.monotonic()) is near (False). `upto`
    bounds the pending items taken (lanes.TickMessage): without it, all of them."""
    tally = tally or Tally()
    moment = clock.parse_iso(at)
    first = True
    while True:
        current = recover(lane, lane_state(lane))
        if not first and time.monotonic() > deadline:   # at least one unit a call: a tick always makes progress
            return False
        first = False
        inputs = gather(lane, current, moment, upto)
        if not inputs:
            finish_tick(lane, at, tick_id)
            return True
        writes = compute(lane, moment, inputs, tally)
        commit(lane, int(current.get("seq", 0)), writes)
        tally.units += 1


def gather(lane: int, current: dict, at: datetime, upto: str | None = None) -> Inputs:
    inputs = Inputs()
    entries = 0
    for item in db.query(schema.lane_pending_partition(lane), high=upto, limit=PENDING_ITEMS):
        body = db.unpack(item["work"])
        size = len(body.get("records", [])) + len(body.get("changes", [])) + len(body.get("purges", []))
        if inputs.pending and entries + size > UNIT_ENTRIES:
            break
        inputs.pending.append({"PK": item["PK"], "SK": item["SK"]})
        entries += size
        for device_id, organization_id, hour, kind in body.get("records", []):
            inputs.records[int(device_id)].append((int(organization_id), hour, kind))
        for change in body.get("changes", []):
            change = DeviceChange.model_validate(change)
            known = inputs.changes.get(change.device_id)
            if known is not None:   # two changes of one device in one unit: both organizations, the latest snapshot
                change = DeviceChange(device_id=change.device_id,
                                      organizations=sorted(set(known.organizations) | set(change.organizations)),
                                      created=change.created if known.created is None else None)
            inputs.changes[change.device_id] = change
        inputs.purges.update(int(device) for device in body.get("purges", []))
    for entry in db.query(schema.wake_partition(lane), high=f"{clock.iso(at)}#~", limit=UNIT_DEVICES):
        inputs.due[int(entry["device_id"])] = entry
    return inputs


def commit(lane: int, seq: int, writes: Writes) -> None:
    """Journal, commit, apply, done: see journal.py. A unit whose commit fails (another consumer advanced the lane)
    has written nothing but orphan journal pages, which expire."""
    new_seq = seq + 1
    data = journal.encode(writes)
    expires = int((clock.now() + timedelta(days=journal.JOURNAL_DAYS)).timestamp())
    pages = journal.write_pages(lane, new_seq, data, expires)
    committed = db.update(schema.lane_state_key(lane), UpdateExpression="SET journal = :j, entity = :e",
                          ConditionExpression="attribute_not_exists(journal) AND "
                                              "(attribute_not_exists(seq) OR seq = :s)",
                          ExpressionAttributeValues={":j": {"seq": new_seq, "pages": pages}, ":s": seq,
                                                     ":e": "LaneState"})
    if not committed:
        raise RuntimeError(f"lane {lane} moved on while a unit ran: its sequence is no longer {seq}")
    journal.apply(lane, new_seq, data)
    _done(lane, new_seq)


# --- what a unit computes --------------------------------------------------------------------------

def compute(lane: int, at: datetime, inputs: Inputs, tally: Tally) -> Writes:
    writes = Writes()
    for key in inputs.pending:
        writes.delete(key)
    devices = set(inputs.records) | set(inputs.changes) | inputs.purges | set(inputs.due)
    tally.devices += len(devices)
    rows = {int(item["device_id"]): item
            for item in db.batch_get(schema.summary_row_key(d) for d in devices).values()}
    wanted = {d for d in devices if d in inputs.changes and inputs.changes[d].created is None}
    wanted |= {d for d in devices if d not in rows} | inputs.purges
    items = {int(item["id"]): item for item in db.batch_get(schema.device_key(d) for d in wanted).values()}
    names: dict[int, str | None] = {}
    infos: dict[int, summaries.DeviceInfo | None] = {}   # the device as it is now; None: gone
    for device_id in devices:
        change = inputs.changes.get(device_id)
        if change is not None and change.created is not None and device_id not in items:
            item = {**change.created, "id": device_id}
        else:
            item = items.get(device_id)
        if item is not None:
            infos[device_id] = summaries.device_info(item, names)
        elif device_id in rows and device_id not in wanted:
            infos[device_id] = summaries.info_of(rows[device_id])
        else:
            infos[device_id] = None
    # A device gone (a purge request, the audit trail's delete, records that arrived after it): its data goes too.
    purged = {d for d in devices if infos[d] is None}
    deltas: dict[tuple, dict] = {}
    unfinished = [d for d in purged if not purge.purge(writes, deltas, lane, d, rows.get(d))]
    if unfinished:   # the next unit goes on with them: right after the item they came from, within the tick's bound
        writes.put(pending.item(lane, {"purges": unfinished},
                                f"{inputs.pending[0]['SK']}#more" if inputs.pending else None))
    live = devices - purged
    _analytics(lane, writes, inputs, infos, live, tally)
    _summaries(lane, at, writes, deltas, inputs, rows, infos, live, tally)
    summaries.write_summaries(writes, lane, deltas)
    return writes


def _analytics(lane: int, writes: Writes, inputs: Inputs, infos: dict, live: set[int], tally: Tally) -> None:
    work = Analytics(lane, writes)
    for device_id in live:
        for organization_id, hour, kind in inputs.records.get(device_id, ()):
            if kind != "app_session":
                work.add(device_id, organization_id, hour, kind)
        work.physical_ids[device_id] = infos[device_id].physical_id
    work.run()
    tally.hours_changed += work.hours_changed


def _summaries(lane: int, at: datetime, writes: Writes, deltas: dict, inputs: Inputs, rows: dict, infos: dict,
               live: set[int], tally: Tally) -> None:
    app_hours: dict[int, set[str]] = defaultdict(set)
    for device_id in live:
        for _, hour, kind in inputs.records.get(device_id, ()):
            if kind == "app_session":
                app_hours[device_id].add(hour)
    changed = buckets.recompute(app_hours, at)
    plans, olds = {}, {}
    for device_id in live:
        row = rows.get(device_id)
        olds[device_id] = summaries.loaded(row) if row is not None and not row.get("purging") else (None, None, {})
        windows = db.unpack(row.get("windows")) if row is not None else state.empty_windows()
        plans[device_id] = (windows, state.plan_slide(windows, at))
    wanted = [schema.app_bucket_key(device_id, move.window.size, bucket) for device_id, (_, moves) in plans.items()
              for move in moves for bucket in move.leaving + move.entering]
    stored = {(item["size"], item["start"], int(item["device_id"])): db.unpack(item["categories"])
              for item in db.batch_get(wanted).values()}
    for device_id in live:
        info = infos[device_id]
        old_info, old_windows, old_indexed = olds[device_id]
        windows, moves = plans[device_id]
        state.slide(windows, moves, {(size, start): categories for (size, start, owner), categories in stored.items()
                                     if owner == device_id})
        for change in changed.get(device_id, []):
            state.absorb(windows, change.size, change.start, change.old, change.new)
        buckets.write_changes(writes, device_id, info.organization_id, changed.get(device_id, []))
        tally.buckets_changed += len(changed.get(device_id, []))
        summaries.add_difference(deltas, summaries.contributions(old_info, old_windows),
                                 summaries.contributions(info, windows))
        indexed = summaries.desired_index(info, windows)
        summaries.write_index(writes, device_id, old_indexed, indexed)
        wake = state.wake_at(windows)
        old_wake = rows[device_id].get("wake_at") if device_id in rows else None
        if old_wake and old_wake != wake:
            writes.delete(schema.wake_key(lane, old_wake, device_id))
        if device_id in inputs.due:
            writes.delete(inputs.due[device_id])
        if wake and (wake != old_wake or device_id in inputs.due):
            writes.put({**schema.wake_key(lane, wake, device_id), "entity": "WakeEntry", "device_id": device_id,
                        "wake_at": wake, schema.TTL_ATTRIBUTE: _expires(wake)})
        row = summaries.row_item(info, windows, wake, indexed)
        if device_id not in rows or db.pack(_comparable(rows[device_id])) != db.pack(_comparable(row)):
            writes.put(row)


def _comparable(row: dict) -> dict:
    return {name: value for name, value in row.items() if name not in ("PK", "SK")}


def _expires(wake: str) -> int:
    """A wake entry is deleted when its device is slid; the TTL is only a backstop."""
    return int((clock.parse_iso(wake) + timedelta(days=100)).timestamp())

