"""Aggregate maps stay far below DynamoDB's 400 KB item limit: the largest entries kept, the rest in "other"."""
from chalicelib.rollups import figures


def usage(i: int, size: int, at: str = "2026-03-10T12:00:00.000Z") -> dict:
    return {"occurred_at": at, "mo_bytes": size, "mt_bytes": 0, "protocol": "TCP",
            "destination_ip": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"}


def test_a_device_hour_keeps_its_busiest_addresses_and_sums_the_rest_into_other():
    records = [usage(i, 10 + i) for i in range(figures.DEVICE_IPS_CAP + 50)]
    records.append(usage(0, 5, "2026-03-10T12:59:00.000Z"))   # the quietest address, seen last
    hour = figures.device_hour([], records)
    assert len(hour["ips"]) == figures.DEVICE_IPS_CAP
    kept = sorted(records[:-1], key=lambda r: -r["mo_bytes"])[:figures.DEVICE_IPS_CAP - 1]
    assert {r["destination_ip"] for r in kept} | {figures.OTHER} == set(hour["ips"])
    assert sum(entry["bytes"] for entry in hour["ips"].values()) == sum(r["mo_bytes"] for r in records)
    assert hour["ips"][figures.OTHER]["last_seen"] == "2026-03-10T12:59:00.000Z"
    assert hour["mo_bytes"] == sum(r["mo_bytes"] for r in records)   # totals are never capped


def test_an_organization_hour_caps_subscribers_and_addresses_and_keeps_exact_totals():
    devices = [(f"8944{i:016d}", figures.device_hour([], [usage(i, 1 + i % 7)])) for i in range(2_100)]
    hour = figures.organization_hour(devices)
    assert len(hour["subscribers"]) == figures.SUBSCRIBERS_CAP
    assert len(hour["ips"]) == figures.ORGANIZATION_IPS_CAP
    total = sum(1 + i % 7 for i in range(2_100))
    assert hour["mo_bytes"] == total
    for capped in ("subscribers", "ips"):
        assert sum(entry["bytes"] for entry in hour[capped].values()) == total
