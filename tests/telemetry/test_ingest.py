"""Telemetry ingestion (API.md §5): per-record validation, device references, de-duplication, what is stored."""
from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.rollups import lanes
from tests.telemetry.support import (
    BUILDERS,
    CONNECTION_EVENTS,
    ENDPOINTS,
    ago,
    announced,
    app_session,
    connection_event,
    iso,
    make_fleet,
    raw_items,
    usage_record,
)

KINDS = tuple(BUILDERS)
TIME_FIELD = {"connection_event": "occurred_at", "app_session": "started_at", "usage": "occurred_at"}


def _epoch(moment) -> int:
    return int(moment.timestamp())


def test_each_kind_is_stored_with_the_attributes_the_rollups_read(fleet):
    device_id, at = fleet.device["id"], ago(minutes=30)
    records = {"connection_event": connection_event(device_id, at, "Stop", extended_attributes={"Apn": "iot"}),
               "app_session": app_session(device_id, at, success=False, duration_s=12),
               "usage": usage_record(device_id, at, protocol="udp", destination_ip="2001:DB8::1")}
    for kind, record in records.items():
        assert fleet.accepted(kind, [record]) == {"accepted": 1, "duplicates": 0, "rejected": []}

    retention = timedelta(days=get_settings().telemetry_retention_days)
    common = {"entity", "organization_id", "device_id", "kind", "event_id", "ingested_at", "expires_at"}
    fields = {"connection_event": {"occurred_at", "event", "attributes", "extended_attributes"},
              "app_session": {"started_at", "app_id", "app_name", "app_category", "success", "response_time_ms",
                              "duration_s", "bytes"},
              "usage": {"occurred_at", "mo_bytes", "mt_bytes", "protocol", "destination_ip"}}
    for kind, record in records.items():
        [item] = raw_items(device_id, kind)
        assert item["SK"] == f"{iso(at)}#{record['event_id']}"
        assert set(item) == {"PK", "SK"} | common | fields[kind]
        assert item[TIME_FIELD[kind]] == iso(at)
        assert (item["organization_id"], item["device_id"], item["kind"]) == (fleet.organization, device_id, kind)
        assert item["expires_at"] == _epoch(at + retention)
    conn, session, usage = (raw_items(device_id, kind)[0] for kind in KINDS)
    assert conn["attributes"] == {"BytesUsed": "0", "FramedIpAddress": "10.222.11.2"}
    assert conn["extended_attributes"] == {"Apn": "iot"} and conn["event"] == "Stop"
    assert (session["success"], session["duration_s"], session["bytes"]) == (False, 12, 2048)
    assert (usage["protocol"], usage["destination_ip"], usage["mo_bytes"]) == ("UDP", "2001:db8::1", 100)


def test_fractional_measures_are_kept_to_thousandths(fleet):
    records = [app_session(fleet.device["id"], ago(minutes=m), response_time_ms=value, duration_s=value)
               for m, value in ((3, 12.34567), (2, 1e-300), (1, 7))]
    assert fleet.accepted("app_session", records)["accepted"] == 3
    stored = [(item["response_time_ms"], item["duration_s"]) for item in raw_items(fleet.device["id"], "app_session")]
    assert stored == [(Decimal("12.346"), Decimal("12.346")), (0, 0), (7, 7)]


def test_retention_setting_sets_the_ttl(fleet, monkeypatch):
    monkeypatch.setenv("TELEMETRY_RETENTION_DAYS", "120")
    get_settings.cache_clear()
    at = ago(hours=2)
    fleet.accepted("usage", [usage_record(fleet.device["id"], at)])
    assert raw_items(fleet.device["id"], "usage")[0]["expires_at"] == _epoch(at + timedelta(days=120))


def test_devices_are_named_by_id_or_by_any_identifier_kind_or_serial(fleet):
    device = fleet.device
    lowered_serial = {"kind": "SERIAL", "id": device["serial_number"].lower()}  # serials match in any case
    records = [usage_record(device["id"], ago(minutes=5)), usage_record(fleet.imei_of(), ago(minutes=4)),
               usage_record({"kind": "serial", "id": device["serial_number"]}, ago(minutes=3)),
               usage_record(lowered_serial, ago(minutes=2))]
    assert fleet.accepted("usage", records)["accepted"] == 4
    assert [item["event_id"] for item in raw_items(device["id"], "usage")] == [r["event_id"] for r in records]


def test_unknown_and_foreign_devices_are_rejected_per_record_and_the_rest_accepted(fleet):
    foreign = make_fleet(fleet.api).device
    at = ago(minutes=1)
    records = [usage_record(fleet.device["id"], at), usage_record(foreign["id"], at),
               usage_record({"kind": "imei", "id": foreign["identifiers"]["imei"]}, at),
               usage_record(999_999, at), usage_record({"kind": "imei", "id": "123"}, at),
               usage_record({"kind": "eui", "id": "0011223344556677"}, at)]
    answer = fleet.accepted("usage", records)
    assert answer["accepted"] == 1
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(i, "DEVICE_NOT_FOUND") for i in range(1, 6)]
    assert "organization" not in answer["rejected"][0]["error"]
    assert raw_items(foreign["id"], "usage") == []


def test_records_at_the_edges_of_the_accepted_age_are_accepted(fleet):
    device_id = fleet.device["id"]
    records = [usage_record(device_id, clock.now() + timedelta(minutes=4)),
               usage_record(device_id, clock.now() - timedelta(days=89, hours=23)),
               usage_record(device_id, ago(seconds=1), occurred_at=iso(ago(hours=1)).replace("Z", "+05:30"))]
    assert fleet.accepted("usage", records)["accepted"] == 3


def test_a_record_that_is_not_an_object_is_rejected(fleet):
    answer = fleet.accepted("usage", ["usage", 12, None])
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(0, "INVALID_RECORD"), (1, "INVALID_RECORD"),
                                                                     (2, "INVALID_RECORD")]


def test_a_batch_with_every_record_rejected_is_still_202_with_nothing_accepted(fleet, stored):
    before = stored()
    answer = fleet.accepted("usage", [usage_record(999_999, ago(minutes=1)), {"event_id": "x"}])
    assert answer["accepted"] == 0 and len(answer["rejected"]) == 2
    assert stored() == before


def test_an_empty_batch_is_accepted_as_nothing(fleet):
    assert fleet.accepted("usage", []) == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_body_that_is_not_json_is_400_and_a_body_without_records_422(fleet, refused):
    refused(fleet.api.post(CONNECTION_EVENTS, raw=b"{records", token=fleet.writer), 400, "INVALID_JSON")
    for body in ([connection_event(1, ago(minutes=1))], {"records": {"a": 1}}, {"data": []}, {}):
        refused(fleet.api.post(CONNECTION_EVENTS, body, token=fleet.writer), 422, "VALIDATION_FAILED")


def test_more_than_1000_records_is_422_and_writes_nothing(fleet, refused, stored):
    before = stored()
    records = [usage_record(fleet.device["id"], ago(minutes=1)) for _ in range(1001)]
    error = refused(fleet.ingest("usage", records), 422, "VALIDATION_FAILED")
    assert [d["field"] for d in error["details"]] == ["records"]
    assert stored() == before


@pytest.mark.parametrize("kind", KINDS)
def test_ingestion_needs_telemetry_write(fleet, refused, kind):
    refused(fleet.ingest(kind, [BUILDERS[kind](fleet.device["id"], ago(minutes=1))], token=fleet.reader),
            403, "PERMISSION_DENIED")
    assert raw_items(fleet.device["id"], kind) == []


def test_a_redelivered_batch_is_all_duplicates_and_changes_nothing(fleet, stored):
    device_id = fleet.device["id"]
    batch = [connection_event(device_id, ago(hours=h)) for h in range(3)]
    assert fleet.accepted("connection_event", batch)["accepted"] == 3
    before = stored()
    assert fleet.accepted("connection_event", batch) == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert stored() == before


def test_a_partly_new_batch_accepts_only_the_new_records(fleet):
    device_id = fleet.device["id"]
    first = [usage_record(device_id, ago(minutes=m)) for m in (5, 4)]
    fleet.accepted("usage", first)
    fresh = usage_record(device_id, ago(minutes=3))
    assert fleet.accepted("usage", [*first, fresh]) == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert len(raw_items(device_id, "usage")) == 3


def test_an_event_id_repeated_inside_one_request_is_stored_once(fleet):
    device_id = fleet.device["id"]
    record = usage_record(device_id, ago(minutes=2))
    twice = [record, dict(record), record | {"occurred_at": iso(ago(minutes=1))}]
    assert fleet.accepted("usage", twice) == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert len(raw_items(device_id, "usage")) == 1


def test_event_ids_are_scoped_per_kind_and_organization(fleet):
    other = make_fleet(fleet.api)
    at = ago(minutes=1)
    assert fleet.accepted("usage", [usage_record(fleet.device["id"], at, event_id="same")])["accepted"] == 1
    assert fleet.accepted("connection_event", [connection_event(fleet.device["id"], at, event_id="same")])[
        "accepted"] == 1
    assert other.accepted("usage", [usage_record(other.device["id"], at, event_id="same")])["accepted"] == 1


def test_a_batch_tells_each_rollup_lane_its_device_hours_and_kinds_before_it_answers(fleet):
    base = clock.now().replace(minute=30, second=0, microsecond=0) - timedelta(hours=3)
    one, two = fleet.device["id"], fleet.other_device["id"]
    batch = [usage_record(one, base), usage_record(one, base + timedelta(minutes=10)),
             usage_record(one, base + timedelta(hours=1)), usage_record(two, base)]
    fleet.accepted("usage", batch)
    hour = clock.iso(base.replace(minute=0))
    next_hour = clock.iso(base.replace(minute=0) + timedelta(hours=1))
    messages = announced()
    entries = sorted(tuple(entry) for _, body in messages for entry in body["entries"])
    assert entries == sorted([(one, fleet.organization, hour, "usage"), (one, fleet.organization, next_hour, "usage"),
                              (two, fleet.organization, hour, "usage")])
    # One message per lane, in the lane of its devices.
    assert sorted(lane for lane, _ in messages) == sorted({lanes.lane_of(one), lanes.lane_of(two)})
    assert all(lanes.lane_of(entry[0]) == lane for lane, body in messages for entry in body["entries"])
    fleet.accepted("usage", batch)
    assert announced() == []   # a redelivery touches no bucket


def test_a_batch_the_rollups_queue_refuses_is_503_and_a_retry_is_accepted_whole(fleet, refused, monkeypatch):
    from chalicelib import aws

    def refuse(**_):
        from botocore.exceptions import ClientError
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessageBatch")
    sqs = aws.client("sqs")
    sqs.meta.events.register("before-call.sqs.SendMessageBatch", refuse)
    batch = [usage_record(fleet.device["id"], ago(minutes=2))]
    try:
        error = refused(fleet.ingest("usage", batch), 503, "SERVICE_UNAVAILABLE")
    finally:
        sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", refuse)
    assert error["message"]
    # No guard was written: the same batch sent again is new, and announced this time.
    assert fleet.accepted("usage", batch) == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert [entry[0] for _, body in announced() for entry in body["entries"]] == [fleet.device["id"]]


def test_an_idempotency_key_replays_the_first_answer(fleet):
    batch = [usage_record(fleet.device["id"], ago(minutes=1))]
    first = fleet.ingest("usage", batch, headers={"Idempotency-Key": "upload-1"})
    again = fleet.ingest("usage", batch, headers={"Idempotency-Key": "upload-1"})
    assert first.status_code == again.status_code == 202
    assert again.json_body == first.json_body == {"accepted": 1, "duplicates": 0, "rejected": []}


@pytest.mark.parametrize("kind", KINDS)
def test_every_endpoint_takes_its_path_with_and_without_the_trailing_slash(fleet, kind):
    record = BUILDERS[kind](fleet.device["id"], ago(minutes=1))
    response = fleet.api.post(ENDPOINTS[kind].rstrip("/"), {"records": [record]}, token=fleet.writer)
    assert response.status_code == 202 and response.json_body["accepted"] == 1


def test_a_thousand_rejections_with_huge_field_names_still_fit_the_answer_and_its_idempotency_record(fleet):
    # Each rejection names the client's own fields: the reason is cut, or the answer (kept whole by the
    # Idempotency-Key record, one DynamoDB item) could outgrow 400 KB and fail.
    record = {f"{'x' * 400}{n}": n for n in range(3)}
    first = fleet.ingest("usage", [record] * 1000, headers={"Idempotency-Key": "huge"})
    assert first.status_code == 202, first.body
    assert first.json_body["accepted"] == 0 and len(first.json_body["rejected"]) == 1000
    assert all(len(rejection["error"]) <= 200 for rejection in first.json_body["rejected"])
    again = fleet.ingest("usage", [record] * 1000, headers={"Idempotency-Key": "huge"})
    assert again.status_code == 202 and again.json_body == first.json_body


RADIUS = {  # the accounting attributes of a cellular session, as a packet gateway sends them (the seed has 42)
    **{f"Acct-{name}": value for name, value in (("Status-Type", "2"), ("Delay-Time", "0"),
                                                   ("Input-Octets", "123456789"), ("Output-Octets", "987654321"),
                                                   ("Session-Id", "JRadius-967b493fa333"), ("Authentic", "1"),
                                                   ("Session-Time", "3600"), ("Input-Packets", "12345"),
                                                   ("Output-Packets", "23456"), ("Terminate-Cause", "1"),
                                                   ("Multi-Session-Id", "ms-967b493fa333"), ("Link-Count", "1"))},
    **{f"3GPP-{name}": value for name, value in (("IMSI", "310150123456789"), ("Charging-ID", "12345678"),
                                                   ("GGSN-Address", "192.0.2.1"), ("IMSI-MCC-MNC", "310150"),
                                                   ("SGSN-Address", "192.0.2.2"), ("NSAPI", "5"), ("RAT-Type", "6"),
                                                   ("User-Location-Info", "0x8213f1000a1b2c3d"))},
    **{f"Vendor-Attribute-{n:02d}": f"value-{n:02d}-0123456789" for n in range(22)},
}


def test_a_connection_event_past_one_write_unit_keeps_its_attributes_compressed_and_answers_them_all(fleet):
    from chalicelib.telemetry import db

    at = ago(minutes=3)
    record = connection_event(fleet.device["id"], at, attributes=RADIUS, extended_attributes={"Apn": "iot"})
    assert len(RADIUS) == 42 and fleet.accepted("connection_event", [record])["accepted"] == 1
    [item] = raw_items(fleet.device["id"], "connection_event")
    assert "attributes" not in item and db.item_bytes(item) <= 1024   # one write unit, not two
    assert db.attributes_of(item) == (RADIUS, {"Apn": "iot"})
    body = fleet.history(fleet.device["id"], at, at).json_body
    [event] = body["connection_history"]
    assert event["connection_event_attributes"][0] == {"key": "Event", "value": "Start"}
    assert {pair["key"]: pair["value"] for pair in event["connection_event_attributes"][1:]} == RADIUS
    assert event["extended_attributes"] == [{"key": "Apn", "value": "iot"}]
