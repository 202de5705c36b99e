"""GET /inventory_device/{id}/ (API.md §2): visibility, paths and query parameters."""
import pytest

from tests.devices.support import DEVICES, device_path


@pytest.fixture(scope="module")
def api(shared_api):
    """The tests only read: one world serves the module."""
    return shared_api


@pytest.fixture(scope="module")
def org(api) -> int:
    return api.organization()


@pytest.fixture(scope="module")
def device(api, org) -> dict:
    return api.device(org, api.device_type())


def test_get_answers_the_device_with_its_etag(api, device):
    response = api.get(device_path(device))
    assert response.status_code == 200
    assert response.json_body == device
    assert response.headers["ETag"]


def test_get_of_an_unknown_id_is_404_device_not_found(api, refused, device):
    refused(api.get(device_path(device["id"] + 1000)), 404, "DEVICE_NOT_FOUND")


NOT_DEVICE_IDS = ["abc", "0", "-1", "1.5", "1e3", "99999999999", "%20", "%C2%B2", "%EF%BC%91"]


def test_get_of_an_id_that_is_not_a_device_id_is_400_invalid_path_not_a_fault(api, refused, device):
    for path_id in NOT_DEVICE_IDS:
        refused(api.get(f"{DEVICES}{path_id}/"), 400, "INVALID_PATH")


def test_another_organizations_device_is_404_like_an_unknown_one(api, refused, device):
    token = api.token(api.organization(), ("devices:read",))
    foreign = refused(api.get(device_path(device), token=token), 404, "DEVICE_NOT_FOUND")
    unknown = refused(api.get(device_path(device["id"] + 1000), token=token), 404, "DEVICE_NOT_FOUND")
    assert foreign.keys() == unknown.keys()
    assert str(device["id"]) in foreign["message"] and "organization" not in foreign["message"].lower()


def test_organization_token_reads_its_own_device(api, org, device):
    token = api.token(org, ("devices:read",))
    response = api.get(device_path(device), token=token)
    assert response.status_code == 200
    assert response.json_body == device


def test_path_with_and_without_trailing_slash_is_the_same_device(api, device):
    with_slash, without = api.get(f"{DEVICES}{device['id']}/"), api.get(f"{DEVICES}{device['id']}")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json_body == without.json_body
    assert with_slash.headers["ETag"] == without.headers["ETag"]


def test_list_path_with_and_without_trailing_slash_is_the_same(api, device):
    assert api.get("/inventory_device").json_body == api.get(DEVICES).json_body


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_pending_true_adds_pending_details(api, device, value):
    body = api.get(f"{device_path(device)}?pending={value}").json_body
    assert body.pop("pending_details") == []
    assert body == device


@pytest.mark.parametrize("query", ["", "?pending=false", "?pending=0"])
def test_without_pending_there_are_no_pending_details(api, device, query):
    assert "pending_details" not in api.get(f"{device_path(device)}{query}").json_body


@pytest.mark.parametrize(("query", "field"), [("verbose=1", "verbose"), ("pending=maybe", "pending"),
                                              ("pending=", "pending"), ("limit=5", "limit")])
def test_get_with_an_unknown_or_bad_query_parameter_is_400_invalid_query_naming_it(api, refused, device, query,
                                                                                   field):
    error = refused(api.get(f"{device_path(device)}?{query}"), 400, "INVALID_QUERY")
    assert [d["field"] for d in error["details"]] == [field]


def test_get_without_devices_read_is_403_permission_denied(api, refused, org, device):
    token = api.token(org, ("diagnostics:read",))
    refused(api.get(device_path(device), token=token), 403, "PERMISSION_DENIED")
    refused(api.get(DEVICES, token=token), 403, "PERMISSION_DENIED")


def test_get_without_a_token_is_401(api, refused, device):
    refused(api.get(device_path(device), token=None), 401, "MISSING_TOKEN")
