"""Keys that every request of a kind would write are spread (docs/capacity.md, "Write path"): idempotency records
each in a partition of their own, a fast token's request count over several keys, and the device lists, audit
trails, counters and due-time index over shards that every read takes together."""
import time

from chalicelib.store import counters, dynamo, schema
from tests.devices.support import follow, stored_items


def test_idempotency_records_each_have_a_partition_of_their_own(api):
    organization, device_type = api.organization(), api.device_type()
    for key in ("key-1", "key-2"):
        body = {"name": key, "serial_number": f"SN-{key}", "type": device_type, "organization_id": organization}
        assert api.post("/inventory_device/", body, headers={"Idempotency-Key": key}).status_code == 201
        assert api.post("/inventory_device/", body, headers={"Idempotency-Key": key}).status_code == 201  # replay
    records = [item["PK"] for item in stored_items() if item["PK"].startswith(schema.IDEMPOTENCY_PK)]
    assert len(records) == len(set(records)) == 2


def test_a_token_allowed_more_than_one_key_can_take_counts_its_requests_on_its_share(api):
    token = api.token(None, ("devices:read",), name="fast", rate_limit_per_minute=100_000)  # 1,667/s: 7 keys
    answer = api.get("/inventory_device/", token=token)
    assert answer.status_code == 200
    assert answer.headers["X-RateLimit-Limit"] == "100000"
    assert int(answer.headers["X-RateLimit-Remaining"]) == 100_000 - 7    # one request, seen from 1 of 7 keys
    token_id = next(t["id"] for t in api.get("/admin/tokens/").json_body["results"] if t["name"] == "fast")
    window = int(time.time() // 60) * 60
    shard = counters.writer_shard() % 7
    assert dynamo.get(schema.rate_window_key(token_id, window, shard))["hits"] == 1


def test_a_fleet_of_devices_lands_on_every_shard_and_every_list_reads_them_all(api):
    organization, device_type = api.organization(), api.device_type()
    ids = [api.device(organization, device_type)["id"] for _ in range(schema.DEVICE_INDEX_SHARDS * 2)]
    shards = {item["GSI2PK"] for item in stored_items() if item.get("entity") == "Device"}
    assert shards == set(schema.fleet_devices_partitions())
    for query in (f"?organization={organization}&limit=3", "?limit=3"):
        page = api.get(f"/inventory_device/{query}").json_body
        seen = [device["id"] for device in page["results"]]
        while page["next"]:
            page = follow(api, page["next"]).json_body
            seen += [device["id"] for device in page["results"]]
        assert seen == sorted(ids)
    audit_shards = {item["PK"] for item in stored_items() if item.get("entity") == "AuditEntry"}
    assert audit_shards == set(schema.audit_org_partitions(organization))
