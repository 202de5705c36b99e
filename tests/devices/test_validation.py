"""What POST /inventory_device/ refuses (API.md §1 Errors, §2 fields), and the forms it accepts and normalises.

Cases are grouped by rule, each group checking that its refusals left the table, the device list and the
audit trail as they were (moto makes every read slow enough that one check per case would double the run).
"""
import json

import pytest

from tests.devices.support import DEVICES, fields_named, world
from tests.factories import device_body, imei, luhn_complete


@pytest.fixture(scope="module")
def api(shared_api):
    """Nothing here is written but the accepted forms, each a new device: one world serves the module."""
    return shared_api


@pytest.fixture(scope="module")
def ids(shared_api) -> tuple[int, int]:
    return shared_api.organization(), shared_api.device_type()


@pytest.fixture
def body(ids):
    """A valid body; a test breaks the one field it is about."""
    def make(**overrides) -> dict:
        return device_body(*ids) | overrides
    return make


@pytest.fixture
def refuses_each(api, refused):
    """POST every (payload, fields named) case: each a 422 VALIDATION_FAILED naming exactly those fields, and
    nothing written by any of them."""
    def check(cases: list[tuple[dict, set[str]]]) -> None:
        before = world(api)
        for payload, fields in cases:
            error = refused(api.post(DEVICES, payload), 422, "VALIDATION_FAILED")
            assert fields_named(error) == fields, payload
        assert world(api) == before
    return check


def _one_field(body, field: str, values) -> list[tuple[dict, set[str]]]:
    return [(body(**{field: value}), {field}) for value in values]


# --- required and unknown fields -----------------------------------------------------------------------

def test_create_without_a_required_field_is_422_naming_it_and_writes_nothing(refuses_each, body):
    cases = []
    for field in ("name", "type", "serial_number", "organization_id"):
        payload = body()
        del payload[field]
        cases.append((payload, {field}))
    refuses_each(cases)


def test_create_with_many_bad_fields_lists_every_one(refuses_each):
    refuses_each([({"name": "", "type": "router", "serial_number": "has space", "organization_id": 0,
                    "hostname": "core-1"}, {"name", "type", "serial_number", "organization_id", "hostname"}),
                  ({}, {"name", "type", "serial_number", "organization_id"})])


def test_create_with_an_unknown_field_is_422_naming_it_as_unknown(api, refused, body):
    before = world(api)
    error = refused(api.post(DEVICES, body(hostname="192.168.1.100")), 422, "VALIDATION_FAILED")
    assert error["details"] == [{"field": "hostname", "problem": "unknown field"}]
    assert world(api) == before


def test_create_with_a_server_assigned_field_is_422_naming_it(refuses_each, body):
    refuses_each([(body(**{field: "1"}), {field}) for field in
                  ("id", "uuid", "type_short_name", "created", "last_change", "pending_settings", "pending_details")])


# --- types and ranges ----------------------------------------------------------------------------------

WRONG_TYPES = [
    ("name", 123), ("name", ""), ("name", "   "), ("name", None), ("type", "router"), ("type", True), ("type", 0),
    ("type", 2.5), ("organization_id", [1]), ("organization_id", -3), ("organization_id", False),
    ("is_active", "maybe"), ("is_active", None), ("status", "Sideways"), ("status", None),
    ("update_frequency", "often"), ("update_frequency", True), ("identifiers", "35209900176148"),
    ("identifiers", ["imei"]), ("location", "Data Center A"), ("firmware_image", {"id": 1}), ("description", 5),
    ("serial_number", "has space"), ("serial_number", "-leading-dash"), ("serial_number", 12345),
    ("serial_number", ""), ("password", 1234), ("password", ""), ("username", ["admin"]),
]


def test_create_with_a_wrong_type_or_form_is_422_naming_the_field(refuses_each, body):
    refuses_each([(body(**{field: value}), {field}) for field, value in WRONG_TYPES])


def test_create_with_a_coordinate_out_of_range_or_not_a_number_is_422(refuses_each, body):
    cases = [("latitude", "91"), ("latitude", 90.0001), ("latitude", "-91"), ("longitude", "-181"),
             ("longitude", 180.5), ("latitude", "north"), ("longitude", "NaN"), ("latitude", "Infinity"),
             ("latitude", True), ("latitude", ""), ("longitude", [1])]
    refuses_each([(body(latitude="10", longitude="10") | {field: value}, {field}) for field, value in cases])


def test_coordinates_at_their_limits_are_accepted(api, body):
    response = api.post(DEVICES, body(latitude="-90", longitude=180))
    assert response.status_code == 201, response.body
    assert (response.json_body["latitude"], response.json_body["longitude"]) == ("-90", "180")


def test_create_with_only_one_coordinate_is_422_naming_the_other(refuses_each, body):
    refuses_each([(body(latitude="42.3601"), {"longitude"}), (body(longitude="-71.0589"), {"latitude"}),
                  (body(latitude="42.3601", longitude=None), {"longitude"}),
                  (body(latitude=None), {"longitude"})])


def test_create_with_update_frequency_out_of_range_is_422(refuses_each, body):
    refuses_each(_one_field(body, "update_frequency", [29, 0, -300, 7 * 86400 + 1]))


def test_update_frequency_at_its_limits_is_accepted(api, body):
    for value in (30, 7 * 86400):
        response = api.post(DEVICES, body(update_frequency=value))
        assert response.status_code == 201, response.body
        assert response.json_body["update_frequency"] == value


def test_create_with_an_overlong_string_is_422(refuses_each, body):
    limits = {"name": 255, "serial_number": 64, "description": 2000, "customer_id": 64, "manufacturer": 255,
              "product_class": 64, "software_version": 64, "location_name": 255, "location_short_name": 64,
              "unique_identifier": 128, "serial_number_alt": 64, "username": 128, "password": 256}
    refuses_each([(body(**{field: "A" * (limit + 1)}), {field}) for field, limit in limits.items()])


def test_strings_at_their_maximum_length_are_accepted(api, body):
    response = api.post(DEVICES, body(name="N" * 255, serial_number="S" * 64, description="D" * 2000))
    assert response.status_code == 201, response.body


# --- MAC and management address ------------------------------------------------------------------------

def test_create_normalises_each_mac_address_form(api, body):
    for form in ("00:1B:44:11:3A:B7", "00-1b-44-11-3a-b7", "001b.4411.3ab7", "001B44113AB7", " 00:1b:44:11:3a:b7 "):
        response = api.post(DEVICES, body(mac_address=form))
        assert response.status_code == 201, (form, response.body)
        assert response.json_body["mac_address"] == "00:1B:44:11:3A:B7", form


def test_create_with_a_bad_mac_address_is_422(refuses_each, body):
    refuses_each(_one_field(body, "mac_address", ["00:1B:44:11:3A", "00:1B:44:11:3A:B7:C8", "00:1B:44:11:3A:ZZ",
                                                  "001B44113AB", "00.1B.44.11.3A.B7", "not a mac", ""]))


def test_create_accepts_an_ip_address_or_host_name_as_address(api, body):
    for value, stored in [("192.168.1.1", "192.168.1.1"), ("2001:DB8:0:0::1", "2001:db8::1"), ("::1", "::1"),
                          ("CPE-17.Example.NET", "cpe-17.example.net"), ("router1", "router1")]:
        response = api.post(DEVICES, body(address=value))
        assert response.status_code == 201, (value, response.body)
        assert response.json_body["address"] == stored


def test_create_with_a_garbage_address_is_422(refuses_each, body):
    refuses_each(_one_field(body, "address", ["999.1.1.1", "192.168.1", "http://router.example.com",
                                              "under_score.example", "-dash.example", "two words", "a..b",
                                              "2001:db8:::1", ""]))


# --- identifiers ---------------------------------------------------------------------------------------

VALID_IDENTIFIERS = {
    "imei": imei(424242), "iccid": "89014103211118510720", "imsi": "310150123456789", "meid": "A10000009296F2",
    "esn": "8034A2B1", "mdn": "6175551234", "msisdn": "+4915123456789", "eid": "89049032" + "0" * 20 + "0123",
    "eui": "00-1B-44-FF-FE-11-3A-B7",
}


def _wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


INVALID_IDENTIFIERS = [
    ("imei", _wrong_check_digit(imei(424242))), ("imei", luhn_complete("35424242")), ("imei", "35209900176148A"),
    ("iccid", "8901410321111851"), ("iccid", "89014103211118510720X"), ("imsi", "31015"),
    ("imsi", "3101501234567890"), ("meid", "A10000009296F"), ("meid", "G10000009296F2"), ("esn", "8034A2B"),
    ("mdn", "617555123"), ("msisdn", "+49 151"), ("eid", "1" * 31), ("eui", "00:1B:44:FF:FE:11:3A"),
    ("imei", int(imei(5))), ("imsi", ""),
]


def test_create_accepts_each_identifier_kind_in_its_format(api, body):
    response = api.post(DEVICES, body(identifiers=VALID_IDENTIFIERS))
    assert response.status_code == 201, response.body
    assert set(response.json_body["identifiers"]) == set(VALID_IDENTIFIERS)


def test_create_normalises_identifiers(api, body):
    response = api.post(DEVICES, body(identifiers={"meid": "a1-00-00-00-92-96-f3", "msisdn": "+4915199999999",
                                                   "eui": "00:1b:44:ff:fe:11:3a:b8", "iccid": "8901410321111851072f"}))
    assert response.status_code == 201, response.body
    assert response.json_body["identifiers"] == {"meid": "A10000009296F3", "msisdn": "4915199999999",
                                                 "eui": "001B44FFFE113AB8", "iccid": "8901410321111851072F"}


def test_create_with_a_malformed_identifier_is_422_naming_it(refuses_each, body):
    refuses_each([(body(identifiers={kind: value}), {f"identifiers.{kind}"}) for kind, value in INVALID_IDENTIFIERS])


def test_create_with_an_unknown_identifier_kind_is_422_naming_it_as_unknown(api, refused, body):
    before = world(api)
    error = refused(api.post(DEVICES, body(identifiers={"serial": "X1", "imsi": "310150123456780"})),
                    422, "VALIDATION_FAILED")
    assert error["details"] == [{"field": "identifiers.serial", "problem": "unknown field"}]
    assert world(api) == before


# --- references to other records -----------------------------------------------------------------------

def test_create_with_an_unknown_type_or_organization_is_422_naming_it(refuses_each, body):
    refuses_each([(body(type=999_999), {"type"}), (body(organization_id=999_999), {"organization_id"})])


# --- bodies that are not a JSON object -----------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"{not json", b'{"name": "x",}', b"name=x&type=1", b"\xff\xfe", b"", b"   "],
                         ids=["broken", "trailing_comma", "form", "binary", "empty", "blank"])
def test_create_with_a_body_that_is_not_json_or_empty_is_400_invalid_json(api, refused, raw):
    before = world(api)
    refused(api.post(DEVICES, raw=raw), 400, "INVALID_JSON")
    assert world(api) == before


def test_create_with_json_that_is_not_an_object_is_422(api, refused):
    before = world(api)
    for payload in ([], "router", 5, None):
        refused(api.post(DEVICES, raw=json.dumps(payload).encode()), 422, "VALIDATION_FAILED")
    assert world(api) == before
