"""Connection history (API.md §6): pages of at most 500 events, oldest first, continued from last + 1 ms."""
import datetime as datetime_module
import types
from datetime import timedelta

import pytest
from aws_lambda_powertools.utilities.idempotency import base as idempotency_base
from aws_lambda_powertools.utilities.idempotency.persistence import base as persistence_base
from aws_lambda_powertools.utilities.idempotency.persistence import datarecord, dynamodb

from chalicelib import clock
from tests.telemetry.support import (
    ago,
    connection_event,
    follow,
    iso,
    make_fleet,
)

ONE_MS = timedelta(milliseconds=1)


def _events(device_id, times: list, first_seq: int = 0) -> list[dict]:
    """One Start event per time, numbered by a `Seq` attribute (its only one: moto's cost grows with every
    attribute it serialises) so that a test can tell them apart."""
    return [connection_event(device_id, at, attributes={"Seq": str(first_seq + n)}) for n, at in enumerate(times)]


def _ingest(fleet, records: list[dict]) -> None:
    for start in range(0, len(records), 1000):
        answer = fleet.accepted("connection_event", records[start:start + 1000])
        assert answer["accepted"] == len(records[start:start + 1000]), answer


def _seq(event: dict) -> int:
    pairs = event.get("connectionEventAttributes") or event["connection_event_attributes"]
    return int(next(pair["value"] for pair in pairs if pair["key"] == "Seq"))


def _at(event: dict) -> str:
    return event.get("occurredAt") or event["occurred_at"]


def test_paging_through_1234_events_sees_each_exactly_once(fleet):
    # GIVEN 1,234 events, three to a millisecond, so that page ends fall inside a millisecond
    base = ago(minutes=30)
    records = _events(fleet.device["id"], [base + (n // 3) * ONE_MS for n in range(1234)])
    _ingest(fleet, records)
    latest = base + timedelta(minutes=1)

    # WHEN the carrier form is followed with earliest = last occurredAt + 1 ms until isComplete
    carrier, earliest, pages = [], base, 0
    while True:
        response = fleet.carrier_history(fleet.imei_of(), earliest, latest)
        assert response.status_code == 200, response.body
        body = response.json_body
        assert len(body["connectionHistory"]) <= 500 and body["deviceId"] == fleet.imei_of()
        carrier += body["connectionHistory"]
        pages += 1
        if body["isComplete"]:
            break
        earliest = clock.parse_iso(_at(body["connectionHistory"][-1])) + ONE_MS

    # THEN every event came exactly once, oldest first, ties at one millisecond in event_id order
    assert sorted(map(_seq, carrier)) == list(range(1234))
    assert [_seq(e) for e in carrier] == list(range(1234))   # event ids grow with Seq: this is their order too
    assert [_at(e) for e in carrier] == sorted(_at(e) for e in carrier)
    assert pages == 3   # 498 + 498 + 238: each full page ends on a millisecond boundary
    # AND the REST form answers the same first page (its `next` links are followed in the tests below)
    rest = fleet.history(fleet.device["id"], base, latest).json_body
    assert rest["is_complete"] is False and rest["next"]
    assert [(e["occurredAt"], e["connectionEventAttributes"], e["extendedAttributes"]) for e in carrier[:498]] == \
        [(e["occurred_at"], e["connection_event_attributes"], e["extended_attributes"])
         for e in rest["connection_history"]]


def test_events_exactly_at_earliest_and_latest_are_included_and_a_millisecond_outside_not(fleet):
    earliest, latest = ago(minutes=20), ago(minutes=10)
    times = [earliest - ONE_MS, earliest, earliest + ONE_MS, latest - ONE_MS, latest, latest + ONE_MS]
    _ingest(fleet, _events(fleet.device["id"], times))
    body = fleet.carrier_history(fleet.imei_of(), earliest, latest).json_body
    assert [_seq(e) for e in body["connectionHistory"]] == [1, 2, 3, 4]
    assert body["isComplete"] is True
    # The same instants written with another offset, and a window of a single millisecond.
    plus_two = (earliest + timedelta(hours=2)).replace(tzinfo=datetime_module.timezone(timedelta(hours=2)))
    body = fleet.history(fleet.device["id"], plus_two.isoformat(timespec="milliseconds").replace("+", "%2B"),
                         latest).json_body
    assert [_seq(e) for e in body["connection_history"]] == [1, 2, 3, 4]
    body = fleet.history(fleet.device["id"], latest, latest).json_body
    assert [_seq(e) for e in body["connection_history"]] == [4]


def test_a_full_page_ends_on_a_millisecond_boundary_so_ties_are_not_lost(fleet):
    t0 = ago(minutes=5)
    t1, t2 = t0 + ONE_MS, t0 + 2 * ONE_MS
    _ingest(fleet, _events(fleet.device["id"], [t0, t1, t1, t1, t2]))
    pages, response = [], fleet.history(fleet.device["id"], t0, t2, limit=3)
    while True:
        body = response.json_body
        pages.append([_seq(e) for e in body["connection_history"]])
        if body["is_complete"]:
            break
        response = follow(fleet.api, body["next"], fleet.reader)
    # The first page would have cut t1's three events after the first: it stops before t1 instead.
    assert pages == [[0], [1, 2, 3], [4]]


def test_one_millisecond_holding_more_events_than_a_page_is_answered_whole(fleet):
    t0 = ago(minutes=5)
    _ingest(fleet, _events(fleet.device["id"], [t0] * 4 + [t0 + ONE_MS]))
    body = fleet.history(fleet.device["id"], t0, t0 + ONE_MS, limit=3).json_body
    assert [_seq(e) for e in body["connection_history"]] == [0, 1, 2, 3]
    assert body["is_complete"] is False
    assert f"earliest={iso(t0 + ONE_MS)}".replace(":", "%3A") in body["next"]
    last = follow(fleet.api, body["next"], fleet.reader).json_body
    assert [_seq(e) for e in last["connection_history"]] == [4] and last["is_complete"] is True
    alone = fleet.history(fleet.device["id"], t0, t0, limit=3).json_body
    assert len(alone["connection_history"]) == 4 and alone["is_complete"] is True


def test_the_next_link_carries_the_window_and_the_limit(fleet):
    base = ago(minutes=5)
    _ingest(fleet, _events(fleet.device["id"], [base + n * ONE_MS for n in range(5)]))
    body = fleet.history(fleet.device["id"], base, ago(seconds=0), limit=2).json_body
    assert [_seq(e) for e in body["connection_history"]] == [0, 1]
    assert body["device_id"] == fleet.device["id"]
    assert body["next"].startswith(f"http://localhost/inventory_device/{fleet.device['id']}/connection_history")
    second = follow(fleet.api, body["next"], fleet.reader).json_body
    assert [_seq(e) for e in second["connection_history"]] == [2, 3]


def test_a_limit_above_500_is_clamped(fleet):
    base = ago(minutes=5)
    _ingest(fleet, _events(fleet.device["id"], [base + n * ONE_MS for n in range(3)]))
    body = fleet.history(fleet.device["id"], base, ago(seconds=0), limit=100_000).json_body
    assert len(body["connection_history"]) == 3 and body["is_complete"] is True


def test_event_type_attributes_and_extended_attributes_are_answered_as_key_value_pairs(fleet):
    at = ago(minutes=3)
    record = connection_event(fleet.device["id"], at, "Stop", attributes={"OutputBytes": "10", "InputBytes": "5",
                                                                          "Event": "Stop"},
                              extended_attributes={"Apn": "iot.example"})
    _ingest(fleet, [record])
    [event] = fleet.carrier_history(fleet.imei_of(), at, at).json_body["connectionHistory"]
    assert event == {"occurredAt": iso(at),
                     "connectionEventAttributes": [{"key": "Event", "value": "Stop"},
                                                   {"key": "InputBytes", "value": "5"},
                                                   {"key": "OutputBytes", "value": "10"}],
                     "extendedAttributes": [{"key": "Apn", "value": "iot.example"}]}


def test_history_is_per_device_and_ignores_other_kinds(fleet):
    at = ago(minutes=3)
    _ingest(fleet, _events(fleet.other_device["id"], [at]))
    assert fleet.accepted("usage", [{"event_id": "u1", "device_id": fleet.device["id"], "occurred_at": iso(at),
                                     "mo_bytes": 1, "mt_bytes": 1, "protocol": "TCP",
                                     "destination_ip": "10.0.0.1"}])["accepted"] == 1
    body = fleet.carrier_history(fleet.imei_of(), at, at).json_body
    assert body["connectionHistory"] == [] and body["isComplete"] is True


def test_another_organizations_device_is_404_and_its_events_stay_hidden(fleet, refused):
    stranger = make_fleet(fleet.api)
    at = ago(minutes=3)
    _ingest(fleet, _events(fleet.device["id"], [at]))
    refused(fleet.carrier_history(fleet.imei_of(), at, at, token=stranger.reader), 404, "DEVICE_NOT_FOUND")
    refused(fleet.history(fleet.device["id"], at, at, token=stranger.reader), 404, "DEVICE_NOT_FOUND")
    # A platform token sees every organization's devices.
    assert len(fleet.carrier_history(fleet.imei_of(), at, at, token=fleet.api.platform).json_body[
        "connectionHistory"]) == 1


def test_events_past_their_retention_are_not_answered(fleet, monkeypatch):
    at = ago(hours=1)
    _ingest(fleet, _events(fleet.device["id"], [at]))
    later = clock.now() + timedelta(days=400)
    monkeypatch.setattr(clock, "now", lambda: later)
    body = fleet.history(fleet.device["id"], at - timedelta(hours=1), at + timedelta(hours=1)).json_body
    assert body["connection_history"] == [] and body["is_complete"] is True


# --- the duplicate-request rule: an identical request within 60 s is answered with the first response ---

@pytest.fixture
def powertools_clock(monkeypatch):
    """Moves the idempotency utility's clock: it reads datetime.now() (not chalicelib.clock) for the record's
    expiry, both in the DynamoDB condition of its put and when it reads a record back."""
    def advance(seconds: float) -> None:
        class Later(datetime_module.datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime_module.datetime.now(tz) + timedelta(seconds=seconds)
        shim = types.SimpleNamespace(**{**vars(datetime_module), "datetime": Later})
        for module in (idempotency_base, persistence_base, dynamodb, datarecord):
            monkeypatch.setattr(module, "dt", shim)
    return advance


def test_an_identical_request_within_60_s_is_answered_with_the_first_response(fleet, powertools_clock):
    # GIVEN a first answer of one event, then a second event in the same window
    earliest, latest, at = ago(minutes=10), ago(seconds=0), ago(minutes=5)
    _ingest(fleet, _events(fleet.device["id"], [at]))
    first = fleet.carrier_history(fleet.imei_of(), earliest, latest)
    first_rest = fleet.history(fleet.device["id"], earliest, latest)
    _ingest(fleet, _events(fleet.device["id"], [at + ONE_MS], first_seq=1))

    # WHEN the same requests come again within 60 s, THEN they get the first answers
    powertools_clock(59)
    again = fleet.carrier_history(fleet.imei_of(), earliest, latest)
    assert again.status_code == 200 and again.json_body == first.json_body
    assert len(again.json_body["connectionHistory"]) == 1
    assert fleet.history(fleet.device["id"], earliest, latest).json_body == first_rest.json_body
    # (a request that differs, or comes from another token, is another request)
    other_reader = fleet.api.token(fleet.organization, ("devices:read",))
    assert len(fleet.carrier_history(fleet.imei_of(), earliest, latest, token=other_reader).json_body[
        "connectionHistory"]) == 2
    assert len(fleet.history(fleet.device["id"], earliest, latest, limit=10).json_body["connection_history"]) == 2

    # WHEN they come after 60 s, THEN they are answered afresh
    powertools_clock(61)
    assert len(fleet.carrier_history(fleet.imei_of(), earliest, latest).json_body["connectionHistory"]) == 2
    assert len(fleet.history(fleet.device["id"], earliest, latest).json_body["connection_history"]) == 2


def test_a_repeated_request_that_failed_is_answered_afresh(fleet, refused):
    at = ago(minutes=5)
    unknown = {"kind": "imei", "id": "490154203237518"}
    refused(fleet.carrier_history(unknown, at, at), 404, "DEVICE_NOT_FOUND")
    refused(fleet.carrier_history(unknown, at, at), 404, "DEVICE_NOT_FOUND")
