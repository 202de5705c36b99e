"""Connection history refusals (API.md §6): bad bounds and kinds are 400 naming the field, unknown devices 404.

One module-wide moto world: every request here is refused, and a refused request stores nothing.
"""
import pytest

from tests.telemetry.support import CARRIER_HISTORY, ago, iso, make_fleet


@pytest.fixture(scope="module")
def fleet(shared_api):
    return make_fleet(shared_api)


def _fields(error: dict) -> set[str]:
    return {detail["field"] for detail in error.get("details") or []}


def _carrier(fleet, **changes):
    body = {"deviceId": fleet.imei_of(), "earliest": iso(ago(hours=2)), "latest": iso(ago(hours=1))}
    for name, value in changes.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    return fleet.api.post(CARRIER_HISTORY, body, token=fleet.reader)


@pytest.mark.parametrize("changes, field", [
    ({"earliest": None}, "earliest"),
    ({"latest": None}, "latest"),
    ({"earliest": iso(ago(minutes=1))}, "earliest"),                     # after latest
    ({"earliest": "last tuesday"}, "earliest"),
    ({"latest": 1_700_000_000}, "latest"),
    ({"latest": "9999-12-31T23:59:59-05:00"}, "latest"),
    ({"deviceId": {"kind": "vin", "id": "1HGCM82633A004352"}}, "deviceId.kind"),
    ({"deviceId": {"kind": "imei"}}, "deviceId.id"),
    ({"deviceId": 12}, "deviceId"),
    ({"deviceId": None}, "deviceId"),
    ({"OccurredAtFilter": {}}, "OccurredAtFilter"),
], ids=["no earliest", "no latest", "earliest after latest", "malformed earliest", "latest as a number",
        "latest out of range", "unknown kind", "identifier without id", "device id as a number", "no device",
        "unknown field"])
def test_carrier_form_with_a_bad_query_is_400_naming_the_field(fleet, refused, changes, field):
    error = refused(_carrier(fleet, **changes), 400, "INVALID_QUERY")
    assert field in _fields(error)


def test_carrier_form_with_a_body_that_is_not_json_is_400(fleet, refused):
    refused(fleet.api.post(CARRIER_HISTORY, raw=b"<v2:GetDeviceConnectionHistory/>", token=fleet.reader), 400,
            "INVALID_JSON")


@pytest.mark.parametrize("params, field", [
    ({"earliest": None}, "earliest"),
    ({"latest": None}, "latest"),
    ({"earliest": iso(ago(minutes=1))}, "earliest"),
    ({"latest": "2026-13-45T00:00:00Z"}, "latest"),
    ({"limit": "0"}, "limit"),
    ({"limit": "-5"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"kind": "imei"}, "kind"),
], ids=["no earliest", "no latest", "earliest after latest", "malformed latest", "zero limit", "negative limit",
        "non-numeric limit", "unknown parameter"])
def test_rest_form_with_a_bad_query_is_400_naming_the_parameter(fleet, refused, params, field):
    query = {"earliest": iso(ago(hours=2)), "latest": iso(ago(hours=1))} | params
    text = "&".join(f"{name}={value}" for name, value in query.items() if value is not None)
    error = refused(fleet.api.get(f"/inventory_device/{fleet.device['id']}/connection_history/?{text}",
                                  token=fleet.reader), 400, "INVALID_QUERY")
    assert field in _fields(error)


@pytest.mark.parametrize("device_id", [{"kind": "imei", "id": "490154203237518"},   # valid, but nobody's
                                       {"kind": "imei", "id": "123"},               # could be nobody's
                                       {"kind": "serial", "id": "NO-SUCH-SERIAL"},
                                       {"kind": "eui", "id": "0011223344556677"}])
def test_carrier_form_for_an_unknown_device_is_404(fleet, refused, device_id):
    refused(_carrier(fleet, deviceId=device_id), 404, "DEVICE_NOT_FOUND")


def test_rest_form_for_an_unknown_device_is_404(fleet, refused):
    refused(fleet.history("999999", ago(hours=2), ago(hours=1)), 404, "DEVICE_NOT_FOUND")


@pytest.mark.parametrize("path_id", ["abc", "0", "%C2%B2"])
def test_rest_form_for_a_path_id_that_is_no_id_is_400(fleet, refused, path_id):
    refused(fleet.history(path_id, ago(hours=2), ago(hours=1)), 400, "INVALID_PATH")


def test_history_needs_devices_read(fleet, refused):
    writer_only = fleet.api.token(fleet.organization, ("telemetry:write",))
    refused(fleet.carrier_history(fleet.imei_of(), ago(hours=2), ago(hours=1), token=writer_only), 403,
            "PERMISSION_DENIED")
    refused(fleet.history(fleet.device["id"], ago(hours=2), ago(hours=1), token=writer_only), 403,
            "PERMISSION_DENIED")


def test_the_serial_number_and_any_identifier_name_the_device(fleet):
    for device_id in ({"kind": "serial", "id": fleet.device["serial_number"]}, fleet.imei_of(),
                      {"kind": "IMEI", "id": f" {fleet.device['identifiers']['imei']} "}):
        response = fleet.carrier_history(device_id, ago(hours=2), ago(hours=1))
        assert response.status_code == 200, response.body
        assert response.json_body == {"deviceId": {"kind": device_id["kind"].lower(), "id": device_id["id"].strip()},
                                      "connectionHistory": [], "isComplete": True}
