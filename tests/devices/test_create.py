"""POST /inventory_device/ (API.md §2): what a created device looks like, and who may create one."""
import uuid
from datetime import datetime

import pytest

from chalicelib.store import dynamo
from tests.devices.support import DEVICES, device_path, world
from tests.factories import device_body

# Every field of API.md §2 "Device fields" but the write-only password and pending_details (only with pending=true).
CONTRACT_FIELDS = {
    "id", "uuid", "name", "customer_id", "is_active", "status", "status_change", "type", "type_short_name",
    "software_version", "hardware_version", "manufacturer", "unique_identifier", "product_class", "serial_number",
    "serial_number_alt", "description", "organization_id", "firmware_image", "firmware_image_is_pending",
    "location", "location_name", "location_short_name", "latitude", "longitude", "address", "mac_address",
    "identifiers", "username", "update_frequency", "debug", "last_connection", "last_configuration",
    "last_change", "created", "pending_settings",
}
ASSIGNED = {"id", "uuid", "type_short_name", "manufacturer", "product_class", "status", "status_change", "is_active",
            "debug", "firmware_image_is_pending", "created", "last_change"}


def _utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def org(api) -> int:
    return api.organization()


@pytest.fixture
def dtype(api) -> int:
    return api.device_type(short_name="edge_router", manufacturer="Zequenze Systems", product_class="RT5500")


def test_create_is_201_with_every_contract_field_and_null_for_what_is_unset(api, org, dtype):
    body = device_body(org, dtype)
    response = api.post(DEVICES, body)
    assert response.status_code == 201, response.body
    device = response.json_body
    assert set(device) == CONTRACT_FIELDS
    for name in CONTRACT_FIELDS - ASSIGNED - set(body):
        assert device[name] is None, name
    assert {name: device[name] for name in body} == body


def test_create_assigns_a_distinct_integer_id_and_uuid(api, org, dtype):
    first, second = api.device(org, dtype), api.device(org, dtype)
    assert isinstance(first["id"], int) and isinstance(second["id"], int)
    assert first["id"] != second["id"]
    assert uuid.UUID(first["uuid"]) != uuid.UUID(second["uuid"])


def test_create_defaults_status_down_active_and_stamps_the_times(api, org, dtype):
    device = api.device(org, dtype)
    assert device["status"] == "Down"
    assert device["is_active"] is True
    assert device["debug"] is False and device["firmware_image_is_pending"] is False
    assert _utc(device["created"]) == _utc(device["status_change"]) == _utc(device["last_change"])


def test_create_takes_type_short_name_manufacturer_and_product_class_from_the_type(api, org, dtype):
    device = api.device(org, dtype)
    assert device["type"] == dtype
    assert device["type_short_name"] == "edge_router"
    assert device["manufacturer"] == "Zequenze Systems"
    assert device["product_class"] == "RT5500"


def test_create_keeps_the_manufacturer_and_product_class_it_is_given(api, org, dtype):
    device = api.device(org, dtype, manufacturer="Acme Networks", product_class=None)
    assert device["manufacturer"] == "Acme Networks"
    assert device["product_class"] is None


def test_create_accepts_status_as_the_seeds_boolean(api, org, dtype):
    assert api.device(org, dtype, status=True)["status"] == "Up"
    assert api.device(org, dtype, status="Down")["status"] == "Down"


def test_create_answers_the_etag_and_body_a_get_answers(api, org, dtype):
    response = api.post(DEVICES, device_body(org, dtype))
    assert response.headers["ETag"].startswith('"')
    read = api.get(device_path(response.json_body))
    assert read.headers["ETag"] == response.headers["ETag"]
    assert read.json_body == response.json_body


def test_the_seeds_example_post_body_is_accepted_as_is(api, org):
    # GIVEN the example request body of the original inventory API (POST /inventory_device/), with our own ids
    dtype = api.device_type(short_name="enterprise_router")
    body = {"name": "Router-Branch-Office-002", "customer_id": "CUST-2024-002", "serial_number": "ZEQ240100002",
            "serial_number_alt": "ALT-ZEQ240100002", "type": dtype, "organization_id": org,
            "location_name": "Boston Branch Office", "latitude": "42.3601", "longitude": "-71.0589",
            "description": "Secondary branch office router", "username": "device_admin",
            "password": "secure_password_123", "update_frequency": 300}
    # WHEN it is posted
    response = api.post(DEVICES, body)
    # THEN the device answers every field as sent, but the password, which is never returned
    assert response.status_code == 201, response.body
    device = response.json_body
    assert {k: device[k] for k in body if k != "password"} == {k: v for k, v in body.items() if k != "password"}
    assert "password" not in device
    assert device["type_short_name"] == "enterprise_router"


def test_create_with_numbers_for_the_coordinates_keeps_them_as_decimal_strings(api, org, dtype):
    device = api.device(org, dtype, latitude=-33.8688, longitude=151)
    assert (device["latitude"], device["longitude"]) == ("-33.8688", "151")


def test_create_stores_every_optional_field_it_is_given(api, org, dtype):
    fields = {"customer_id": "CUST-1", "is_active": False, "software_version": "16.12.05",
              "hardware_version": "v2", "unique_identifier": "ZEQ:ENT:RTR:1", "serial_number_alt": "ALT-1",
              "description": "Main office router", "location": 25, "location_name": "New York Branch Office",
              "location_short_name": "ny_branch", "address": "192.168.1.1", "mac_address": "00:1B:44:11:3A:B7",
              "identifiers": {"imsi": "310150123456789"}, "username": "admin", "update_frequency": 300}
    device = api.device(org, dtype, **fields)
    assert {k: device[k] for k in fields} == fields
    assert api.get(device_path(device)).json_body == device


def test_organization_token_creates_in_its_own_organization(api, org, dtype):
    token = api.token(org)
    response = api.post(DEVICES, device_body(org, dtype), token=token)
    assert response.status_code == 201, response.body
    assert response.json_body["organization_id"] == org


def test_organization_token_creating_in_another_organization_is_403_and_writes_nothing(api, refused, org, dtype):
    token = api.token(org)
    other = api.organization()
    before = world(api)
    refused(api.post(DEVICES, device_body(other, dtype), token=token), 403, "ORGANIZATION_FORBIDDEN")
    assert world(api) == before


def test_create_in_a_lambda_that_has_not_seen_the_last_id_is_201(api, org, dtype):
    # GIVEN devices made by another Lambda: this one starts without the last id it would remember
    first = api.device(org, dtype)
    dynamo.forget_sequences()
    # WHEN it creates a device
    response = api.post(DEVICES, device_body(org, dtype))
    # THEN it is created under an id of its own
    assert response.status_code == 201, response.body
    assert response.json_body["id"] != first["id"]
