"""The list's `count` stays right as devices move between organizations, types and statuses, and go away.

Counts come from counters kept beside the devices (one per filter combination), so every write that moves
a device between combinations must move the counters with it.
"""
import itertools

import pytest

from tests.devices.support import DEVICES, device_path


@pytest.fixture
def setup(api) -> dict:
    orgs, types = (api.organization(), api.organization()), (api.device_type(), api.device_type())
    devices = {}
    for org, type_, status in [(0, 0, "Down"), (0, 1, "Up"), (1, 0, "Down"), (1, 1, "Down")]:
        device = api.device(orgs[org], types[type_], status=status)
        devices[device["id"]] = device
    return {"orgs": orgs, "types": types, "devices": devices}


def _assert_counts(api, setup: dict) -> None:
    """Every filter combination counts what the devices, as the test has written them, say it should."""
    devices = setup["devices"].values()
    for org, type_, status in itertools.product((None, *setup["orgs"]), (None, *setup["types"]),
                                                (None, "Up", "Down")):
        query = "&".join(f"{k}={v}" for k, v in (("organization", org), ("type", type_),
                                                 ("status", {"Up": 1, "Down": 0}.get(status))) if v is not None)
        expected = sum(1 for d in devices if org in (None, d["organization_id"]) and type_ in (None, d["type"])
                       and status in (None, d["status"]))
        body = api.get(f"{DEVICES}?{query}&limit=1").json_body
        assert body["count"] == expected, query


def _write(api, setup: dict, method: str, device_id: int, body: dict) -> None:
    response = getattr(api, method)(device_path(device_id), body)
    assert response.status_code == 200, response.body
    setup["devices"][device_id] = response.json_body


def test_counts_follow_patches_of_type_status_and_organization(api, setup):
    _assert_counts(api, setup)
    first, second, third, _ = setup["devices"]
    _write(api, setup, "patch", first, {"type": setup["types"][1]})
    _write(api, setup, "patch", second, {"status": "Down"})
    _write(api, setup, "patch", third, {"organization_id": setup["orgs"][0], "status": True,
                                        "type": setup["types"][1]})
    _assert_counts(api, setup)


def test_counts_follow_puts_and_a_put_that_leaves_out_status_counts_the_device_down(api, setup):
    first, second, _, fourth = setup["devices"].values()
    _write(api, setup, "put", fourth["id"], {"name": fourth["name"], "serial_number": fourth["serial_number"],
                                             "type": setup["types"][0], "organization_id": setup["orgs"][0],
                                             "status": "Up"})
    assert second["status"] == "Up"
    _write(api, setup, "put", second["id"], {k: second[k] for k in ("name", "serial_number", "type",
                                                                      "organization_id")})
    assert setup["devices"][second["id"]]["status"] == "Down"
    _assert_counts(api, setup)


def test_counts_follow_deletes_and_ignore_refused_writes(api, setup):
    first, second, third, _ = setup["devices"]
    taken = setup["devices"][third]["serial_number"]
    assert api.patch(device_path(first), {"status": "Up", "serial_number": taken}).status_code == 409
    assert api.patch(device_path(first), {"status": "Up", "type": 999_999}).status_code == 422
    assert api.post(DEVICES, {"name": "x", "serial_number": taken, "type": setup["types"][0],
                              "organization_id": setup["orgs"][0]}).status_code == 409
    for device_id in (first, second):
        assert api.delete(device_path(device_id)).status_code == 204
        del setup["devices"][device_id]
    _assert_counts(api, setup)
