"""The aggregates the analytics read (API.md §8; docs/rollups.md, "Analytics") hold exactly what a reference
aggregation of the ingested connection events and usage records gives: a device's hours, days and months with their
addresses, an organization's day totals, subscriber entries and IP entries, at every level."""
import json
from collections import defaultdict

from chalicelib.store.dynamo import plain
from tests.rollups import reference
from tests.rollups.support import aggregate_items, connection, usage


def ingest_traffic(fleet) -> None:
    a1, a2, a3, b1 = (fleet.devices[k] for k in ("a1", "a2", "a3", "b1"))
    ago = fleet.clock.ago
    fleet.ingest("connection_event", [
        connection(a1, ago(minutes=3)), connection(a1, ago(minutes=2), "Interim"),
        connection(a1, ago(minutes=1), "Stop"),
        connection(a2, ago(minutes=40)), connection(a2, ago(hours=5)), connection(a3, ago(minutes=45), "Interim"),
        connection(b1, ago(days=2)), connection(a1, ago(days=80)),
    ])
    fleet.ingest("usage", [
        usage(a1, ago(minutes=4), 100, 900, "tcp", "93.184.216.34"),
        usage(a1, ago(minutes=3), 50, 5, "UDP", "93.184.216.34"),
        usage(a1, ago(minutes=2), 7, 3, "icmp", "2001:db8::1"),
        usage(a2, ago(minutes=40), 1000, 2000, "tcp", "93.184.216.34"),
        usage(a3, ago(hours=26), 1, 2, "tcp", "10.1.1.1"),
        usage(b1, ago(days=2), 300, 400, "udp", "8.8.8.8"),
        usage(a2, ago(days=80), 11, 22, "tcp", "8.8.4.4"),
    ])


def stored(items: list[dict]) -> tuple[dict, dict]:
    """({(device, hour): figures and ips}, {(organization, hour): figures, ips, subscribers}) as stored: a device's hour
    with its addresses inside (or spilled), an organization's hours inside its day totals and day entries."""
    devices, organizations = {}, defaultdict(lambda: {"sessions": 0, "mo_bytes": 0, "mt_bytes": 0, "protocols": {},
                                                      "ips": {}, "subscribers": {}})
    items = [plain(item) for item in items]
    spilled = defaultdict(dict)
    for item in items:
        if item["entity"] == "DeviceIp" and item["level"] == "H":
            spilled[(item["device_id"], item["period"])][item["ip"]] = {"bytes": item["bytes"],
                                                                         "last_seen": item["last_seen"]}
    for item in items:
        if item["entity"] == "DeviceHour":
            ips = ({ip: {"bytes": used, "last_seen": seen} for ip, (used, seen) in json.loads(item["ips"]).items()}
                   if "ips" in item else spilled[(item["device_id"], item["hour"])])
            devices[(item["device_id"], item["hour"])] = {
                **{k: item[k] for k in ("sessions", "mo_bytes", "mt_bytes", "protocols", "last_seen")}, "ips": ips}
        elif item["entity"] == "OrganizationDay":
            for name, value in item.items():
                for prefix, field in (("s", "sessions"), ("mo", "mo_bytes"), ("mt", "mt_bytes")):
                    if name.startswith(prefix) and name[len(prefix):].isdigit() and value:
                        organizations[(item["organization_id"], hour(item["day"], name[len(prefix):]))][field] = value
                if name.startswith("p") and "#" in name and value:
                    hh, protocol = name[1:].split("#", 1)
                    organizations[(item["organization_id"], hour(item["day"], hh))]["protocols"][protocol] = value
        elif item["entity"] == "IpEntry" and item["level"] == "D":
            for name, value in item.items():
                if name[:1] == "b" and name[1:].isdigit() and value:
                    # Each lane's latest record in the hour, in milliseconds after its start.
                    ms = max(int(v) for k, v in item.items() if k[:1] == "l" and k.endswith(f"h{name[1:]}"))
                    seen = f"{item['period']}T{name[1:]}:{ms // 60_000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
                    organizations[(item["organization_id"], hour(item["period"], name[1:]))]["ips"][item["key"]] = {
                        "bytes": value, "last_seen": seen}
        elif item["entity"] == "SubscriberEntry" and item["level"] == "D":
            for hh, (used, seen) in json.loads(item["hours"]).items():
                organizations[(item["organization_id"], hour(item["period"], hh))]["subscribers"][item["key"]] = {
                    "bytes": used, "last_seen": seen}
    return devices, dict(organizations)


def latest(entry: dict) -> str:
    """An IP entry's last record: the largest of its lanes' (l<lane>)."""
    return max(value for name, value in entry.items() if name[:1] == "l" and name[1:].isdigit())


def hour(day: str, hh: str) -> str:
    return f"{day}T{hh}:00:00.000Z"


def test_device_and_organization_hours_equal_a_reference_aggregation(fleet):
    ingest_traffic(fleet)
    fleet.roll_up()
    devices, organizations = stored(aggregate_items())
    expected = reference.device_hours(fleet.events, fleet.usage)
    assert devices == expected    # only hours that hold records have an item
    organization_of = {d["id"]: d["organization_id"] for d in fleet.devices.values()}
    physical_id_of = {d["id"]: d["physical_id"] for d in fleet.devices.values()}
    assert organizations == reference.organization_hours(expected, organization_of, physical_id_of)


def test_days_and_months_sum_their_hours_at_every_level(fleet):
    ingest_traffic(fleet)
    fleet.roll_up()
    items = [plain(item) for item in aggregate_items()]
    expected = reference.device_hours(fleet.events, fleet.usage)
    organization_of = {d["id"]: d["organization_id"] for d in fleet.devices.values()}
    physical_id_of = {d["id"]: d["physical_id"] for d in fleet.devices.values()}
    for level, cut in (("D", 10), ("M", 7)):
        subscribers, ips = defaultdict(lambda: [0, ""]), defaultdict(lambda: [0, ""])
        for (device_id, at), figures in expected.items():
            key = (organization_of[device_id], at[:cut], physical_id_of[device_id])
            subscribers[key][0] += figures["mo_bytes"] + figures["mt_bytes"]
            subscribers[key][1] = max(subscribers[key][1], figures["last_seen"])
            for ip, entry in figures["ips"].items():
                ips[(organization_of[device_id], at[:cut], ip)][0] += entry["bytes"]
                ips[(organization_of[device_id], at[:cut], ip)][1] = max(ips[(organization_of[device_id], at[:cut],
                                                                              ip)][1], entry["last_seen"])
        got_subscribers = {(i["organization_id"], i["period"], i["key"]): [i["bytes"], i["last_seen"]] for i in items
                           if i["entity"] == "SubscriberEntry" and i["level"] == level}
        got_ips = {(i["organization_id"], i["period"], i["key"]): [i["b"], latest(i)] for i in items
                   if i["entity"] == "IpEntry" and i["level"] == level}
        assert got_subscribers == dict(subscribers), level
        assert got_ips == dict(ips), level


def test_records_added_to_an_hour_later_are_summed_with_the_earlier_ones(fleet):
    ingest_traffic(fleet)
    fleet.roll_up()
    a1 = fleet.devices["a1"]
    fleet.ingest("usage", [usage(a1, fleet.clock.ago(minutes=62), 5, 5, "tcp", "93.184.216.34")])
    fleet.ingest("connection_event", [connection(a1, fleet.clock.ago(minutes=62))])
    fleet.roll_up()
    devices, organizations = stored(aggregate_items())
    expected = reference.device_hours(fleet.events, fleet.usage)
    assert devices == expected
    organization_of = {d["id"]: d["organization_id"] for d in fleet.devices.values()}
    physical_id_of = {d["id"]: d["physical_id"] for d in fleet.devices.values()}
    assert organizations == reference.organization_hours(expected, organization_of, physical_id_of)
