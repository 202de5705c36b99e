"""Bad telemetry records (API.md §5): each is rejected with its index and reason, the rest of its batch accepted.

One module-wide moto world: per kind, one request holds a good record and every bad case.
"""
from datetime import timedelta

import pytest

from chalicelib import clock
from tests.telemetry.support import BUILDERS, ago, iso, make_fleet, raw_items

KINDS = tuple(BUILDERS)
TIME_FIELD = {"connection_event": "occurred_at", "app_session": "started_at", "usage": "occurred_at"}


BAD_COMMON = {
    "missing event_id": ({"event_id": None}, "event_id", "required"),
    "event_id of the wrong type": ({"event_id": 12}, "event_id", "string"),
    "event_id with a forbidden character": ({"event_id": "a/b"}, "event_id", "pattern"),
    "event_id too long": ({"event_id": "e" * 129}, "event_id", "128"),
    "missing device": ({"device_id": None}, "device_id", "required"),
    "device id as a string": ({"device_id": "1"}, "device_id", "integer"),
    "device id as a boolean": ({"device_id": True}, "device_id", "integer"),
    "unknown identifier kind": ({"device_id": {"kind": "vin", "id": "X"}}, "device_id.kind",
                                "unknown identifier kind"),
    "identifier without id": ({"device_id": {"kind": "imei"}}, "device_id.id", "required"),
    "unknown field": ({"colour": "red"}, "colour", "unknown field"),
}
BAD_TIME = {
    "timestamp without offset": (lambda: clock.now().replace(tzinfo=None).isoformat(), "UTC offset"),
    "timestamp as a number": (lambda: 1_700_000_000, "ISO 8601"),
    "malformed timestamp": (lambda: "yesterday", "ISO 8601"),
    "more than 5 minutes ahead": (lambda: iso(clock.now() + timedelta(minutes=6)), "future"),
    "older than 90 days": (lambda: iso(clock.now() - timedelta(days=90, minutes=1)), "90 days"),
}
BAD_FIELDS = {
    "connection_event": {
        "unknown event type": ({"event": "Pause"}, "event", "Start"),
        "attribute value not a string": ({"attributes": {"BytesUsed": 0}}, "attributes.BytesUsed", "string"),
        "too many attributes": ({"attributes": {f"K{i}": "v" for i in range(65)}}, "attributes", "64"),
        "attribute key too long": ({"attributes": {"K" * 65: "v"}}, "attributes", "64"),
        "attribute value too long": ({"attributes": {"K": "v" * 257}}, "attributes.K", "256"),
        "too many extended attributes": ({"extended_attributes": {f"K{i}": "v" for i in range(33)}},
                                         "extended_attributes", "32"),
        "Event attribute contradicting event": ({"attributes": {"Event": "Stop"}}, "(record)", "differs"),
    },
    "app_session": {
        "success not a boolean": ({"success": "true"}, "success", "boolean"),
        "negative response time": ({"response_time_ms": -1}, "response_time_ms", "between"),
        "duration as a string": ({"duration_s": "30"}, "duration_s", "number"),
        "fractional bytes": ({"bytes": 1.5}, "bytes", "whole number"),
        "missing app_name": ({"app_name": None}, "app_name", "required"),
        "empty app_category": ({"app_category": " "}, "app_category", "at least 1"),
    },
    "usage": {
        "bytes as a string": ({"mo_bytes": "100"}, "mo_bytes", "whole number"),
        "negative bytes": ({"mt_bytes": -5}, "mt_bytes", "between"),
        "protocol with spaces": ({"protocol": "T C P"}, "protocol", "protocol"),
        "destination not an address": ({"destination_ip": "example.com"}, "destination_ip", "IPv4"),
    },
}


def _cases():
    for kind in KINDS:
        for name, (change, field, problem) in (BAD_COMMON | BAD_FIELDS[kind]).items():
            yield pytest.param(kind, change, field, problem, id=f"{kind}: {name}")
        for name, (value, problem) in BAD_TIME.items():
            yield pytest.param(kind, {TIME_FIELD[kind]: value}, TIME_FIELD[kind], problem, id=f"{kind}: {name}")


CASES = list(_cases())


def _bad(kind: str, device_id: int, change: dict) -> dict:
    record = BUILDERS[kind](device_id, ago(minutes=2))
    for name, value in change.items():
        if value is None:
            record.pop(name)
        else:
            record[name] = value() if callable(value) else value
    return record


@pytest.fixture(scope="module")
def verdicts(shared_api) -> dict:
    """Every bad case of a kind in one request after a good record: {(kind, case id): (rejection, stored ids)}."""
    fleet = make_fleet(shared_api)
    device_id = fleet.device["id"]
    verdicts = {}
    for kind in KINDS:
        cases = [case for case in CASES if case.values[0] == kind]
        good = BUILDERS[kind](device_id, ago(minutes=1))
        answer = fleet.accepted(kind, [good, *(_bad(kind, device_id, case.values[1]) for case in cases)])
        assert answer["accepted"] == 1 and answer["duplicates"] == 0
        stored = [item["event_id"] for item in raw_items(device_id, kind)]
        assert stored == [good["event_id"]]
        by_index = {rejection["index"]: rejection for rejection in answer["rejected"]}
        for index, case in enumerate(cases, start=1):
            verdicts[case.id] = by_index.get(index)
    return verdicts


@pytest.mark.parametrize("kind, change, field, problem", CASES)
def test_a_bad_record_is_rejected_with_its_index_and_reason_and_nothing_of_it_written(request, verdicts, kind,
                                                                                      change, field, problem):
    # GIVEN one request per kind: a good record, then every bad case (the fixture checked that only the good
    # record was stored); THEN this case was rejected at its own index, naming the field and the reason.
    rejection = verdicts[request.node.callspec.id]
    assert rejection is not None and rejection["code"] == "INVALID_RECORD"
    reasons = dict(part.split(": ", 1) for part in rejection["error"].split("; "))
    assert problem in reasons[field], rejection
