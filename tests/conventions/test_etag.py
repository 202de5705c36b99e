"""ETag / If-Match on devices (API.md §1 Concurrency)."""
import pytest


@pytest.fixture
def device(api) -> dict:
    return api.device(api.organization(), api.device_type(), name="edge-1")


def _path(device: dict) -> str:
    return f"/inventory_device/{device['id']}/"


def _replacement(device: dict, name: str) -> dict:
    return {k: device[k] for k in ("serial_number", "type", "organization_id")} | {"name": name}


def test_create_and_get_give_the_same_quoted_etag(api, device):
    etag = api.get(_path(device)).headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert api.get(_path(device)).headers["ETag"] == etag
    response = api.post("/inventory_device/", {"name": "n", "serial_number": "SN-ETAG", "type": device["type"],
                                               "organization_id": device["organization_id"]})
    assert response.status_code == 201
    assert api.get(f"/inventory_device/{response.json_body['id']}/").headers["ETag"] == response.headers["ETag"]


def test_if_match_naming_the_current_version_succeeds_and_the_etag_moves_on(api, device):
    forms = [lambda tag: tag, lambda tag: f"W/{tag}", lambda tag: "*", lambda tag: f'"0-0", {tag}']
    for i, form in enumerate(forms):
        etag = api.get(_path(device)).headers["ETag"]
        for method, body in (("patch", {"name": f"p{i}"}), ("put", _replacement(device, f"r{i}"))):
            response = getattr(api, method)(_path(device), body, headers={"If-Match": form(etag)})
            assert response.status_code == 200, (method, form(etag), response.body)
            assert response.json_body["name"] == body["name"]
            assert response.headers["ETag"] != etag
            etag = response.headers["ETag"]
            assert api.get(_path(device)).headers["ETag"] == etag


def test_write_with_a_stale_etag_is_412_and_changes_nothing(api, refused, device):
    stale = api.get(_path(device)).headers["ETag"]
    assert api.patch(_path(device), {"name": "meanwhile"}).status_code == 200
    before = api.get(_path(device))
    refused(api.patch(_path(device), {"name": "lost"}, headers={"If-Match": stale}), 412, "ETAG_MISMATCH")
    refused(api.put(_path(device), _replacement(device, "lost"), headers={"If-Match": stale}), 412, "ETAG_MISMATCH")
    after = api.get(_path(device))
    assert after.json_body == before.json_body
    assert after.headers["ETag"] == before.headers["ETag"]


def test_if_match_naming_no_current_etag_is_412_and_changes_nothing(api, refused, device):
    before = api.get(_path(device))
    current = before.headers["ETag"]
    for header in ('"0-0"', current.strip('"'), f'"{device["id"]}-99"', ""):
        refused(api.patch(_path(device), {"name": "x"}, headers={"If-Match": header}), 412, "ETAG_MISMATCH")
    after = api.get(_path(device))
    assert (after.json_body, after.headers["ETag"]) == (before.json_body, current)


def test_if_match_on_an_unknown_device_is_404(api, refused):
    refused(api.patch("/inventory_device/999/", {"name": "x"}, headers={"If-Match": "*"}), 404, "DEVICE_NOT_FOUND")
