"""The simulated CWMP device against moto, and choosing the driver (the GenieACS driver: test_genieacs_*.py)."""
import time
from types import SimpleNamespace

import pytest

from chalicelib import aws, drivers
from chalicelib.config import get_settings
from chalicelib.devices import db as devices_db
from chalicelib.drivers import genieacs, simulator, simulator_settings
from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, OutcomeUncertain
from chalicelib.drivers.protocol import DeviceRef
from chalicelib.drivers.simulator import SimulatorBehaviour
from chalicelib.store import schema
from chalicelib.tokens.models import Principal

# --- the simulated driver -----------------------------------------------------------------------


PLATFORM_ADMIN = Principal(token_id=1, name="platform", organization_id=None, permissions=frozenset({"admin"}),
                           rate_limit_per_minute=100)


@pytest.fixture
def sim(moto, monkeypatch):
    """The table alone (the driver needs nothing else), one device item, and time.sleep recorded.

    The device is a bare item rather than one made through the API: the simulator reads only its
    id and serial number, and a full client with queues and keys would triple this module's run time.
    """
    aws.dynamodb().create_table(**schema.table_definition(get_settings().table_name))
    aws.dynamodb().put_item(TableName=get_settings().table_name, Item={
        **schema.device_key(1), "entity": "Device", "id": 1, "organization_id": 1, "serial_number": "SIM-0001"})
    sleeps: list[float] = []
    monkeypatch.setattr(simulator, "time", SimpleNamespace(sleep=sleeps.append))

    def behave(**fields):
        simulator_settings.set_behaviour(PLATFORM_ADMIN, 1, SimulatorBehaviour(**fields))

    ref = DeviceRef(id=1, serial_number="SIM-0001", manufacturer=None, product_class=None, address=None)
    return SimpleNamespace(ref=ref, behave=behave, sleeps=sleeps, driver=simulator.SimulatedDriver())


def test_device_ref_from_a_stored_item(api):
    org, dtype = api.organization(), api.device_type()
    created = api.device(org, dtype, serial_number="REF-1", manufacturer="001B44", product_class="RT5500",
                         address="10.0.0.7", update_frequency=600)
    ref = DeviceRef.from_item(devices_db.get(created["id"]))
    assert ref == DeviceRef(id=created["id"], serial_number="REF-1", manufacturer="001B44", product_class="RT5500",
                            address="10.0.0.7", update_frequency=600)
    assert isinstance(ref.id, int) and isinstance(ref.update_frequency, int)


def test_device_without_stored_behaviour_is_online_and_answers_at_once(sim):
    assert sim.driver.execute(sim.ref, "reboot", {}, timeout=5) == {}
    assert sim.driver.probe(sim.ref, timeout=5) is True
    assert sim.sleeps == [0, 0]


def test_offline_device_is_unreachable_with_connection_request_failed(sim):
    sim.behave(online=False, latency_ms=2000)
    with pytest.raises(DeviceUnreachable) as raised:
        sim.driver.execute(sim.ref, "factory", {}, timeout=5)
    assert raised.value.code == "CONNECTION_REQUEST_FAILED"
    assert "SIM-0001" in raised.value.message
    assert sim.driver.probe(sim.ref, timeout=5) is False
    assert sim.sleeps == []   # a connection request that fails does not wait for the device's latency


def test_operation_listed_in_fail_is_a_device_fault_with_its_cwmp_code(sim):
    expected = {"reboot": "9002", "factory": "9001", "device_factory": "9001", "sync": "9005", "reconf": "9007",
                "debug": "9008", "firmware_update": "9010"}
    parameters = {"version": "2.5.0", "enabled": True}
    for operation, code in expected.items():
        sim.behave(fail=[operation])
        with pytest.raises(DeviceFault) as raised:
            sim.driver.execute(sim.ref, operation, parameters, timeout=5)
        assert (raised.value.code, raised.value.message) == (code, simulator.FAULTS[operation][1])
        for other in set(expected) - {operation}:   # only the listed operation fails
            sim.driver.execute(sim.ref, other, parameters, timeout=5)


def test_latency_within_the_timeout_is_slept_then_the_device_answers(sim):
    sim.behave(latency_ms=250)
    assert sim.driver.execute(sim.ref, "debug", {"enabled": True}, timeout=1) == {}
    assert sim.driver.probe(sim.ref, timeout=0.25) is True   # exactly the timeout still answers
    assert sim.sleeps == [0.25, 0.25]


def test_latency_beyond_the_timeout_is_uncertain_after_sleeping_the_timeout(sim):
    sim.behave(latency_ms=60_000, fail=["reboot"])
    with pytest.raises(OutcomeUncertain) as raised:
        sim.driver.execute(sim.ref, "reboot", {}, timeout=0.5)
    # The device got it but did not answer in time: uncertain, even though it would have faulted.
    assert raised.value.code == "TIMEOUT"
    assert sim.driver.probe(sim.ref, timeout=0.5) is False
    assert sim.sleeps == [0.5, 0.5]


def test_latency_really_waits(sim, monkeypatch):
    monkeypatch.setattr(simulator, "time", time)
    sim.behave(latency_ms=60)
    started = time.monotonic()
    sim.driver.execute(sim.ref, "sync", {}, timeout=1)
    assert 0.06 <= time.monotonic() - started < 1


def test_facts_learned_from_the_device(sim):
    firmware = {"firmware_image": 47, "version": "2.5.0", "url": "https://fw.example/rt-2.5.0.bin",
                "checksum": "sha256:ab"}
    assert sim.driver.execute(sim.ref, "firmware_update", firmware, timeout=5) == {"software_version": "2.5.0"}
    applied = {"Device.Time.NTPServer1": "ntp.example"}
    assert sim.driver.execute(sim.ref, "reconf", {"configuration": applied}, timeout=5) == {"configuration": applied}
    for operation in ("reconf", "reboot", "factory", "device_factory"):
        assert sim.driver.execute(sim.ref, operation, {}, timeout=5) == {}
    assert sim.driver.execute(sim.ref, "debug", {"enabled": False}, timeout=5) == {}


def test_firmware_update_without_a_version_is_invalid_arguments(sim):
    with pytest.raises(DeviceFault) as raised:
        sim.driver.execute(sim.ref, "firmware_update", {"url": "https://fw.example/x.bin"}, timeout=5)
    assert raised.value.code == "9003"


def test_sync_returns_the_same_configuration_every_time_and_per_device(sim):
    first = sim.driver.execute(sim.ref, "sync", {}, timeout=5)
    assert first == sim.driver.execute(sim.ref, "sync", {}, timeout=5)
    configuration = first["configuration"]
    assert configuration == simulator.configuration(sim.ref)
    assert configuration["Device.ManagementServer.PeriodicInformInterval"] == 300
    assert 1 <= configuration["Device.WiFi.Radio.1.Channel"] <= 11
    other = DeviceRef(id=2, serial_number="SIM-0002", manufacturer=None, product_class=None, address=None)
    assert simulator.configuration(other)["Device.WiFi.SSID.1.SSID"] != configuration["Device.WiFi.SSID.1.SSID"]


def test_a_changed_behaviour_applies_to_the_next_call_with_one_get_item_per_call(sim):
    sim.behave(online=False)
    with pytest.raises(DeviceUnreachable):
        sim.driver.execute(sim.ref, "reboot", {}, timeout=5)
    sim.behave(online=True)
    calls = []
    aws.dynamodb().meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    assert sim.driver.execute(sim.ref, "reboot", {}, timeout=5) == {}
    assert sim.driver.probe(sim.ref, timeout=5) is True
    assert calls == ["GetItem", "GetItem"]


def test_unknown_operation_is_a_programming_error():
    device = DeviceRef(id=1, serial_number="X", manufacturer=None, product_class=None, address=None)
    with pytest.raises(ValueError):
        simulator.SimulatedDriver().execute(device, "format_disk", {}, timeout=5)


# --- choosing the driver ------------------------------------------------------------------------


@pytest.fixture
def settings_env(monkeypatch):
    """Env changes made by a test reach get_settings(); both caches are clean afterwards."""
    get_settings.cache_clear()
    drivers.reset_driver()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
    drivers.reset_driver()


def test_the_simulated_driver_is_the_default_and_is_reused(settings_env):
    settings_env.delenv("DEVICE_DRIVER", raising=False)
    driver = drivers.get_driver()
    assert isinstance(driver, simulator.SimulatedDriver)
    assert drivers.get_driver() is driver


def test_genieacs_driver_when_settings_say_so(settings_env):
    settings_env.setenv("DEVICE_DRIVER", "genieacs")
    settings_env.setenv("GENIEACS_URL", "http://acs.internal:7557/")
    driver = drivers.get_driver()
    assert isinstance(driver, genieacs.GenieAcsDriver)
    assert driver.base_url == "http://acs.internal:7557"


def test_genieacs_driver_without_its_url_is_refused_at_settings(settings_env):
    settings_env.setenv("DEVICE_DRIVER", "genieacs")
    settings_env.delenv("GENIEACS_URL", raising=False)
    with pytest.raises(ValueError, match="GENIEACS_URL"):
        drivers.get_driver()


def test_the_simulated_driver_leaves_nothing_to_settle(sim):
    sim.behave(latency_ms=60_000)
    with pytest.raises(OutcomeUncertain) as raised:
        sim.driver.execute(sim.ref, "reboot", {}, timeout=0.5, operation_id=1)
    assert raised.value.pending is None     # so the agent never stores a handle for it
    with pytest.raises(OutcomeUncertain) as raised:
        sim.driver.settle(sim.ref, "reboot", {}, {}, timeout=0.5)
    assert raised.value.pending is None
