"""The audit trail of device changes and GET /audit_log/ (API.md §2 Audit trail): what is recorded, scope, pages."""
from datetime import UTC, datetime, timedelta

import pytest

from tests.devices.support import AUDIT, DEVICES, audit_of, device_path, follow, query_of, token_id, world
from tests.factories import device_body

ENTRY_FIELDS = {"id", "device_id", "action", "changes", "actor", "at"}


@pytest.fixture
def org(api) -> int:
    return api.organization()


@pytest.fixture
def dtype(api) -> int:
    return api.device_type()


def _utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _log(api, query: str = "", **kw) -> dict:
    response = api.get(f"{AUDIT}?{query}", **kw)
    assert response.status_code == 200, response.body
    return response.json_body


def _everything(api, **kw) -> list[dict]:
    return _log(api, "limit=200", **kw)["results"]


# --- what is recorded ----------------------------------------------------------------------------------

def test_create_is_recorded_with_every_field_sent_the_actor_and_the_time(api, org, dtype):
    body = device_body(org, dtype, customer_id="CUST-7", latitude="42.3601", longitude="-71.0589",
                       identifiers={"imsi": "310150123456789"}, password="s3cret-pass")
    started = datetime.now(UTC)
    device = api.post(DEVICES, body).json_body
    [entry] = audit_of(api, device["id"])
    assert ENTRY_FIELDS <= set(entry)
    assert (entry["device_id"], entry["action"]) == (device["id"], "create")
    expected = {k: {"old": None, "new": v} for k, v in body.items()} | {"password": {"old": None, "new": "***"}}
    assert entry["changes"] == expected
    assert entry["actor"] == {"token_id": token_id(api, "platform"), "name": "platform"}
    assert started - timedelta(seconds=1) <= _utc(entry["at"]) <= datetime.now(UTC)


def test_update_records_only_the_changed_fields_with_old_and_new_values(api, org, dtype):
    device = api.device(org, dtype, name="edge-1", customer_id="CUST-1", description="old")
    api.patch(device_path(device), {"name": "edge-2", "customer_id": "CUST-1", "description": None,
                                    "status": "Up"})
    update, _ = audit_of(api, device["id"])
    assert update["action"] == "update"
    assert update["changes"] == {"name": {"old": "edge-1", "new": "edge-2"}, "description": {"old": "old", "new": None},
                                 "status": {"old": "Down", "new": "Up"}}


def test_put_records_the_fields_it_cleared(api, org, dtype):
    device = api.device(org, dtype, customer_id="CUST-1")
    api.put(device_path(device), {k: device[k] for k in ("name", "type", "serial_number", "organization_id")})
    update, _ = audit_of(api, device["id"])
    assert update["changes"] == {"customer_id": {"old": "CUST-1", "new": None}}


def test_delete_is_recorded_and_the_entries_outlive_the_device(api, refused, org, dtype):
    device = api.device(org, dtype)
    api.patch(device_path(device), {"name": "renamed"})
    assert api.delete(device_path(device)).status_code == 204
    refused(api.get(device_path(device)), 404, "DEVICE_NOT_FOUND")
    deleted, updated, created = audit_of(api, device["id"])
    assert [deleted["action"], updated["action"], created["action"]] == ["delete", "update", "create"]
    assert deleted["changes"]["serial_number"] == {"old": device["serial_number"], "new": None}
    assert deleted["changes"]["name"] == {"old": "renamed", "new": None}
    assert deleted["actor"] == created["actor"]


def test_an_organization_tokens_changes_name_that_token(api, org, dtype):
    token = api.token(org, name="provisioning-bot")
    device = api.post(DEVICES, device_body(org, dtype), token=token).json_body
    [entry] = audit_of(api, device["id"])
    assert entry["actor"] == {"token_id": token_id(api, "provisioning-bot"), "name": "provisioning-bot"}


def test_entries_are_newest_first(api, org, dtype):
    first = api.device(org, dtype)
    second = api.device(org, dtype)
    api.patch(device_path(first), {"name": "later"})
    entries = _everything(api)
    assert [(e["device_id"], e["action"]) for e in entries] == [(first["id"], "update"), (second["id"], "create"),
                                                                (first["id"], "create")]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)


# --- failed writes record nothing ----------------------------------------------------------------------

def test_refused_writes_record_nothing(api, refused, org, dtype):
    device = api.device(org, dtype, serial_number="TAKEN-1")
    path = device_path(device)
    stale = api.get(path).headers["ETag"]
    api.patch(path, {"name": "fresh"})
    reader = api.token(org, ("devices:read",))
    before, entries = world(api), _everything(api)
    refused(api.post(DEVICES, device_body(org, dtype, serial_number="taken-1")), 409, "DUPLICATE_VALUE")
    refused(api.post(DEVICES, device_body(org, dtype, latitude="95", longitude="0")), 422, "VALIDATION_FAILED")
    refused(api.post(DEVICES, device_body(org, 999_999)), 422, "VALIDATION_FAILED")
    refused(api.patch(path, {"name": "lost"}, headers={"If-Match": stale}), 412, "ETAG_MISMATCH")
    refused(api.patch(path, {"name": "nope"}, token=reader), 403, "PERMISSION_DENIED")
    refused(api.patch(path, {"organization_id": 999_999}), 422, "VALIDATION_FAILED")
    refused(api.delete(device_path(device["id"] + 1000)), 404, "DEVICE_NOT_FOUND")
    assert _everything(api) == entries
    assert world(api) == before


# --- scope and permission ------------------------------------------------------------------------------

def test_an_organization_token_sees_only_its_organizations_entries(api, org, dtype):
    other = api.organization()
    mine, theirs = api.device(org, dtype), api.device(other, dtype)
    token = api.token(org, ("devices:read",))
    assert {e["device_id"] for e in _everything(api, token=token)} == {mine["id"]}
    assert _log(api, f"device_id={theirs['id']}", token=token)["results"] == []
    assert {e["device_id"] for e in _everything(api)} == {mine["id"], theirs["id"]}


def test_a_move_between_organizations_is_in_both_organizations_trails_and_once_in_the_devices(api, org, dtype):
    # GIVEN a device of one organization, and a reader in each organization
    other = api.organization()
    device = api.device(org, dtype)
    readers = {org: api.token(org, ("devices:read",)), other: api.token(other, ("devices:read",))}
    # WHEN it is moved to the other
    moved = api.patch(device_path(device), {"organization_id": other})
    assert moved.status_code == 200, moved.body
    # THEN each organization's trail holds the move (the old one: its own history of the device too)
    move = {"organization_id": {"old": org, "new": other}}
    for organization, token in readers.items():
        entries = _everything(api, token=token)
        assert [e["changes"] for e in entries if e["action"] == "update"] == [move], organization
        by_device = _log(api, f"device_id={device['id']}", token=token)["results"]
        assert [e["action"] for e in by_device] == (["update"] if organization == other else ["update", "create"])
    # AND the device's and the fleet's trails hold it once, as the same entry the organizations see
    updates = [e for e in audit_of(api, device["id"]) if e["action"] == "update"]
    fleet = [e for e in _everything(api) if e["action"] == "update"]
    assert len(updates) == len(fleet) == 1 and updates[0]["id"] == fleet[0]["id"]
    assert {e["id"] for e in _everything(api, token=readers[org]) if e["action"] == "update"} == {updates[0]["id"]}
    assert _log(api, "action=update", token=readers[org])["count"] == 1


def test_the_audit_log_needs_devices_read(api, refused, org):
    refused(api.get(AUDIT, token=api.token(org, ("diagnostics:read",))), 403, "PERMISSION_DENIED")
    refused(api.get(AUDIT, token=None), 401, "MISSING_TOKEN")


def test_path_without_trailing_slash_is_the_same(api, org, dtype):
    api.device(org, dtype)
    assert api.get("/audit_log").json_body == api.get(AUDIT).json_body


# --- pagination ----------------------------------------------------------------------------------------

def test_pages_hold_50_by_default_at_most_200_and_next_walks_every_entry_once(api, org, dtype):
    # GIVEN 52 entries: a create and 51 renames
    device = api.device(org, dtype)
    for n in range(51):
        api.patch(device_path(device), {"name": f"name-{n}"})
    # THEN the first page holds 50, newest first, and next leads to the other two
    first = _log(api)
    assert len(first["results"]) == 50
    assert first["previous"] is None and query_of(first["next"])["limit"] == "50"
    rest = follow(api, first["next"]).json_body
    assert rest["next"] is None
    entries = first["results"] + rest["results"]
    assert len({e["id"] for e in entries}) == 52
    assert entries[0]["changes"]["name"]["new"] == "name-50" and entries[-1]["action"] == "create"
    # AND a limit above 200 is clamped, an offset skips
    clamped = _log(api, "limit=1000&offset=1")
    assert [e["id"] for e in clamped["results"]] == [e["id"] for e in entries[1:]]
    assert query_of(clamped["previous"]) == {"limit": "200", "offset": "0"}
    assert [e["id"] for e in _log(api, "limit=5&offset=50")["results"]] == [e["id"] for e in entries[50:]]


def test_a_tampered_cursor_is_400_invalid_cursor(api, refused, org, dtype):
    device = api.device(org, dtype)
    api.patch(device_path(device), {"name": "again"})
    cursor = query_of(_log(api, "limit=1")["next"])["cursor"]
    refused(api.get(f"{AUDIT}?cursor=garbage!"), 400, "INVALID_CURSOR")
    refused(api.get(f"{AUDIT}?action=update&cursor={cursor}"), 400, "INVALID_CURSOR")
