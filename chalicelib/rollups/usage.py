"""A unit's analytics work (API.md §8): the touched hours of each device, recomputed from its raw connection events
and usage records, and the difference carried to its day and month, its organization's day totals, subscriber
entries and IP entries (docs/rollups.md, "Analytics").

Every device's hours are read and compared first (Queries on threads), then the items they change are read in a
few BatchGetItems for the whole unit, and the writes computed. Nothing is written here: it all goes to `writes`.

Addresses (a device's, inside its items or spilled, and its organization's IP entries): addresses.py.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from chalicelib.rollups import addresses, db, figures, raw
from chalicelib.rollups.journal import Writes
from chalicelib.store import schema


@dataclass
class HourChange:
    device_id: int
    organization_id: int
    hour: str
    old: dict | None            # the stored hour's figures, or None
    new: dict | None            # the recomputed figures, or None (no records)
    ips_old: dict[str, list]    # {ip: [bytes, last_seen]} stored
    ips_new: dict[str, list]
    spilled: bool               # the stored hour keeps its addresses as items of their own


@dataclass
class Analytics:
    lane: int
    writes: Writes
    # device -> organization -> hour -> kinds of records announced
    touched: dict[int, dict[int, dict[str, set[str]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(set))))
    physical_ids: dict[int, str | None] = field(default_factory=dict)
    hours_changed: int = 0

    def add(self, device_id: int, organization_id: int, hour: str, kind: str) -> None:
        self.touched[device_id][organization_id][hour].add(kind)

    def run(self) -> None:
        stored = db.batch_get(schema.device_period_key(device_id, "H", hour, organization_id)
                              for device_id, by_organization in self.touched.items()
                              for organization_id, hours in by_organization.items() for hour in hours)
        changes = [c for changes in db.parallel(lambda pair: self._recompute(*pair, stored),
                                                list(self.touched.items())) for c in changes]
        changes = [c for c in changes if c.old != c.new or c.ips_old != c.ips_new]
        self.hours_changed = len(changes)
        if changes:
            self._carry(changes)

    # --- the hours, from the raw records ---------------------------------------------------------------

    def _recompute(self, device_id: int, by_organization: dict[int, dict[str, set[str]]],
                   stored: dict[tuple[str, str], dict]) -> list[HourChange]:
        """Each touched hour with the part of each kind announced recomputed from its raw records (one Query per
        kind and run of hours), the other part as stored: a batch of usage records does not read the hour's
        connection events."""
        raw_records = {kind: raw.by_hour(device_id, kind, {hour for hours in by_organization.values()
                                                           for hour, kinds in hours.items() if kind in kinds})
                       for kind in ("connection_event", "usage")
                       if any(kind in kinds for hours in by_organization.values() for kinds in hours.values())}
        out = []
        for organization_id, hours in by_organization.items():
            for hour, kinds in sorted(hours.items()):
                item = stored.get(_pair(schema.device_period_key(device_id, "H", hour, organization_id)))
                old = _hour_figures(item)
                ips_old = addresses.stored(device_id, "H", hour, organization_id, item)
                connection = (figures.connection_part(_of(raw_records["connection_event"].get(hour, []),
                                                          organization_id))
                              if "connection_event" in kinds else _connection_of(old))
                if "usage" in kinds:
                    usage, ips_new = figures.usage_part(_of(raw_records["usage"].get(hour, []), organization_id))
                else:
                    usage, ips_new = _usage_of(old), ips_old
                out.append(HourChange(device_id, organization_id, hour, old, figures.device_hour(connection, usage),
                                      ips_old, ips_new, bool(item and item.get("ips_spilled"))))
        return out

    # --- what the hours count in --------------------------------------------------------------------

    def _carry(self, changes: list[HourChange]) -> None:
        stored = db.batch_get(schema.device_period_key(c.device_id, level, raw.period_of(level, c.hour),
                                                       c.organization_id) for c in changes for level in ("D", "M"))
        days: dict[tuple, dict] = {}
        months: dict[tuple, dict] = {}
        org_ips: dict[tuple, dict] = {}   # (organization, level, period, ip) -> {"bytes", "hours", "seen", "hour_seen"}
        for c in changes:
            self._hour(c)
            day_key = (c.device_id, c.organization_id, raw.day_of(c.hour))
            if day_key not in days:
                item = stored.get(_pair(schema.device_period_key(*_device(day_key, "D"))))
                days[day_key] = {"hours": db.unpack(item["hours"]) if item else {},
                                 "ips": addresses.stored(*_device(day_key, "D"), item), "spilled": bool(
                                     item and item.get("ips_spilled")), "ips_before": None}
                days[day_key]["ips_before"] = {ip: list(v) for ip, v in days[day_key]["ips"].items()}
            day = days[day_key]
            day["hours"][c.hour[11:13]] = _hour_row(c.new)
            month_key = (c.device_id, c.organization_id, raw.month_of(c.hour))
            if month_key not in months:
                item = stored.get(_pair(schema.device_period_key(*_device(month_key, "M"))))
                months[month_key] = {"bytes": int(item["bytes"]) if item else 0,
                                     "last_seen": item["last_seen"] if item else ""}
            month = months[month_key]
            month["bytes"] += _bytes(c.new) - _bytes(c.old)
            if c.new and c.new["last_seen"] > month["last_seen"]:
                month["last_seen"] = c.new["last_seen"]
            for ip in set(c.ips_old) | set(c.ips_new):
                delta = c.ips_new.get(ip, [0, ""])[0] - c.ips_old.get(ip, [0, ""])[0]
                seen = c.ips_new.get(ip, [0, ""])[1]
                entry = day["ips"].setdefault(ip, [0, ""])
                entry[0], entry[1] = entry[0] + delta, max(entry[1], seen)
                if not entry[0] and not entry[1]:
                    del day["ips"][ip]
                for level, period in (("D", day_key[2]), ("M", month_key[2])):
                    shared = org_ips.setdefault((c.organization_id, level, period, ip),
                                                {"bytes": 0, "hours": defaultdict(int), "seen": "", "hour_seen": {}})
                    shared["bytes"] += delta
                    shared["seen"] = max(shared["seen"], seen)
                    if level == "D":
                        shared["hours"][c.hour[11:13]] += delta
                        shared["hour_seen"][c.hour[11:13]] = max(shared["hour_seen"].get(c.hour[11:13], ""), seen)
        for (device_id, organization_id, day), value in days.items():
            self._day(device_id, organization_id, day, value)
        for (device_id, organization_id, month), value in months.items():
            key = schema.device_period_key(device_id, "M", month, organization_id)
            self.writes.put({**key, "entity": "DeviceMonth", "device_id": device_id, "organization_id": organization_id,
                             "period": month, "bytes": value["bytes"], "last_seen": value["last_seen"],
                             schema.TTL_ATTRIBUTE: raw.expires_at("M", month)})
            self._subscriber(device_id, organization_id, "M", month, {"bytes": value["bytes"],
                                                                      "last_seen": value["last_seen"]})
        addresses.organization_ips(self.writes, self.lane, org_ips)

    def _hour(self, c: HourChange) -> None:
        """The device's hour (its addresses inside, or spilled) and its organization's day totals."""
        key = schema.device_period_key(c.device_id, "H", c.hour, c.organization_id)
        if c.new is None:
            self.writes.delete(key)
        else:
            item = {**key, "entity": "DeviceHour", "device_id": c.device_id, "organization_id": c.organization_id,
                    "hour": c.hour, **c.new, schema.TTL_ATTRIBUTE: raw.expires_at("H", c.hour)}
            self.writes.put(addresses.with_ips(self.writes, item, c.device_id, "H", c.hour, c.organization_id,
                                               c.ips_old, c.ips_new, c.spilled))
        hh, deltas = c.hour[11:13], defaultdict(int)
        old, new = c.old or _NONE, c.new or _NONE
        for name, prefix in (("sessions", "s"), ("mo_bytes", "mo"), ("mt_bytes", "mt")):
            deltas[f"{prefix}{hh}"] += int(new[name]) - int(old[name])
        for protocol in set(old["protocols"]) | set(new["protocols"]):
            deltas[f"p{hh}#{protocol}"] += (int(new["protocols"].get(protocol, 0))
                                            - int(old["protocols"].get(protocol, 0)))
        day = raw.day_of(c.hour)
        self.writes.add(schema.organization_day_key(c.organization_id, day), deltas, meta={
            "entity": "OrganizationDay", "organization_id": c.organization_id, "day": day,
            schema.TTL_ATTRIBUTE: raw.expires_at("D", day)})

    def _day(self, device_id: int, organization_id: int, day: str, value: dict) -> None:
        key = schema.device_period_key(device_id, "D", day, organization_id)
        hours = {hh: row for hh, row in value["hours"].items() if row is not None}
        if not hours:
            self.writes.delete(key)
            self._subscriber(device_id, organization_id, "D", day, None)
            return
        total = sum(int(row[1]) + int(row[2]) for row in hours.values())
        latest = max(row[3] for row in hours.values())
        item = {**key, "entity": "DeviceDay", "device_id": device_id, "organization_id": organization_id,
                "period": day, "hours": db.pack(hours), "bytes": total, "last_seen": latest,
                schema.TTL_ATTRIBUTE: raw.expires_at("D", day)}
        self.writes.put(addresses.with_ips(self.writes, item, device_id, "D", day, organization_id,
                                           value["ips_before"], value["ips"], value["spilled"]))
        # The subscriber's day, with its hours (what an hour-level range reads).
        self._subscriber(device_id, organization_id, "D", day, {
            "bytes": total, "last_seen": latest,
            "hours": db.pack({hh: [int(row[1]) + int(row[2]), row[3]] for hh, row in hours.items()})})

    def _subscriber(self, device_id: int, organization_id: int, level: str, period: str, value: dict | None) -> None:
        """A copy of the device's figures in the organization's subscriber map: one device, one writer (its lane)."""
        physical_id = self.physical_ids.get(device_id)
        if physical_id is None:
            return
        key = schema.map_entry_key(organization_id, "SUB", level, period, physical_id)
        if value is None:
            self.writes.delete(key)
            return
        self.writes.put({**key, "entity": "SubscriberEntry", "organization_id": organization_id,
                         "device_id": device_id, "level": level, "period": period, "key": physical_id, **value,
                         schema.TTL_ATTRIBUTE: raw.expires_at(level, period)})

_NONE = {"sessions": 0, "mo_bytes": 0, "mt_bytes": 0, "protocols": {}}


def _of(records: list[dict], organization_id: int) -> list[dict]:
    """A moved device's hour may hold records of two organizations: each counts for its own."""
    return [record for record in records if int(record["organization_id"]) == organization_id]


def _pair(key: dict) -> tuple[str, str]:
    return key["PK"], key["SK"]


def _device(key: tuple, level: str) -> tuple:
    device_id, organization_id, period = key
    return device_id, level, period, organization_id


def _hour_figures(item: dict | None) -> dict | None:
    if item is None:
        return None
    return {"sessions": int(item["sessions"]), "seen_conn": item.get("seen_conn", ""),
            "mo_bytes": int(item["mo_bytes"]), "mt_bytes": int(item["mt_bytes"]),
            "protocols": {p: int(n) for p, n in (item.get("protocols") or {}).items()},
            "seen_use": item.get("seen_use", ""), "last_seen": item["last_seen"]}


def _connection_of(hour: dict | None) -> dict | None:
    if not hour or not hour["seen_conn"]:
        return None
    return {"sessions": hour["sessions"], "seen_conn": hour["seen_conn"]}


def _usage_of(hour: dict | None) -> dict | None:
    if not hour or not hour["seen_use"]:
        return None
    return {name: hour[name] for name in ("mo_bytes", "mt_bytes", "protocols", "seen_use")}


def _hour_row(figures_: dict | None) -> list | None:
    if figures_ is None:
        return None
    return [figures_["sessions"], figures_["mo_bytes"], figures_["mt_bytes"], figures_["last_seen"]]


def _bytes(figures_: dict | None) -> int:
    return int(figures_["mo_bytes"]) + int(figures_["mt_bytes"]) if figures_ else 0
