"""DELETE removes the device and all its data (API.md §2; issue 12, item 5): its telemetry, de-duplication guards,
aggregates, subscriber entries and summary entries go in the background; organization totals keep their sums."""
import pytest

from chalicelib import aws, clock
from chalicelib.config import get_settings
from chalicelib.rollups import purge
from chalicelib.store import dynamo, schema
from chalicelib.telemetry import db as telemetry_db
from tests.rollups.support import connection, session, usage


def everything() -> list[dict]:
    pages = aws.dynamodb().get_paginator("scan").paginate(TableName=get_settings().table_name)
    return [dynamo.plain(item) for page in pages for item in page["Items"] if not item["PK"].startswith("RATE#")]


def traces_of(device: dict) -> list[dict]:
    """Every item that still names the device, but its audit entries (which outlive it, API.md §2)."""
    own = schema.device_partition(device["id"])
    return [item for item in everything() if item.get("entity") != "AuditEntry" and (
        item["PK"].startswith(own) or item.get("device_id") == device["id"]
        or device["physical_id"] in item["PK"] + item["SK"])]


def ingest_history(fleet, device: dict) -> None:
    ago = fleet.clock.ago
    fleet.ingest("app_session", [session(device, ago(minutes=5)), session(device, ago(days=2), "Mail", "mail")])
    fleet.ingest("connection_event", [connection(device, ago(minutes=4)), connection(device, ago(days=40))])
    fleet.ingest("usage", [usage(device, ago(minutes=3)), usage(device, ago(days=40), 5, 5, "udp", "192.0.2.1")])


def delete(fleet, device: dict) -> None:
    assert fleet.api.delete(f"/inventory_device/{device['id']}/").status_code == 204
    del fleet.devices[next(name for name, d in fleet.devices.items() if d["id"] == device["id"])]


def test_a_deleted_device_leaves_nothing_to_read_back_but_its_audit_trail(fleet):
    a1, a2 = fleet.devices["a1"], fleet.devices["a2"]
    ingest_history(fleet, a1)
    ingest_history(fleet, a2)
    fleet.roll_up()
    assert len(traces_of(a1)) > 20
    day_totals = [item for item in everything() if item.get("entity") == "OrganizationDay"]
    delete(fleet, a1)
    fleet.roll_up()
    assert traces_of(a1) == []
    assert traces_of(a2) != []                                     # its neighbour keeps everything
    assert [item for item in everything() if item.get("entity") == "OrganizationDay"] == day_totals   # sums kept
    body = fleet.summary("?time_range=90d").json_body
    assert body["summary"]["total_devices"] == 3 and a1["id"] not in [row["device_id"] for row in body["results"]]


def test_a_long_history_is_removed_over_several_units(fleet, monkeypatch):
    a1 = fleet.devices["a1"]
    ingest_history(fleet, a1)
    fleet.ingest("usage", [usage(a1, fleet.clock.ago(hours=h), 1, 1, "tcp", f"10.0.0.{h}") for h in range(1, 30)])
    fleet.roll_up()
    monkeypatch.setattr(purge, "PURGE_ITEMS", 7)
    delete(fleet, a1)
    report = fleet.roll_up()
    assert report["units"] > 5
    assert traces_of(a1) == []


def test_records_still_in_flight_when_the_device_was_deleted_are_removed_too(fleet):
    a1 = fleet.devices["a1"]
    ingest_history(fleet, a1)
    fleet.roll_up()
    delete(fleet, a1)
    fleet.roll_up()
    # An ingest that resolved the device before the delete writes its record and announces it afterwards.
    at = fleet.clock.ago(minutes=1)
    telemetry_db.put_all([telemetry_db.raw_item("usage", a1["organization_id"], a1["id"], "late-1", at,
                                                {"mo_bytes": 1, "mt_bytes": 1, "protocol": "TCP",
                                                 "destination_ip": "192.0.2.9"}, "occurred_at", clock.iso(at))])
    from chalicelib.rollups import lanes
    lanes.announce_records({(a1["organization_id"], a1["id"], clock.iso(at.replace(minute=0, second=0,
                                                                                  microsecond=0)), "usage")})
    fleet.roll_up()
    assert traces_of(a1) == []


@pytest.mark.parametrize("refused_by", ["sqs"])
def test_a_purge_request_the_queue_refuses_is_carried_by_the_audit_trail(fleet, refused_by):
    a1 = fleet.devices["a1"]
    ingest_history(fleet, a1)
    fleet.roll_up()

    def refuse(**_):
        from botocore.exceptions import ClientError
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessageBatch")
    sqs = aws.client(refused_by)
    sqs.meta.events.register("before-call.sqs.SendMessageBatch", refuse)
    try:
        delete(fleet, a1)        # answered 204: the device is gone, its data follows
    finally:
        sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", refuse)
    fleet.roll_up()
    assert traces_of(a1) == []
