"""The target's devices: counted for a dry run, and expanded page by page into target items in the background.

Devices come from the organization's device index (GSI1), the fleet-wide one for `all_organizations` (GSI2), or
the listed ids (BatchGetItem), filtered by type, status and firmware image. The target is fixed when the bulk
operation is created: a device created after it is left out by its `created` time, however late its page is
read. Target items are written below WRITES_PER_SHARD a second on each target shard (docs/capacity.md).
"""
import time
from dataclasses import dataclass, field
from datetime import datetime

from boto3.dynamodb.conditions import Attr, Key

from chalicelib import clock
from chalicelib.bulk import db, targets
from chalicelib.store import counters, dynamo, schema

WRITES_PER_SHARD = 250           # per second, against our ceiling of 300 on any key
IDS_PER_READ = 100               # one BatchGetItem
FIRST = 20                       # device ids a dry run shows
COUNT_BUDGET_SECONDS = 5.0       # how long a dry run may page through devices to count them


@dataclass(frozen=True)
class Source:
    organization_id: int | None        # None: every organization
    types: tuple[int, ...] = ()
    status: str | None = None          # "Up" / "Down"
    firmware_image: int | None = None
    device_ids: tuple[int, ...] = ()
    created_by: str | None = None      # devices created at or before this moment only

    @classmethod
    def of(cls, target: dict, organization_id: int | None, device_ids: list[int] | None,
           created_by: str | None = None) -> "Source":
        status = target.get("status")
        return cls(organization_id, tuple(sorted(set(target.get("type") or ()))),
                   None if status is None else ("Up" if int(status) == 1 else "Down"), target.get("firmware_image"),
                   tuple(sorted(set(device_ids or ()))), created_by)

    def matches(self, device: dict) -> bool:
        """The filters on one device item (for listed ids, read by key)."""
        return ((self.organization_id is None or int(device["organization_id"]) == self.organization_id)
                and (not self.types or int(device["type"]) in self.types)
                and (self.status is None or device.get("status") == self.status)
                and (self.firmware_image is None or device.get("firmware_image") == self.firmware_image)
                and (self.created_by is None or (device.get("created") or "") <= self.created_by))

    def condition(self):
        conditions = []
        if self.types:
            conditions.append(Attr("type").is_in(list(self.types)))
        if self.status is not None:
            conditions.append(Attr("status").eq(self.status))
        if self.firmware_image is not None:
            conditions.append(Attr("firmware_image").eq(self.firmware_image))
        if self.created_by is not None:
            conditions.append(Attr("created").lte(self.created_by))
        return dynamo.all_of(conditions)


@dataclass
class Page:
    devices: list[tuple[int, int]] = field(default_factory=list)   # (device id, organization id), by id
    cursor: object = None                                            # where the next page starts; None: done


def read_page(source: Source, cursor) -> Page:
    """One page of the target's devices: 100 listed ids, or one Query (up to 1 MB of devices) of a shard of the
    organization's (or the fleet's) device index, the shards one after another. `cursor`: where the page starts
    (None: at the beginning)."""
    if source.device_ids:
        start = int(cursor or 0)
        ids = source.device_ids[start:start + IDS_PER_READ]
        found = dynamo.batch_get([schema.device_key(i) for i in ids]) if ids else []
        devices = sorted((int(d["id"]), int(d["organization_id"])) for d in found if source.matches(d))
        following = start + IDS_PER_READ
        return Page(devices, following if following < len(source.device_ids) else None)
    index, partitions = _index(source)
    shard, start = (int(cursor[0]), cursor[1]) if cursor else (0, None)
    kwargs = {"IndexName": index, "KeyConditionExpression": Key(f"{index}PK").eq(partitions[shard]),
              "ProjectionExpression": "#id, organization_id", "ExpressionAttributeNames": {"#id": "id"}}
    if (condition := source.condition()) is not None:
        kwargs["FilterExpression"] = condition
    items, last = dynamo.query(**kwargs, **({"ExclusiveStartKey": start} if start else {}))
    following = [shard, last] if last else ([shard + 1, None] if shard + 1 < len(partitions) else None)
    return Page([(int(i["id"]), int(i["organization_id"])) for i in items], following)


def count(source: Source, budget_seconds: float = COUNT_BUDGET_SECONDS) -> tuple[int, list[int], bool]:
    """(devices in the target, the first FIRST of them by id, whether the count is complete).

    The device counters answer for organization, type and status alone (one BatchGetItem); a firmware image
    filter or listed ids need the devices read, within `budget_seconds`."""
    first = _first(source)
    if (counted := counted_by_counters(source)) is not None:
        return counted, first, True
    stop_at = time.monotonic() + budget_seconds
    total, cursor = 0, None
    while True:
        page = read_page(source, cursor)
        total += len(page.devices)
        cursor = page.cursor
        if cursor is None:
            return total, first, True
        if time.monotonic() > stop_at:
            return total, first, False


def _first(source: Source) -> list[int]:
    """The first FIRST devices of the target by id: one Query per shard of the device index, merged."""
    if source.device_ids:
        found, cursor = [], None
        while len(found) < FIRST:
            page = read_page(source, cursor)
            found += [device_id for device_id, _ in page.devices]
            if (cursor := page.cursor) is None:
                break
        return sorted(found)[:FIRST]
    index, partitions = _index(source)
    items, _ = dynamo.read_merged(index, partitions, FIRST, filter_expression=source.condition())
    return [int(item["id"]) for item in items]


def _index(source: Source) -> tuple[str, list[str]]:
    """The device index a target's organization (or the fleet) is listed in, and its shards."""
    if source.organization_id is not None:
        return "GSI1", schema.org_devices_partitions(source.organization_id)
    return "GSI2", schema.fleet_devices_partitions()


def counted_by_counters(source: Source) -> int | None:
    """Devices in the target from the device counters, when they cover its filters (None when not): every shard
    of each type's counter, summed (BatchGetItem, 100 shards a request)."""
    if source.firmware_image is not None or source.device_ids or source.created_by is not None:
        return None
    scopes = [schema.count_scope(source.organization_id, t, source.status) for t in (source.types or (None,))]
    return counters.totals([key for scope in scopes for key in schema.counter_keys(scope)]).get("count", 0)


def present_types(source: Source) -> set[int]:
    """The device types the target's scope holds devices of (from the type counters): what a firmware image must
    fit when the target names no type."""
    from chalicelib.device_types import db as device_types_db

    keyed = [(key, t.id) for t in device_types_db.list_all()
             for key in schema.counter_keys(schema.count_scope(source.organization_id, t.id, source.status))]
    types = {key["PK"]: type_id for key, type_id in keyed}
    counts: dict[int, int] = {}
    for item in dynamo.batch_get([key for key, _ in keyed]):
        counts[types[item["PK"]]] = counts.get(types[item["PK"]], 0) + int(item.get("count") or 0)
    return {type_id for type_id, count in counts.items() if count > 0}


def expand(bulk: dict, pacer: dict, source: Source, until: float) -> bool:
    """Write target items page by page until the clock reaches `until` (clock.now timestamps); True when the
    whole target is written. The pacer records where the next page starts and how many were found."""
    bulk_id = int(bulk["id"])
    cursor, found = pacer.get("expansion"), int(pacer.get("expanded_count") or 0)
    started, written = clock.now(), 0
    while True:
        page = read_page(source, dynamo.plain(cursor) if cursor is not None else None)
        targets.write(bulk_id, page.devices)
        found += len(page.devices)
        written += len(page.devices)
        cursor = page.cursor
        db.update_pacer(bulk_id, {"expansion": cursor, "expanded_count": found})
        pacer.update({"expansion": cursor, "expanded_count": found})
        if cursor is None:
            return True
        _keep_below_write_rate(started, written)
        if clock.now().timestamp() >= until:
            return False


def _keep_below_write_rate(started: datetime, written: int) -> None:
    """Sleep while ahead of WRITES_PER_SHARD on every shard (devices spread evenly over the shards by id)."""
    allowed = (clock.now() - started).total_seconds() * WRITES_PER_SHARD * schema.BULK_TARGET_SHARDS
    if written > allowed:
        clock.sleep((written - allowed) / (WRITES_PER_SHARD * schema.BULK_TARGET_SHARDS))
