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
from chalicelib.store import dynamo, schema

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
    """One page of the target's devices: 100 listed ids, or one Query (up to 1 MB of devices)."""
    if source.device_ids:
        start = int(cursor or 0)
        ids = source.device_ids[start:start + IDS_PER_READ]
        found = dynamo.batch_get([schema.device_key(i) for i in ids]) if ids else []
        devices = sorted((int(d["id"]), int(d["organization_id"])) for d in found if source.matches(d))
        following = start + IDS_PER_READ
        return Page(devices, following if following < len(source.device_ids) else None)
    if source.organization_id is not None:
        index, key = "GSI1", Key("GSI1PK").eq(schema.org_devices_pk(source.organization_id))
    else:
        index, key = "GSI2", Key("GSI2PK").eq("DEVICES")
    kwargs = {"IndexName": index, "KeyConditionExpression": key, "ProjectionExpression": "#id, organization_id",
              "ExpressionAttributeNames": {"#id": "id"}}
    if (condition := source.condition()) is not None:
        kwargs["FilterExpression"] = condition
    items, last = dynamo.query(**kwargs, **({"ExclusiveStartKey": cursor} if cursor else {}))
    return Page([(int(i["id"]), int(i["organization_id"])) for i in items], last)


def count(source: Source, budget_seconds: float = COUNT_BUDGET_SECONDS) -> tuple[int, list[int], bool]:
    """(devices in the target, the first FIRST of them, whether the count is complete).

    The device counters answer for organization, type and status alone (one BatchGetItem); a firmware image
    filter or listed ids need the devices read, within `budget_seconds`."""
    counted = counted_by_counters(source)
    stop_at = time.monotonic() + budget_seconds
    total, first, cursor = 0, [], None
    while True:
        page = read_page(source, cursor)
        total += len(page.devices)
        first += [device_id for device_id, _ in page.devices][:FIRST - len(first)]
        cursor = page.cursor
        if cursor is None:
            return total, first, True
        if counted is not None and len(first) >= FIRST:
            return counted, first, True
        if time.monotonic() > stop_at:
            return (counted, first, True) if counted is not None else (total, first, False)


def counted_by_counters(source: Source) -> int | None:
    """Devices in the target from the device counters, when they cover its filters (None when not)."""
    if source.firmware_image is not None or source.device_ids or source.created_by is not None:
        return None
    scopes = [schema.count_scope(source.organization_id, t, source.status) for t in (source.types or (None,))]
    return sum(int(i.get("count") or 0) for i in dynamo.batch_get([schema.counter_key(s) for s in scopes]))


def present_types(source: Source) -> set[int]:
    """The device types the target's scope holds devices of (type counters, one BatchGetItem): what a firmware
    image must fit when the target names no type."""
    from chalicelib.device_types import db as device_types_db

    known = [t.id for t in device_types_db.list_all()]
    keys = {schema.counter_key(schema.count_scope(source.organization_id, t, source.status))["PK"]: t for t in known}
    found = dynamo.batch_get([schema.counter_key(schema.count_scope(source.organization_id, t, source.status))
                              for t in known])
    return {keys[item["PK"]] for item in found if int(item.get("count") or 0) > 0}


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
