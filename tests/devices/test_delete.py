"""DELETE /inventory_device/{id}/ (API.md §2), and the permissions every device write needs (§1)."""
import pytest

from tests.devices.support import DEVICES, device_path, world
from tests.factories import device_body


@pytest.fixture
def org(api) -> int:
    return api.organization()


@pytest.fixture
def device(api, org) -> dict:
    return api.device(org, api.device_type())


def test_delete_is_204_then_the_device_is_gone(api, refused, device):
    response = api.delete(device_path(device))
    assert response.status_code == 204
    assert not response.body
    refused(api.get(device_path(device)), 404, "DEVICE_NOT_FOUND")
    refused(api.delete(device_path(device)), 404, "DEVICE_NOT_FOUND")
    refused(api.patch(device_path(device), {"name": "ghost"}), 404, "DEVICE_NOT_FOUND")


def test_delete_takes_the_device_out_of_the_list_and_its_count(api, org, device):
    other = api.device(org, device["type"])
    api.delete(device_path(device))
    for query in ("", f"?organization={org}", f"?type={device['type']}", "?status=0"):
        body = api.get(f"{DEVICES}{query}").json_body
        assert [d["id"] for d in body["results"]] == [other["id"]], query
        assert body["count"] == 1, query


def test_delete_without_trailing_slash_deletes_too(api, refused, device):
    assert api.delete(f"{DEVICES}{device['id']}").status_code == 204
    refused(api.get(device_path(device)), 404, "DEVICE_NOT_FOUND")


def test_delete_of_an_unknown_device_is_404_and_deletes_nothing(api, refused, device):
    before = world(api)
    refused(api.delete(device_path(device["id"] + 1000)), 404, "DEVICE_NOT_FOUND")
    assert world(api) == before


def test_organization_token_cannot_delete_another_organizations_device(api, refused, device):
    token = api.token(api.organization())
    before = world(api)
    refused(api.delete(device_path(device), token=token), 404, "DEVICE_NOT_FOUND")
    assert world(api) == before
    assert api.get(device_path(device)).json_body == device


def test_organization_token_deletes_its_own_device(api, refused, org, device):
    token = api.token(org, name="org-deleter")
    assert api.delete(device_path(device), token=token).status_code == 204
    refused(api.get(device_path(device), token=token), 404, "DEVICE_NOT_FOUND")
    listed = api.get(f"{DEVICES}?organization={org}", token=token).json_body
    assert (listed["count"], listed["results"]) == (0, [])
    [entry] = api.get(f"/audit_log/?device_id={device['id']}&action=delete", token=token).json_body["results"]
    assert entry["actor"]["name"] == "org-deleter"


@pytest.mark.parametrize("permissions", [("devices:read",), ("devices:read", "devices:operate", "admin")])
def test_every_device_write_without_devices_write_is_403_permission_denied_and_changes_nothing(
        api, refused, org, device, permissions):
    token = api.token(org, permissions)
    path = device_path(device)
    required = {k: device[k] for k in ("name", "type", "serial_number", "organization_id")}
    before = world(api)
    for response in (api.post(DEVICES, device_body(org, device["type"]), token=token),
                     api.patch(path, {"name": "renamed"}, token=token),
                     api.put(path, required | {"name": "renamed"}, token=token),
                     api.delete(path, token=token)):
        refused(response, 403, "PERMISSION_DENIED")
    assert world(api) == before
    assert api.get(path, token=token).json_body == device


def test_a_device_write_without_a_token_is_401_and_changes_nothing(api, refused, org, device):
    before = world(api)
    refused(api.post(DEVICES, device_body(org, device["type"]), token=None), 401, "MISSING_TOKEN")
    refused(api.delete(device_path(device), token="flt_not-a-token"), 401, "INVALID_TOKEN")
    assert world(api) == before
