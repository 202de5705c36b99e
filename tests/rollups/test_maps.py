"""Maps are exact at any size (API.md §8: no "other" bucket), sliced with limit and offset, and refused with
RESPONSE_TOO_LARGE when the whole map would not fit one response."""
from datetime import timedelta
from urllib.parse import urlencode

from chalicelib.analytics import responses
from tests.rollups import reference
from tests.rollups.support import usage

# No map has a cap (the old design kept 1,000 addresses an hour and summed the rest into "other"): exactness is the
# shape of the items, one per key. moto answers a request in ~10 ms here, so the test stays at a few hundred keys.
ADDRESSES = 500   # past the 400 a device hour keeps inside: its addresses spill into items of their own


def _analytics(fleet, path: str, token: str, **params):
    start = fleet.clock.now - timedelta(hours=3)
    query = {"startDate": start.isoformat(), "endDate": fleet.clock.now.isoformat(), **params}
    return fleet.api.get(f"{path}?{urlencode(query)}", token=token)


def _reader(fleet) -> str:
    return fleet.api.token(fleet.acme, ("analytics:overview", "analytics:subscriber"), rate_limit_per_minute=100_000)


def test_hundreds_of_addresses_in_one_hour_are_each_counted_exactly(fleet):
    a1, a2 = fleet.devices["a1"], fleet.devices["a2"]
    at = fleet.clock.ago(minutes=20)
    records = [usage(a1, at + timedelta(milliseconds=n), n + 1, 0, "tcp", f"10.{n // 250}.{n % 250}.1")
               for n in range(ADDRESSES)]
    records.append(usage(a2, at, 7, 3, "udp", "10.0.0.1"))   # an address two devices share
    fleet.ingest("usage", records)
    fleet.roll_up()
    token = _reader(fleet)
    body = _analytics(fleet, "/analytics/data-usage-ip-address", token).json_body["content"][0]
    assert len(body["dataUsageByIp"]) == ADDRESSES
    assert body["totalData"] == sum(r["mo_bytes"] + r["mt_bytes"] for r in records)
    assert body["dataUsageByIp"]["10.0.0.1"]["bytes"] == str(1 + 10)
    last = records[ADDRESSES - 1]
    assert body["dataUsageByIp"][last["destination_ip"]] == {
        "bytes": str(ADDRESSES), "lastSeen": reference.when(last["occurred_at"]).replace(microsecond=0).isoformat()}
    mine = _analytics(fleet, f"/analytics/data-usage-ip-address/{a1['physical_id']}", token).json_body["content"][0]
    assert len(mine["dataUsageByIp"]) == ADDRESSES and mine["dataUsageByIp"]["10.0.0.1"]["bytes"] == "1"


def test_a_slice_holds_its_keys_in_order_with_the_count_and_the_whole_maps_total(fleet):
    devices = [fleet.devices[k] for k in ("a1", "a2", "a3")]
    at = fleet.clock.ago(minutes=30)
    records = [usage(device, at, 10 * (i + 1), 1, "tcp", f"192.0.2.{n}") for i, device in enumerate(devices)
               for n in range(1, 6)]
    fleet.ingest("usage", records)
    fleet.roll_up()
    token = _reader(fleet)
    whole = _analytics(fleet, "/analytics/data-usage-by-subscriber", token).json_body
    assert "count" not in whole
    keys = sorted(whole["content"]["subscriberDataUsage"])
    part = _analytics(fleet, "/analytics/data-usage-by-subscriber", token, limit=2, offset=1).json_body
    assert part["count"] == 3 and list(part["content"]["subscriberDataUsage"]) == keys[1:3]
    assert part["content"]["totalDataUsage"] == whole["content"]["totalDataUsage"]
    ips = _analytics(fleet, "/analytics/data-usage-ip-address", token, offset=3).json_body
    assert ips["count"] == 5 and list(ips["content"][0]["dataUsageByIp"]) == ["192.0.2.4", "192.0.2.5"]
    assert ips["content"][0]["totalData"] == sum(r["mo_bytes"] + r["mt_bytes"] for r in records)
    beyond = _analytics(fleet, f"/analytics/data-usage-ip-address/{devices[0]['physical_id']}", token, offset=9)
    assert beyond.json_body == {"content": [{"dataUsageByIp": {}, "totalData": 5 * 11}], "count": 5}


def test_a_map_too_large_for_one_answer_is_400_naming_limit_and_offset(fleet, refused, monkeypatch):
    a1 = fleet.devices["a1"]
    at = fleet.clock.ago(minutes=10)
    fleet.ingest("usage", [usage(a1, at, n, 0, "tcp", f"198.51.100.{n}") for n in range(1, 40)])
    fleet.roll_up()
    monkeypatch.setattr(responses, "MAX_ANSWER_BYTES", 1_000)   # 5 MB stands for "more than one answer carries"
    token = _reader(fleet)
    for path in ("/analytics/data-usage-ip-address", f"/analytics/data-usage-ip-address/{a1['physical_id']}"):
        error = refused(_analytics(fleet, path, token), 400, "RESPONSE_TOO_LARGE")
        assert {d["field"] for d in error["details"]} == {"limit", "offset"} and "1,000" in error["message"]
        sliced = _analytics(fleet, path, token, limit=5)
        assert sliced.status_code == 200 and sliced.json_body["count"] == 39
    # A path without limit and offset names the range as what to narrow.
    monkeypatch.setattr(responses, "MAX_ANSWER_BYTES", 10)
    error = refused(_analytics(fleet, "/analytics/data-usage-network-protocol", token), 400, "RESPONSE_TOO_LARGE")
    assert [d["field"] for d in error["details"]] == ["endDate"]


def test_a_device_with_more_addresses_than_its_items_keep_inside_spills_them_and_stays_exact(fleet, monkeypatch):
    from chalicelib.rollups import addresses

    monkeypatch.setattr(addresses, "INLINE_IPS", 3)
    a1 = fleet.devices["a1"]
    at = fleet.clock.ago(minutes=40)
    first = [usage(a1, at, n, 1, "tcp", f"203.0.113.{n}") for n in range(1, 6)]
    fleet.ingest("usage", first)
    fleet.roll_up()
    later = [usage(a1, fleet.clock.ago(minutes=10), 100, 0, "udp", f"203.0.113.{n}") for n in (1, 9)]
    fleet.ingest("usage", later)
    fleet.roll_up()
    token = _reader(fleet)
    expected = {}
    for record in first + later:
        used = expected.setdefault(record["destination_ip"], [0, ""])
        used[0] += record["mo_bytes"] + record["mt_bytes"]
        used[1] = max(used[1], record["occurred_at"])
    for path in ("/analytics/data-usage-ip-address", f"/analytics/data-usage-ip-address/{a1['physical_id']}"):
        body = _analytics(fleet, path, token).json_body["content"][0]
        assert {ip: int(entry["bytes"]) for ip, entry in body["dataUsageByIp"].items()} == {
            ip: used for ip, (used, _) in expected.items()}, path
        assert body["dataUsageByIp"]["203.0.113.1"]["lastSeen"] == reference.when(
            expected["203.0.113.1"][1]).replace(microsecond=0).isoformat()
