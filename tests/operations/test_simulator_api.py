"""Setting how a simulated device behaves (PUT/GET /admin/simulator/{device_id}/, API.md §9)."""
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.devices import service as devices_service
from chalicelib.drivers import simulator, simulator_settings
from chalicelib.drivers.simulator import SimulatorBehaviour
from chalicelib.errors import Forbidden, NotFound
from chalicelib.store import dynamo, schema
from chalicelib.tokens import service as token_service
from chalicelib.tokens.models import Principal

DEFAULTS = {"online": True, "latency_ms": 0, "fail": []}


@pytest.fixture
def fleet(api):
    """Two organizations with a device each; a platform admin, an admin of the first organization
    and an operator (no admin) of it."""
    dtype = api.device_type()
    ours, theirs = api.organization(), api.organization()
    return SimpleNamespace(
        device=api.device(ours, dtype)["id"], foreign=api.device(theirs, dtype)["id"],
        platform=token_service.authenticate(api.platform),
        org_admin=token_service.authenticate(api.token(ours, permissions=("admin", "devices:read"))),
        operator=token_service.authenticate(api.token(ours, permissions=("devices:read", "devices:write",
                                                                         "devices:operate"))))


def stored(device_id: int):
    return dynamo.get(schema.simulator_key(device_id), consistent=True)


def test_admin_sets_reads_and_replaces_the_behaviour(api, fleet):
    # Never set: the defaults, and nothing stored.
    assert simulator_settings.get_behaviour(fleet.platform, fleet.device) == {"device_id": fleet.device, **DEFAULTS}
    assert stored(fleet.device) is None
    body = SimulatorBehaviour(online=False, latency_ms=1500, fail=["reboot", "firmware_update", "reboot"])
    expected = {"device_id": fleet.device, "online": False, "latency_ms": 1500, "fail": ["firmware_update", "reboot"]}
    assert simulator_settings.set_behaviour(fleet.platform, fleet.device, body) == expected
    assert simulator_settings.get_behaviour(fleet.org_admin, fleet.device) == expected
    assert simulator.read_behaviour(fleet.device) == SimulatorBehaviour(**body.model_dump())
    assert stored(fleet.device)["entity"] == "SimulatorSettings"
    # A PUT replaces the whole behaviour: what it omits goes back to the defaults.
    assert simulator_settings.set_behaviour(fleet.org_admin, fleet.device, SimulatorBehaviour(latency_ms=20)) == {
        "device_id": fleet.device, **DEFAULTS, "latency_ms": 20}
    # It lives in the device's partition, which deleting the device sweeps.
    assert api.delete(f"/inventory_device/{fleet.device}/").status_code == 204
    assert stored(fleet.device) is None


def test_token_without_admin_is_403_and_stores_nothing(fleet):
    offline = SimulatorBehaviour(online=False)
    for call in (lambda: simulator_settings.set_behaviour(fleet.operator, fleet.device, offline),
                 lambda: simulator_settings.get_behaviour(fleet.operator, fleet.device)):
        with pytest.raises(Forbidden) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (403, "PERMISSION_DENIED")
    assert stored(fleet.device) is None


def test_another_organizations_device_or_an_unknown_one_is_404_and_stores_nothing(fleet):
    for principal, device_id in ((fleet.org_admin, fleet.foreign), (fleet.platform, 999_999)):
        with pytest.raises(NotFound) as put:
            simulator_settings.set_behaviour(principal, device_id, SimulatorBehaviour(online=False))
        with pytest.raises(NotFound) as get:
            simulator_settings.get_behaviour(principal, device_id)
        for raised in (put, get):
            assert (raised.value.status, raised.value.code) == (404, "DEVICE_NOT_FOUND")
        assert stored(device_id) is None


def test_device_deleted_between_check_and_write_leaves_no_behaviour(moto, monkeypatch):
    # GIVEN a device that was visible when checked but is gone when the behaviour is written
    # (only the table is needed: the write's condition on the device item is what is tested)
    aws.dynamodb().create_table(**schema.table_definition(get_settings().table_name))
    monkeypatch.setattr(devices_service, "get_visible", lambda principal, device_id: {"id": device_id})
    platform_admin = Principal(token_id=1, name="platform", organization_id=None, permissions=frozenset({"admin"}),
                               rate_limit_per_minute=100)
    # WHEN the behaviour is set THEN the write is refused as for any unknown device
    with pytest.raises(NotFound) as raised:
        simulator_settings.set_behaviour(platform_admin, 4242, SimulatorBehaviour(online=False))
    assert raised.value.code == "DEVICE_NOT_FOUND"
    assert stored(4242) is None


@pytest.mark.parametrize("body, field", [
    ({"fail": ["reboot", "format_disk"]}, "fail"),
    ({"latency_ms": -1}, "latency_ms"),
    ({"latency_ms": 60_001}, "latency_ms"),
    ({"online": "maybe"}, "online"),
    ({"failure_rate": 0.5}, "failure_rate"),
])
def test_invalid_behaviour_is_rejected_naming_the_field(body, field):
    with pytest.raises(ValidationError) as raised:
        SimulatorBehaviour.model_validate(body)
    assert raised.value.errors()[0]["loc"][0] == field


def test_behaviour_from_json_takes_the_defaults_for_omitted_fields():
    assert SimulatorBehaviour.model_validate_json('{"latency_ms": 60000}').model_dump() == {
        **DEFAULTS, "latency_ms": 60_000}


@pytest.fixture
def genieacs_configured(monkeypatch):
    monkeypatch.setenv("DEVICE_DRIVER", "genieacs")
    monkeypatch.setenv("GENIEACS_URL", "http://acs.internal:7557")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_simulator_is_disabled_while_another_driver_is_in_use(api, genieacs_configured):
    device_id = 1   # no lookup happens: the driver is checked first
    platform = token_service.authenticate(api.platform)
    operator = token_service.authenticate(api.token(None, permissions=("devices:read",)))
    for call in (lambda: simulator_settings.set_behaviour(platform, device_id, SimulatorBehaviour(online=False)),
                 lambda: simulator_settings.get_behaviour(platform, device_id),
                 # the driver is checked before the permission (over HTTP the /admin/ middleware
                 # has already answered 403 to such a token)
                 lambda: simulator_settings.get_behaviour(operator, device_id),
                 simulator_settings.require_enabled):
        with pytest.raises(NotFound) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (404, "SIMULATOR_DISABLED")
    assert stored(device_id) is None
