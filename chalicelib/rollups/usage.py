"""A unit's analytics work (API.md §8): the touched hours of each device, recomputed from its raw connection events
and usage records, and the difference carried to its day and month, its IP entries, its organization's day totals,
subscriber entries and IP entries (docs/rollups.md, "Analytics").

Every device's hours are read and compared first (Queries on threads), then the items they change are read in a
few BatchGetItems for the whole unit, and the writes computed. Nothing is written here: it all goes to `writes`.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from chalicelib.rollups import db, figures, raw
from chalicelib.rollups.journal import Writes
from chalicelib.store import schema

LEVELS = ("H", "D", "M")


@dataclass
class HourChange:
    device_id: int
    organization_id: int
    hour: str
    old: dict | None            # the stored DeviceHour (figures) or None
    new: dict | None            # the recomputed figures or None (no records)
    ips_old: dict[str, dict]    # {ip: {"bytes", "last_seen"}} stored
    ips_new: dict[str, dict]


@dataclass
class Analytics:
    lane: int
    writes: Writes
    touched: dict[int, dict[int, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    physical_ids: dict[int, str | None] = field(default_factory=dict)
    hours_changed: int = 0

    def add(self, device_id: int, organization_id: int, hour: str) -> None:
        self.touched[device_id][organization_id].add(hour)

    def run(self) -> None:
        changes = [c for changes in db.parallel(self._recompute, list(self.touched.items())) for c in changes]
        changes = [c for c in changes if c.old != c.new or c.ips_old != c.ips_new]
        self.hours_changed = len(changes)
        if changes:
            self._carry(changes)

    # --- the hours, from the raw records ---------------------------------------------------------------

    def _recompute(self, device_touched: tuple[int, dict[int, set[str]]]) -> list[HourChange]:
        device_id, by_organization = device_touched
        hours = {hour for hours in by_organization.values() for hour in hours}
        events = raw.by_hour(device_id, "connection_event", hours)
        usage = raw.by_hour(device_id, "usage", hours)
        stored_ips: dict[tuple[int, str], dict[str, dict]] = defaultdict(dict)
        for start, end in raw.spans(list(hours)):
            low, high = schema.device_ip_sort_value("H", start), schema.device_ip_sort_value("H", end)
            for item in db.query(schema.device_aggregates_partition(device_id), low, high):
                stored_ips[(int(item["organization_id"]), item["period"])][item["ip"]] = {
                    "bytes": int(item["bytes"]), "last_seen": item["last_seen"]}
        keys = [schema.device_period_key(device_id, "H", hour, organization_id)
                for organization_id, hours in by_organization.items() for hour in hours]
        stored = db.batch_get(keys)
        out = []
        for organization_id, touched in by_organization.items():
            for hour in sorted(touched):
                computed = figures.device_hour(_of(events.get(hour, []), organization_id),
                                               _of(usage.get(hour, []), organization_id))
                item = stored.get(_pair(schema.device_period_key(device_id, "H", hour, organization_id)))
                out.append(HourChange(device_id, organization_id, hour, _hour_figures(item),
                                      computed[0] if computed else None, stored_ips.get((organization_id, hour), {}),
                                      computed[1] if computed else {}))
        return out

    # --- what the hours count in --------------------------------------------------------------------

    def _carry(self, changes: list[HourChange]) -> None:
        keys = []
        for c in changes:
            for level in ("D", "M"):
                period = raw.period_of(level, c.hour)
                keys.append(schema.device_period_key(c.device_id, level, period, c.organization_id))
                keys += [schema.device_ip_key(c.device_id, level, period, c.organization_id, ip)
                         for ip in set(c.ips_old) | set(c.ips_new)]
        stored = db.batch_get(keys)
        org_ips: dict[tuple, dict] = {}   # (organization, level, period, ip) -> {"bytes": delta, "last_seen": new}
        days: dict[tuple, dict] = {}
        months: dict[tuple, dict] = {}
        device_ips: dict[tuple, dict] = {}
        for c in changes:
            self._hour(c)
            day_key = (c.device_id, c.organization_id, raw.day_of(c.hour))
            day = days.setdefault(day_key, _day(stored.get(_pair(schema.device_period_key(*_device(day_key, "D"))))))
            day["hours"][c.hour[11:13]] = _hour_row(c.new)
            month_key = (c.device_id, c.organization_id, raw.month_of(c.hour))
            month = months.setdefault(month_key, _month(stored.get(_pair(schema.device_period_key(
                *_device(month_key, "M"))))))
            month["bytes"] += _bytes(c.new) - _bytes(c.old)
            if c.new and c.new["last_seen"] > month["last_seen"]:
                month["last_seen"] = c.new["last_seen"]
            for ip in set(c.ips_old) | set(c.ips_new):
                old, new = c.ips_old.get(ip), c.ips_new.get(ip)
                delta = (new or {}).get("bytes", 0) - (old or {}).get("bytes", 0)
                seen = (new or {}).get("last_seen", "")
                for level in LEVELS:
                    period = raw.period_of(level, c.hour)
                    if level != "H":
                        entry = device_ips.setdefault((c.device_id, c.organization_id, level, period, ip), _entry(
                            stored.get(_pair(schema.device_ip_key(c.device_id, level, period, c.organization_id, ip)))))
                        entry["bytes"] += delta
                        entry["last_seen"] = max(entry["last_seen"], seen)
                    shared = org_ips.setdefault((c.organization_id, level, period, ip), {"bytes": 0, "last_seen": ""})
                    shared["bytes"] += delta
                    shared["last_seen"] = max(shared["last_seen"], seen)
        for (device_id, organization_id, day), value in days.items():
            self._put_period(device_id, organization_id, "D", day, value)
        for (device_id, organization_id, month), value in months.items():
            self._put_period(device_id, organization_id, "M", month, value)
        for (device_id, organization_id, level, period, ip), value in device_ips.items():
            key = schema.device_ip_key(device_id, level, period, organization_id, ip)
            if value["bytes"] or value["last_seen"]:
                self.writes.put({**key, "entity": "DeviceIp", "device_id": device_id,
                                 "organization_id": organization_id, "level": level, "period": period, "ip": ip,
                                 "bytes": value["bytes"], "last_seen": value["last_seen"],
                                 schema.TTL_ATTRIBUTE: raw.expires_at(level, period)})
        self._organization_ips(org_ips)

    def _hour(self, c: HourChange) -> None:
        """The device's hour and hourly IP entries, the organization's day totals, the subscriber's hour entry."""
        key = schema.device_period_key(c.device_id, "H", c.hour, c.organization_id)
        if c.new is None:
            self.writes.delete(key)
        else:
            self.writes.put({**key, "entity": "DeviceHour", "device_id": c.device_id,
                             "organization_id": c.organization_id, "hour": c.hour, **c.new,
                             schema.TTL_ATTRIBUTE: raw.expires_at("H", c.hour)})
        for ip in set(c.ips_old) | set(c.ips_new):
            ip_key = schema.device_ip_key(c.device_id, "H", c.hour, c.organization_id, ip)
            if ip in c.ips_new:
                self.writes.put({**ip_key, "entity": "DeviceIp", "device_id": c.device_id,
                                 "organization_id": c.organization_id, "level": "H", "period": c.hour, "ip": ip,
                                 **c.ips_new[ip], schema.TTL_ATTRIBUTE: raw.expires_at("H", c.hour)})
            else:
                self.writes.delete(ip_key)
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
        self._subscriber(c.device_id, c.organization_id, "H", c.hour,
                         {"bytes": _bytes(c.new), "last_seen": c.new["last_seen"]} if c.new else None)

    def _put_period(self, device_id: int, organization_id: int, level: str, period: str, value: dict) -> None:
        key = schema.device_period_key(device_id, level, period, organization_id)
        if level == "D":
            value["hours"] = {hh: row for hh, row in value["hours"].items() if row is not None}
            value["bytes"] = sum(int(row[1]) + int(row[2]) for row in value["hours"].values())
            value["last_seen"] = max((row[3] for row in value["hours"].values()), default="")
        if not value["last_seen"]:
            self.writes.delete(key)
            self._subscriber(device_id, organization_id, level, period, None)
            return
        attributes = ({"hours": db.pack(value["hours"])} if level == "D" else {})
        self.writes.put({**key, "entity": {"D": "DeviceDay", "M": "DeviceMonth"}[level], "device_id": device_id,
                         "organization_id": organization_id, "period": period, **attributes, "bytes": value["bytes"],
                         "last_seen": value["last_seen"], schema.TTL_ATTRIBUTE: raw.expires_at(level, period)})
        self._subscriber(device_id, organization_id, level, period,
                         {"bytes": value["bytes"], "last_seen": value["last_seen"]})

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

    def _organization_ips(self, changes: dict[tuple, dict]) -> None:
        """ADD each IP's bytes; the lane's own latest `occurred_at` (`l<lane>`) is SET only when it grows."""
        own = f"l{self.lane}"
        keys = {change: schema.map_entry_key(change[0], "IP", change[1], change[2], change[3]) for change in changes}
        stored = db.batch_get(keys.values())
        for (organization_id, level, period, ip), value in changes.items():
            key = keys[(organization_id, level, period, ip)]
            before = (stored.get(_pair(key)) or {}).get(own, "")
            sets = {own: value["last_seen"]} if value["last_seen"] > before else {}
            self.writes.add(key, {"bytes": value["bytes"]}, sets, meta={
                "entity": "IpEntry", "organization_id": organization_id, "level": level, "period": period,
                "key": ip, schema.TTL_ATTRIBUTE: raw.expires_at(level, period)})


_NONE = {"sessions": 0, "mo_bytes": 0, "mt_bytes": 0, "protocols": {}}


def _pair(key: dict) -> tuple[str, str]:
    return key["PK"], key["SK"]


def _of(records: list[dict], organization_id: int) -> list[dict]:
    """A moved device's hour may hold records of two organizations: each counts for its own."""
    return [record for record in records if int(record["organization_id"]) == organization_id]


def _device(key: tuple, level: str) -> tuple:
    device_id, organization_id, period = key
    return device_id, level, period, organization_id


def _hour_figures(item: dict | None) -> dict | None:
    if item is None:
        return None
    return {"sessions": int(item["sessions"]), "mo_bytes": int(item["mo_bytes"]), "mt_bytes": int(item["mt_bytes"]),
            "protocols": {p: int(n) for p, n in (item.get("protocols") or {}).items()}, "last_seen": item["last_seen"]}


def _hour_row(figures_: dict | None) -> list | None:
    if figures_ is None:
        return None
    return [figures_["sessions"], figures_["mo_bytes"], figures_["mt_bytes"], figures_["last_seen"]]


def _bytes(figures_: dict | None) -> int:
    return int(figures_["mo_bytes"]) + int(figures_["mt_bytes"]) if figures_ else 0


def _day(item: dict | None) -> dict:
    return {"hours": db.unpack(item["hours"]) if item else {}, "bytes": 0, "last_seen": ""}


def _month(item: dict | None) -> dict:
    return {"bytes": int(item["bytes"]) if item else 0, "last_seen": item["last_seen"] if item else ""}


def _entry(item: dict | None) -> dict:
    return {"bytes": int(item["bytes"]) if item else 0, "last_seen": item["last_seen"] if item else ""}
