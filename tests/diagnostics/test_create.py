"""POST /inventory_device_diags/ (API.md §4): the seed's bodies as they are, defaults, bad input writing nothing."""
import json

import pytest

from chalicelib.diagnostics.models import MAX_DETAILS_BYTES

ISSUE = {"severity": "medium", "message": "Low disk space detected", "code": "DISK_LOW"}
FIELDS = {"id", "device_id", "device_name", "device_serial", "diagnostic_type", "status", "last_check", "details",
          "issues", "notes", "performed_by", "reported_by", "priority", "created_at", "updated_at", "next_check_due"}


def seed_maintenance(device_id: str) -> dict:
    return {"device_id": device_id, "diagnostic_type": "maintenance", "status": "completed",
            "details": {"action_performed": "firmware_update", "previous_version": "1.2.3", "new_version": "1.2.4",
                        "duration_minutes": 15},
            "notes": "Firmware update completed successfully", "performed_by": "tech@company.com"}


def seed_issue_report(device_id: str) -> dict:
    return {"device_id": device_id, "diagnostic_type": "issue_report", "status": "open",
            "details": {"issue_category": "hardware", "symptoms": ["intermittent_connectivity", "slow_response"],
                        "error_codes": ["ERR_NETWORK_001"], "impact_level": "medium"},
            "notes": "Device experiencing intermittent network connectivity issues. Users report slow response "
                     "times during peak hours.",
            "reported_by": "helpdesk@company.com", "priority": "high"}


def seed_health_check(device_id: str) -> dict:
    """The seed's health-check entry, as its GET example shows it (server-set fields included)."""
    return {"id": "diag-001", "device_id": device_id, "device_name": "Office Printer HP-2024",
            "device_serial": "HP123456789", "diagnostic_type": "health_check", "status": "warning",
            "last_check": "2023-12-01T10:30:00Z",
            "details": {"cpu_usage": 45, "memory_usage": 78, "disk_space": 23, "network_connectivity": "good",
                        "last_ping": "2024-01-15T14:25:00Z"},
            "issues": [ISSUE], "created_at": "2024-01-15T14:25:00Z", "updated_at": "2024-01-15T14:25:00Z",
            "next_check_due": "2024-01-15T18:25:00Z"}


@pytest.mark.parametrize("seed", [seed_maintenance, seed_issue_report, seed_health_check])
def test_the_seeds_example_bodies_are_accepted_as_they_are(diags, seed):
    device = diags.device(name="Office Printer HP-2024")
    body = seed(str(device["id"]))   # the seed's clients send the id as a string

    response = diags.post(body)

    assert response.status_code == 201, response.body
    entry = response.json_body
    assert set(entry) == FIELDS
    assert entry["id"].startswith("diag-") and entry["id"] != "diag-001"
    assert (entry["device_id"], entry["device_name"], entry["device_serial"]) == (
        device["id"], device["name"], device["serial_number"])
    for name in ("diagnostic_type", "status", "details", "notes", "performed_by", "reported_by", "priority"):
        assert entry[name] == body.get(name), name
    for name in ("last_check", "next_check_due"):   # answered in the API's form: milliseconds, Z
        assert entry[name] == (body[name].replace("Z", ".000Z") if name in body else None)
    assert entry["issues"] == body.get("issues", [])
    assert entry["created_at"] == entry["updated_at"] != body.get("created_at")
    assert entry["created_at"].endswith("Z")
    assert diags.page(f"?id={device['id']}")["results"] == [entry]


def test_defaults_of_an_entry_posted_with_only_the_required_fields(diags):
    device = diags.device()
    expected = {"maintenance": "completed", "issue_report": "open", "health_check": "healthy", "calibration": None}
    for diagnostic_type, status in expected.items():
        entry = diags.create(device["id"], diagnostic_type=diagnostic_type)
        assert entry["status"] == status, diagnostic_type
        assert (entry["details"], entry["issues"]) == ({}, [])
        assert all(entry[name] is None for name in ("notes", "performed_by", "reported_by", "priority",
                                                   "last_check", "next_check_due"))


@pytest.mark.parametrize("severities, status", [(["low"], "warning"), (["medium", "high"], "warning"),
                                                (["low", "critical"], "critical")])
def test_a_health_check_posted_without_status_takes_the_status_of_its_worst_issue(diags, severities, status):
    device = diags.device()
    issues = [{**ISSUE, "severity": severity} for severity in severities]
    assert diags.create(device["id"], diagnostic_type="health_check", issues=issues)["status"] == status


def test_values_are_stored_as_sent_and_times_answered_in_utc(diags):
    device = diags.device()
    details = {"cpu_usage": 45.2, "ratio": 0.1, "tiny": 1e-20, "big": 12345678901234567890, "nested": {"a": [1, 2.5]},
               "flag": True, "none": None, "empty": ""}
    entry = diags.create(device["id"], diagnostic_type="Health_Check", details=details,
                         last_check="2024-01-15T16:25:00+02:00", next_check_due="2024-01-15T18:25:00")
    assert entry["diagnostic_type"] == "health_check"
    assert (entry["last_check"], entry["next_check_due"]) == ("2024-01-15T14:25:00.000Z", "2024-01-15T18:25:00.000Z")
    [listed] = diags.page(f"?id={device['id']}")["results"]
    assert listed["details"] == entry["details"] == details


def test_details_of_exactly_64_kib_are_accepted(diags):
    device = diags.device()
    filler = MAX_DETAILS_BYTES - len(json.dumps({"x": ""}, separators=(",", ":")))
    assert diags.post({"device_id": device["id"], "diagnostic_type": "maintenance",
                       "details": {"x": "a" * filler}}).status_code == 201


def test_same_idempotency_key_stores_one_entry(diags):
    device = diags.device()
    body = seed_maintenance(device["id"])
    first = diags.post(body, headers={"Idempotency-Key": "diag-1"})
    again = diags.post(body, headers={"Idempotency-Key": "diag-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json_body == first.json_body
    assert diags.page(f"?id={device['id']}")["count"] == 1


# --- bad input: nothing written -------------------------------------------------------------------------

def _deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"d": value}
    return value


INVALID = [
    ({"device_id": None}, "device_id"),
    ({"device_id": True}, "device_id"),
    ({"device_id": 1.5}, "device_id"),
    ({"device_id": {"id": 1}}, "device_id"),
    ({"device_id": "x" * 65}, "device_id"),
    ({"diagnostic_type": "health check"}, "diagnostic_type"),
    ({"diagnostic_type": ""}, "diagnostic_type"),
    ({"diagnostic_type": None}, "diagnostic_type"),
    ({"status": "broken"}, "status"),
    ({"priority": "urgent"}, "priority"),
    ({"details": ["cpu"]}, "details"),
    ({"details": "cpu=45"}, "details"),
    ({"details": {"x": "a" * MAX_DETAILS_BYTES}}, "details"),
    ({"details": _deep(17)}, "details"),
    ({"details": {"n": 10 ** 40}}, "details"),
    ({"details": {"n": 1e200}}, "details"),
    ({"details": {"": 1}}, "details"),
    ({"issues": {"severity": "low"}}, "issues"),
    ({"issues": [{**ISSUE, "severity": "severe"}]}, "issues.0.severity"),
    ({"issues": [{**ISSUE, "code": "disk_low"}]}, "issues.0.code"),
    ({"issues": [{**ISSUE, "message": ""}]}, "issues.0.message"),
    ({"issues": [{"severity": "low", "message": "m"}]}, "issues.0.code"),
    ({"issues": [{**ISSUE, "seen": 3}]}, "issues.0.seen"),
    ({"issues": [ISSUE] * 51}, "issues"),
    ({"notes": "n" * 4001}, "notes"),
    ({"performed_by": "p" * 255}, "performed_by"),
    ({"last_check": "yesterday"}, "last_check"),
    ({"next_check_due": "2024-13-01T00:00:00Z"}, "next_check_due"),
    ({"schedule_time": "2023-12-01T15:00:00Z"}, "schedule_time"),
]


def test_each_invalid_field_is_422_naming_it_and_writes_nothing(api, refused, stored, subtests):
    # Validation comes before the device is looked up: no device is needed.
    before = stored()
    for changes, field in INVALID:
        with subtests.test(field=field, changes=str(changes)[:60]):
            body = {"device_id": 1, "diagnostic_type": "maintenance"} | changes
            error = refused(api.post("/inventory_device_diags/", {k: v for k, v in body.items() if v is not None}),
                            422, "VALIDATION_FAILED")
            assert [d["field"] for d in error["details"]] == [field]
    assert stored() == before


def test_every_bad_field_is_listed_at_once(diags, refused):
    error = refused(diags.post({"device_id": "device-12345", "diagnostic_type": "Bad Type", "status": "x",
                                "priority": "y", "details": 3}), 422, "VALIDATION_FAILED")
    assert sorted(d["field"] for d in error["details"]) == ["details", "diagnostic_type", "priority", "status"]


@pytest.mark.parametrize("raw", [b'{"device_id": 1, "diagnostic_type": "x", "details": {"cpu": NaN}}',
                                 b'{"device_id": 1, "diagnostic_type": "x", "details": {"cpu": Infinity}}'])
def test_numbers_dynamodb_cannot_hold_are_422(diags, refused, raw):
    error = refused(diags.api.post("/inventory_device_diags/", raw=raw), 422, "VALIDATION_FAILED")
    assert [d["field"] for d in error["details"]] == ["details"]


def test_a_body_that_is_not_json_is_400(diags, refused):
    refused(diags.api.post("/inventory_device_diags/", raw=b"device_id=1"), 400, "INVALID_JSON")


def test_unknown_device_is_404_and_writes_nothing(api, diags, refused, stored):
    ours = diags.device()
    theirs = api.device(api.organization(), diags.type)
    token = api.token(diags.organization, permissions=("diagnostics:read", "diagnostics:write"))
    before = stored()
    for device_id in (999_999, "999999", "device-12345"):
        refused(diags.post({"device_id": device_id, "diagnostic_type": "maintenance"}), 404, "DEVICE_NOT_FOUND")
    for device_id in (0, -4, 10 ** 12, "0", "²", "１２"):    # not an id at all (API.md §1): bad input
        refused(diags.post({"device_id": device_id, "diagnostic_type": "maintenance"}), 422, "VALIDATION_FAILED")
    refused(diags.post({"device_id": theirs["id"], "diagnostic_type": "maintenance"}, token=token), 404,
            "DEVICE_NOT_FOUND")
    assert stored() == before
    assert diags.post({"device_id": ours["id"], "diagnostic_type": "maintenance"}, token=token).status_code == 201


def test_token_without_diagnostics_write_is_403(api, diags, refused, stored):
    device = diags.device()
    tokens = [api.token(diags.organization, permissions=permissions)
              for permissions in (("diagnostics:read",), ("devices:write", "devices:read"))]
    before = stored()
    for token in tokens:
        refused(diags.post({"device_id": device["id"], "diagnostic_type": "maintenance"}, token=token), 403,
                "PERMISSION_DENIED")
    assert stored() == before


def test_device_deleted_between_the_check_and_the_write_is_404_and_writes_nothing(diags, refused, stored,
                                                                                    monkeypatch):
    # GIVEN a device that was visible when looked up but is gone when the entry is written
    from chalicelib.diagnostics import service
    gone = {"id": 4242, "organization_id": diags.organization, "name": "gone", "serial_number": "GONE-1"}
    monkeypatch.setattr(service.devices_service, "get_visible", lambda principal, device_id: gone)
    before = stored()
    # WHEN an entry is posted for it THEN it is refused as for any unknown device
    refused(diags.post({"device_id": 4242, "diagnostic_type": "maintenance"}), 404, "DEVICE_NOT_FOUND")
    assert stored() == before
