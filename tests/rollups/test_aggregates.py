"""The hourly aggregates the analytics read (API.md §8; the format schema.device_hour_key documents) hold
exactly what a reference aggregation of the ingested connection events and usage records gives."""
from chalicelib.store.dynamo import plain
from tests.rollups import reference
from tests.rollups.support import aggregate_items, connection, usage

KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "entity", "computed_at", "expires_at")


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
        usage(a2, ago(minutes=40), 1000, 2000, "tcp", "10.1.1.1"),
        usage(a3, ago(hours=26), 1, 2, "tcp", "10.1.1.1"),
        usage(b1, ago(days=2), 300, 400, "udp", "8.8.8.8"),
        usage(a2, ago(days=80), 11, 22, "tcp", "8.8.4.4"),
    ])


def stored_hours(items: list[dict]) -> tuple[dict, dict]:
    devices, organizations = {}, {}
    for item in map(plain, items):
        if item["SK"].startswith("H#"):
            devices[(item["device_id"], item["hour"])] = item
        elif item["PK"].endswith("#HOUR"):
            organizations[(item["organization_id"], item["hour"])] = item
    return devices, organizations


def test_device_and_organization_hours_equal_a_reference_aggregation(fleet):
    ingest_traffic(fleet)
    fleet.roll_up()
    devices, organizations = stored_hours(aggregate_items())
    expected = reference.device_hours(fleet.events, fleet.usage)
    assert set(devices) == set(expected)    # only hours that hold records have an item
    for (device_id, hour), item in devices.items():
        device = next(d for d in fleet.devices.values() if d["id"] == device_id)
        assert item["organization_id"] == device["organization_id"] and item["physical_id"] == device["physical_id"]
        assert item["GSI1PK"].endswith(f"#H#{hour}")
        figures = {k: v for k, v in item.items() if k not in KEYS + ("organization_id", "device_id", "hour",
                                                                      "physical_id")}
        assert figures == expected[(device_id, hour)], (device_id, hour)
    organization_of = {d["id"]: d["organization_id"] for d in fleet.devices.values()}
    physical_id_of = {d["id"]: d["physical_id"] for d in fleet.devices.values()}
    expected_organizations = reference.organization_hours(expected, organization_of, physical_id_of)
    assert set(organizations) == set(expected_organizations)
    for key, item in organizations.items():
        figures = {k: v for k, v in item.items() if k not in KEYS + ("organization_id", "hour")}
        assert figures == expected_organizations[key], key


def test_records_added_to_an_hour_later_are_summed_with_the_earlier_ones(fleet):
    ingest_traffic(fleet)
    fleet.roll_up()
    a1 = fleet.devices["a1"]
    fleet.ingest("usage", [usage(a1, fleet.clock.ago(minutes=62), 5, 5, "tcp", "93.184.216.34")])
    fleet.ingest("connection_event", [connection(a1, fleet.clock.ago(minutes=62))])
    fleet.roll_up()
    devices, organizations = stored_hours(aggregate_items())
    expected = reference.device_hours(fleet.events, fleet.usage)
    assert {key: {k: v for k, v in item.items() if k in expected[key]} for key, item in devices.items()} == expected
