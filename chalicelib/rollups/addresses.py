"""A device's IP addresses and its organization's IP entries (docs/rollups.md, "Analytics"): pure write-building for
a unit (usage.py calls it); nothing is written here, it all goes to the unit's `writes`.

A device's addresses sit inside its hour and day items while there are at most INLINE_IPS of them; beyond, the item
says `ips_spilled` and each address is an item of its own (I#<level>#<period>#<org>#<ip>): no map is capped, and no
item outgrows 100 KB. An organization's IP entries add up every lane's bytes by guarded ADD.
"""
from chalicelib.rollups import db, figures, raw
from chalicelib.rollups.journal import Writes
from chalicelib.store import schema

INLINE_IPS = 400      # addresses kept inside a device's hour or day item (~45 bytes each)


def with_ips(writes: Writes, item: dict, device_id: int, level: str, period: str, organization_id: int,
             before: dict[str, list], after: dict[str, list], spilled: bool) -> dict:
    """The item with its addresses inside, or (too many, or already so) as items of their own."""
    if not spilled and len(after) <= INLINE_IPS:
        return {**item, "ips": db.pack(after)}
    for ip in set(before) | set(after):
        key = schema.device_ip_key(device_id, level, period, organization_id, ip)
        if ip not in after:
            writes.delete(key)
        elif spilled and before.get(ip) == after[ip]:
            continue
        else:
            writes.put({**key, "entity": "DeviceIp", "device_id": device_id, "organization_id": organization_id,
                        "level": level, "period": period, "ip": ip, "bytes": after[ip][0], "last_seen": after[ip][1],
                        schema.TTL_ATTRIBUTE: raw.expires_at(level, period)})
    return {**item, "ips_spilled": True}


def organization_ips(writes: Writes, lane: int, changes: dict[tuple, dict]) -> None:
    """ADD each address's bytes (by hour in a day entry); the lane's own latest `occurred_at` (l<lane>, by hour
    l<lane>h<HH> in milliseconds within the hour: figures.ms_in_hour) is SET only when it grows: the entry's latest
    is the largest of its lanes'."""
    own = f"l{lane}"
    keys = {change: schema.map_entry_key(change[0], "IP", change[1], change[2], change[3]) for change in changes}
    current = db.batch_get(keys.values())
    for (organization_id, level, period, ip), value in changes.items():
        key = keys[(organization_id, level, period, ip)]
        before = current.get(_pair(key)) or {}
        sets = {own: value["seen"]} if value["seen"] > before.get(own, "") else {}
        adds = {"b": value["bytes"]}
        if level == "D":
            adds |= {f"b{hh}": delta for hh, delta in value["hours"].items()}
            sets |= {f"{own}h{hh}": figures.ms_in_hour(seen) for hh, seen in value["hour_seen"].items()
                     if figures.ms_in_hour(seen) > int(before.get(f"{own}h{hh}", -1))}
        writes.add(key, adds, sets, meta={
            "entity": "IpEntry", "organization_id": organization_id, "level": level, "period": period,
            "key": ip, schema.TTL_ATTRIBUTE: raw.expires_at(level, period)})


def stored(device_id: int, level: str, period: str, organization_id: int, item: dict | None) -> dict[str, list]:
    """{ip: [bytes, last_seen]} of a stored hour or day item: inside it, or its own items when spilled."""
    if item is None:
        return {}
    if not item.get("ips_spilled"):
        return {ip: [int(v[0]), v[1]] for ip, v in db.unpack(item.get("ips")).items()}
    prefix = schema.device_ip_sort_value(level, period) + f"#{organization_id:010d}#"
    return {entry["ip"]: [int(entry["bytes"]), entry["last_seen"]]
            for entry in db.query(schema.device_aggregates_partition(device_id), prefix, prefix + "~")}


def _pair(key: dict) -> tuple[str, str]:
    return key["PK"], key["SK"]
