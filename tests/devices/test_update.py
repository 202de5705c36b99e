"""PUT and PATCH /inventory_device/{id}/ (API.md §1 Concurrency, §2 Endpoints)."""
import itertools
import threading
from datetime import datetime

import pytest

from chalicelib.devices import service
from chalicelib.devices.models import DevicePatch
from chalicelib.tokens.service import authenticate
from tests.devices.support import DEVICES, audit_of, device_path, fields_named, world

REQUIRED = ("name", "type", "serial_number", "organization_id")
_imsi = itertools.count(1)  # identifiers are unique: each test's device needs its own


@pytest.fixture(scope="module")
def api(shared_api):
    """Each test writes only the device it makes: one world serves the module."""
    return shared_api


@pytest.fixture(scope="module")
def org(api) -> int:
    return api.organization()


@pytest.fixture(scope="module")
def dtype(api) -> int:
    return api.device_type(manufacturer="Zequenze Systems", product_class="RT5500")


@pytest.fixture
def device(api, org, dtype) -> dict:
    return api.device(org, dtype, customer_id="CUST-1", description="Main office router", location_name="Boston",
                      latitude="42.3601", longitude="-71.0589", mac_address="00:1B:44:11:3A:B7",
                      update_frequency=300, password="s3cret-pass", identifiers={"imsi": f"3101501{next(_imsi):08d}"})


def _read(api, device: dict):
    response = api.get(device_path(device))
    return response.json_body, response.headers["ETag"]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _required(device: dict) -> dict:
    return {k: device[k] for k in REQUIRED}


# --- PATCH ---------------------------------------------------------------------------------------------

def test_patch_changes_only_the_fields_sent(api, device):
    response = api.patch(device_path(device), {"description": "Moved to rack 7", "location_name": "Rack 7"})
    assert response.status_code == 200, response.body
    patched = response.json_body
    assert (patched["description"], patched["location_name"]) == ("Moved to rack 7", "Rack 7")
    unchanged = set(device) - {"description", "location_name", "last_change"}
    assert {k: patched[k] for k in unchanged} == {k: device[k] for k in unchanged}
    assert _utc(patched["last_change"]) > _utc(device["last_change"])
    assert _read(api, device) == (patched, response.headers["ETag"])


def test_patch_may_clear_an_optional_field_with_null(api, device):
    patched = api.patch(device_path(device), {"customer_id": None, "latitude": None, "longitude": None}).json_body
    assert (patched["customer_id"], patched["latitude"], patched["longitude"]) == (None, None, None)


def test_patch_of_the_type_takes_the_new_types_short_name(api, device):
    other = api.device_type(short_name="cpe_gateway")
    patched = api.patch(device_path(device), {"type": other}).json_body
    assert (patched["type"], patched["type_short_name"]) == (other, "cpe_gateway")


def test_patch_that_changes_nothing_keeps_the_etag_and_records_nothing(api, device):
    before_etag = _read(api, device)[1]
    response = api.patch(device_path(device), {"name": device["name"], "customer_id": "CUST-1"})
    assert response.status_code == 200
    assert response.headers["ETag"] == before_etag
    assert response.json_body == device
    assert len(audit_of(api, device["id"])) == 1


@pytest.mark.parametrize("field", [*REQUIRED, "status", "is_active"])
def test_patch_with_null_for_a_field_that_must_hold_a_value_is_422_and_changes_nothing(api, refused, device,
                                                                                        field):
    before, stored = world(api), _read(api, device)
    error = refused(api.patch(device_path(device), {field: None}), 422, "VALIDATION_FAILED")
    assert fields_named(error) == {field}
    assert _read(api, device) == stored
    assert world(api) == before


def test_patch_with_invalid_fields_is_422_naming_each_and_changes_nothing(api, refused, device):
    before, stored = world(api), _read(api, device)
    error = refused(api.patch(device_path(device), {"latitude": "91", "longitude": "0", "mac_address": "nope",
                                                    "hostname": "x", "type": 999_999}), 422, "VALIDATION_FAILED")
    assert fields_named(error) == {"latitude", "mac_address", "hostname"}
    refused(api.patch(device_path(device), {"type": 999_999, "name": "renamed"}), 422, "VALIDATION_FAILED")
    refused(api.patch(device_path(device), {"latitude": "1"}), 422, "VALIDATION_FAILED")
    assert _read(api, device) == stored
    assert world(api) == before


def test_patch_with_a_body_that_is_not_json_is_400_and_changes_nothing(api, refused, device):
    stored = _read(api, device)
    refused(api.patch(device_path(device), raw=b"{name: x}"), 400, "INVALID_JSON")
    refused(api.patch(device_path(device), raw=b""), 400, "INVALID_JSON")
    assert _read(api, device) == stored


def test_patch_with_the_current_etag_succeeds_and_answers_a_new_one(api, device):
    etag = _read(api, device)[1]
    response = api.patch(device_path(device), {"name": "edge-2"}, headers={"If-Match": etag})
    assert response.status_code == 200, response.body
    assert response.headers["ETag"] != etag
    assert _read(api, device) == (response.json_body, response.headers["ETag"])


@pytest.mark.parametrize("method", ["patch", "put"])
def test_write_with_a_stale_etag_is_412_etag_mismatch_and_changes_nothing(api, refused, device, method):
    stale = _read(api, device)[1]
    assert api.patch(device_path(device), {"name": "meanwhile"}).status_code == 200
    before, stored = world(api), _read(api, device)
    body = {"name": "lost-update"} | (_required(device) | {"name": "lost-update"} if method == "put" else {})
    refused(getattr(api, method)(device_path(device), body, headers={"If-Match": stale}), 412, "ETAG_MISMATCH")
    assert _read(api, device) == stored
    assert world(api) == before


def test_a_status_change_moves_status_change_and_other_writes_do_not(api, device):
    renamed = api.patch(device_path(device), {"name": "renamed"}).json_body
    assert renamed["status_change"] == device["status_change"]
    up = api.patch(device_path(device), {"status": "Up"}).json_body
    assert up["status"] == "Up"
    assert _utc(up["status_change"]) > _utc(device["status_change"])
    assert up["status_change"] == up["last_change"]
    again = api.patch(device_path(device), {"status": True, "name": "again"}).json_body
    assert again["status_change"] == up["status_change"]
    listed = api.get(f"{DEVICES}?organization={device['organization_id']}"
                     f"&last_status_change_from={up['status_change']}").json_body
    assert [d["id"] for d in listed["results"]] == [device["id"]]


def test_organization_token_moving_a_device_out_of_its_scope_is_403_and_changes_nothing(api, refused, org,
                                                                                       device):
    token = api.token(org)
    other = api.organization()
    before, stored = world(api), _read(api, device)
    refused(api.patch(device_path(device), {"organization_id": other}, token=token), 403, "ORGANIZATION_FORBIDDEN")
    refused(api.put(device_path(device), _required(device) | {"organization_id": other}, token=token),
            403, "ORGANIZATION_FORBIDDEN")
    assert _read(api, device) == stored
    assert world(api) == before


def test_platform_token_moves_a_device_to_another_organization(api, device):
    other = api.organization()
    moved = api.patch(device_path(device), {"organization_id": other})
    assert moved.status_code == 200
    assert moved.json_body["organization_id"] == other
    token = api.token(other, ("devices:read",))
    assert api.get(device_path(device), token=token).json_body == moved.json_body


def test_organization_token_writing_another_organizations_device_is_404(api, refused, device):
    token = api.token(api.organization())
    stored = _read(api, device)
    refused(api.patch(device_path(device), {"name": "mine"}, token=token), 404, "DEVICE_NOT_FOUND")
    refused(api.put(device_path(device), _required(device), token=token), 404, "DEVICE_NOT_FOUND")
    assert _read(api, device) == stored


def test_patch_of_an_unknown_device_is_404(api, refused, device):
    refused(api.patch(device_path(device["id"] + 1000), {"name": "x"}), 404, "DEVICE_NOT_FOUND")


def test_concurrent_patches_of_different_fields_all_land(api, device):
    # GIVEN four writers patching one device at once, each a field of its own, without If-Match
    # (the service is called directly: chalice's test client keeps the current request on the shared app)
    principal = authenticate(api.platform)
    values = {"description": "rack 7", "customer_id": "CUST-9", "software_version": "16.12.08",
              "hardware_version": "rev-b"}
    start = threading.Barrier(len(values))
    outcomes = []

    def patch(name: str) -> None:
        body = DevicePatch.model_validate({name: values[name]})
        start.wait()
        try:
            outcomes.append(service.patch_device(principal, device["id"], body, None)[0][name])
        except Exception as error:  # any failure is reported below
            outcomes.append(error)

    threads = [threading.Thread(target=patch, args=(name,)) for name in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # THEN every write succeeded and none was lost: the last write wins field by field, never half-applied
    assert sorted(map(str, outcomes)) == sorted(values.values())
    stored = api.get(device_path(device)).json_body
    assert {name: stored[name] for name in values} == values
    assert [e["action"] for e in audit_of(api, device["id"])] == ["update"] * len(values) + ["create"]


# --- PUT -----------------------------------------------------------------------------------------------

def test_put_replaces_every_writable_field_and_clears_what_it_leaves_out(api, device):
    response = api.put(device_path(device), _required(device) | {"name": "replaced", "address": "10.0.0.1"})
    assert response.status_code == 200, response.body
    replaced = response.json_body
    assert (replaced["name"], replaced["address"]) == ("replaced", "10.0.0.1")
    for name in ("customer_id", "description", "location_name", "latitude", "longitude", "mac_address",
                 "update_frequency", "identifiers"):
        assert replaced[name] is None, name
    assert {k: replaced[k] for k in ("id", "uuid", "created", "type_short_name")} == \
           {k: device[k] for k in ("id", "uuid", "created", "type_short_name")}
    assert _read(api, device) == (replaced, response.headers["ETag"])


def test_put_sets_what_a_post_of_the_same_body_would(api, org, dtype, device):
    # GIVEN a device changed away from every default
    api.patch(device_path(device), {"status": "Up", "is_active": False, "manufacturer": "Other",
                                    "product_class": "X1"})
    # WHEN it is replaced by a body that leaves those fields out
    replaced = api.put(device_path(device), _required(device)).json_body
    # THEN they are as a POST would set them: the defaults, and the type's manufacturer and product class
    fresh = api.device(org, dtype)
    for name in ("status", "is_active", "manufacturer", "product_class"):
        assert replaced[name] == fresh[name], name


def test_the_seeds_example_put_body_is_accepted(api, org, device):
    body = {"name": "Router-Branch-Office-001-Updated", "customer_id": "CUST-2024-001",
            "serial_number": "ZEQ240100001-PUT", "type": device["type"], "organization_id": org, "status": True,
            "location_name": "New York Main Office", "description": "Updated main office router configuration",
            "latitude": "40.7589", "longitude": "-73.9851", "update_frequency": 180}
    response = api.put(device_path(device), body)
    assert response.status_code == 200, response.body
    assert {k: response.json_body[k] for k in body} == body | {"status": "Up"}


@pytest.mark.parametrize("missing", REQUIRED)
def test_put_without_a_required_field_is_422_naming_it_and_changes_nothing(api, refused, device, missing):
    before, stored = world(api), _read(api, device)
    body = {k: v for k, v in _required(device).items() if k != missing}
    error = refused(api.put(device_path(device), body), 422, "VALIDATION_FAILED")
    assert fields_named(error) == {missing}
    assert _read(api, device) == stored
    assert world(api) == before


def test_put_of_an_unknown_device_is_404(api, refused, device):
    refused(api.put(device_path(device["id"] + 1000), _required(device)), 404, "DEVICE_NOT_FOUND")


def test_put_with_the_current_etag_succeeds(api, device):
    etag = _read(api, device)[1]
    response = api.put(device_path(device), _required(device) | {"name": "n2"}, headers={"If-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag


# --- remote operations: what the device shows while one is pending ----------------------------------------

def test_a_device_with_a_queued_operation_shows_it_pending_and_is_listed_by_pending(api, org, device):
    # WHEN a reboot is requested
    response = api.patch(device_path(device), {"reboot": True})
    # THEN the device shows it queued, with details on request, and the pending filter lists it
    assert response.status_code == 200, response.body
    assert response.json_body["pending_settings"] == "reboot:queued"
    [detail] = api.get(f"{device_path(device)}?pending=true").json_body["pending_details"]
    assert (detail["operation"], detail["state"]) == ("reboot", "queued")
    listed = api.get(f"{DEVICES}?pending=true&organization={org}").json_body
    assert [d["id"] for d in listed["results"]] == [device["id"]]
    assert listed["count"] == 1
    assert [d["pending_details"] for d in listed["results"]] == [[detail]]
