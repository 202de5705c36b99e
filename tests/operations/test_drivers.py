"""The device drivers: the simulated CWMP device against moto, the GenieACS driver against a fake NBI."""
import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from chalicelib import aws, clock, drivers
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


# --- the GenieACS driver against a fake northbound API ------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: object


@dataclass
class Reply:
    status: int = 200
    body: object = None
    reason: str | None = None
    delay: float = 0
    drop: bool = False
    headers: tuple = ()


class _Handler(BaseHTTPRequestHandler):
    def _handle(self):
        acs: FakeAcs = self.server.acs
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        acs.requests.append(Recorded(self.command, split.path, parse_qs(split.query, keep_blank_values=True),
                                     json.loads(raw) if raw else None))
        reply = acs.replies.get((self.command, split.path), Reply(body=[] if self.command == "GET" else {}))
        if reply.delay:
            acs.release.wait(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status, reply.reason)
            for name, value in (("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                                *reply.headers):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the client gave up (the slow-server tests)

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, *args):
        pass


class FakeAcs:
    """A GenieACS NBI stand-in on 127.0.0.1 that records every request."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.replies: dict[tuple[str, str], Reply] = {}
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.acs = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, method: str, path: str, **reply) -> None:
        self.replies[(method, path)] = Reply(**reply)


@pytest.fixture
def acs():
    fake = FakeAcs()
    # serve_forever checks for shutdown every poll_interval (0.5 s by default, paid by every test).
    threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()


DEVICE = DeviceRef(id=7, serial_number="SN-0001", manufacturer="001B44", product_class="RT5500", address=None)
ACS_ID = "001B44-RT5500-SN%2D0001"
TASKS = "/devices/001B44-RT5500-SN%252D0001/tasks"      # the id, URL-quoted once more for the path
FIRMWARE = {"firmware_image": 47, "version": "2.5.0", "url": "https://fw.example/images/rt5500-2.5.0.bin",
            "checksum": "sha256:ab"}


@pytest.fixture
def acs_driver(acs):
    return genieacs.GenieAcsDriver(acs.url + "/")


def test_device_id_is_escaped_as_genieacs_does():
    assert genieacs.acs_device_id(DEVICE) == ACS_ID
    assert genieacs.acs_device_id(DeviceRef(id=1, serial_number="A1", manufacturer=None, product_class="RT 5",
                                            address=None)) == "UNKNOWN-RT%205-A1"
    # Without a product class GenieACS leaves that part out; non-ASCII is escaped byte by byte.
    assert genieacs.acs_device_id(DeviceRef(id=1, serial_number="Zé_1", manufacturer="Acme Co", product_class=None,
                                            address=None)) == "Acme%20Co-Z%C3%A9_1"


@pytest.mark.parametrize("operation, parameters, task", [
    ("reboot", {}, {"name": "reboot"}),
    ("factory", {}, {"name": "factoryReset"}),
    ("device_factory", {}, {"name": "factoryReset"}),
    ("sync", {}, {"name": "refreshObject", "objectName": ""}),
    ("reconf", {"configuration": {"Device.Time.NTPServer1": "ntp.example", "Device.X.Enable": True, "Skip": None}},
     {"name": "setParameterValues",
      "parameterValues": [["Device.Time.NTPServer1", "ntp.example"], ["Device.X.Enable", True]]}),
    ("debug", {"enabled": True}, {"name": "setParameterValues",
                                  "parameterValues": [["VirtualParameters.FleetlineDebug", True, "xsd:boolean"]]}),
    ("debug", {"enabled": False}, {"name": "setParameterValues",
                                   "parameterValues": [["VirtualParameters.FleetlineDebug", False, "xsd:boolean"]]}),
    ("firmware_update", FIRMWARE, {"name": "download", "fileType": "1 Firmware Upgrade Image",
                                   "fileName": "rt5500-2.5.0.bin"}),
])
def test_each_operation_posts_its_task_with_a_connection_request(acs, acs_driver, operation, parameters, task):
    acs.reply("GET", "/devices/", body=[{"_id": ACS_ID}])   # sync reads the device back
    acs_driver.execute(DEVICE, operation, parameters, timeout=2)
    posted = acs.requests[0]
    assert (posted.method, posted.path) == ("POST", TASKS)
    assert unquote(posted.path.split("/")[2]) == ACS_ID
    # The ACS may wait half the budget for the device's session to start.
    assert posted.query == {"connection_request": [""], "timeout": ["1000"]}
    assert posted.body == task | {"uniqueKey": f"fleetline-{operation}"}


def test_firmware_update_reports_the_version_it_installed(acs_driver):
    assert acs_driver.execute(DEVICE, "firmware_update", FIRMWARE, timeout=2) == {"software_version": "2.5.0"}


def test_firmware_update_without_a_url_sends_nothing(acs, acs_driver):
    with pytest.raises(DeviceFault) as raised:
        acs_driver.execute(DEVICE, "firmware_update", {"version": "2.5.0"}, timeout=2)
    assert raised.value.code == "INVALID_PARAMETERS"
    assert acs.requests == []


def test_sync_reads_back_the_writable_parameters(acs, acs_driver):
    acs.reply("GET", "/devices/", body=[{
        "_id": ACS_ID, "_lastInform": "2024-05-01T10:00:00.000Z",
        "Device": {"_object": True, "_writable": False,
                   "DeviceInfo": {"SoftwareVersion": {"_value": "2.4.0", "_writable": False}},
                   "Time": {"NTPServer1": {"_value": "pool.ntp.org", "_type": "xsd:string", "_writable": True}},
                   "WiFi": {"Radio": {"1": {"Channel": {"_value": 6, "_writable": True},
                                            "Stats": {"_writable": False}}}}},
    }])
    facts = acs_driver.execute(DEVICE, "sync", {}, timeout=2)
    assert facts == {"configuration": {"Device.Time.NTPServer1": "pool.ntp.org", "Device.WiFi.Radio.1.Channel": 6}}
    read = acs.requests[1]
    assert (read.method, read.path) == ("GET", "/devices/")
    assert json.loads(read.query["query"][0]) == {"_id": ACS_ID}


def test_reconf_returns_the_values_it_set(acs_driver):
    facts = acs_driver.execute(DEVICE, "reconf", {"configuration": {"Device.Time.NTPServer1": "ntp.example"}},
                               timeout=2)
    assert facts == {"configuration": {"Device.Time.NTPServer1": "ntp.example"}}


def test_reconf_without_values_is_a_bare_connection_request(acs, acs_driver):
    assert acs_driver.execute(DEVICE, "reconf", {}, timeout=2) == {}
    assert acs.requests[0].body is None
    assert "connection_request" in acs.requests[0].query


def test_failed_bare_connection_request_is_unreachable(acs, acs_driver):
    # GenieACS answers 504 with the connection request's error when no task was given.
    acs.reply("POST", TASKS, status=504, reason="Device is offline", body=b"Device is offline")
    with pytest.raises(DeviceUnreachable) as raised:
        acs_driver.execute(DEVICE, "reconf", {}, timeout=2)
    assert raised.value.code == "CONNECTION_REQUEST_FAILED"
    assert raised.value.message == "Device is offline"


@pytest.mark.parametrize("reason", ["Task queued but not processed", "Device is offline",
                                    "Connection request error: connect ECONNREFUSED"])
def test_task_queued_at_the_acs_is_uncertain(acs, acs_driver, reason):
    acs.reply("POST", TASKS, status=202, reason=reason, body={"_id": "65f0", "name": "factoryReset"})
    with pytest.raises(OutcomeUncertain) as raised:
        acs_driver.execute(DEVICE, "factory", {}, timeout=2)
    assert raised.value.code == "TASK_QUEUED_AT_ACS"
    assert reason in raised.value.message
    assert [r.method for r in acs.requests] == ["POST"]   # the queued task is left to run at the next inform


def test_faulted_task_is_a_device_fault_with_the_cwmp_code_and_is_removed_from_the_acs(acs, acs_driver):
    acs.reply("POST", TASKS, status=202, reason="Task faulted", body={"_id": "65f1", "name": "download"})
    acs.reply("GET", "/faults/", body=[{"_id": f"{ACS_ID}:task_65f1", "code": "cwmp.9010",
                                        "message": "Download failure",
                                        "detail": {"faultCode": "9010", "faultString": "Download failure"}}])
    with pytest.raises(DeviceFault) as raised:
        acs_driver.execute(DEVICE, "firmware_update", FIRMWARE, timeout=2)
    assert (raised.value.code, raised.value.message) == ("9010", "Download failure")
    lookup, delete = acs.requests[1], acs.requests[2]
    assert json.loads(lookup.query["query"][0]) == {"_id": f"{ACS_ID}:task_65f1"}
    assert (delete.method, delete.path) == ("DELETE", "/tasks/65f1")


def test_faulted_task_without_a_readable_fault_is_still_a_device_fault(acs, acs_driver):
    acs.reply("POST", TASKS, status=202, reason="Task faulted", body={"_id": "65f2", "name": "reboot"})
    acs.reply("GET", "/faults/", status=500, body=b"MongoError")
    with pytest.raises(DeviceFault) as raised:
        acs_driver.execute(DEVICE, "reboot", {}, timeout=2)
    assert raised.value.code == "TASK_FAULTED"


@pytest.mark.parametrize("status, body, code, message", [
    (202, {"fault": {"code": "cwmp.9002", "message": "Internal error"}}, "9002", "Internal error"),
    (400, {"faultCode": "9003", "faultString": "Invalid arguments"}, "9003", "Invalid arguments"),
    (500, {"fault": {"code": "9007", "detail": {"faultCode": "9007", "faultString": "Invalid parameter value"}}},
     "9007", "Invalid parameter value"),
])
def test_cwmp_fault_in_the_body_is_a_device_fault_with_that_code(acs, acs_driver, status, body, code, message):
    acs.reply("POST", TASKS, status=status, body=body)
    with pytest.raises(DeviceFault) as raised:
        acs_driver.execute(DEVICE, "reconf", {"configuration": {"Device.X": "1"}}, timeout=2)
    assert (raised.value.code, raised.value.message) == (code, message)


@pytest.mark.parametrize("status, body, message", [
    (404, b"No such device", "No such device"),
    (400, b"SyntaxError: Unexpected token", "SyntaxError: Unexpected token"),
    (401, b"", "Unauthorized"),
])
def test_client_errors_are_final_device_faults_with_the_acs_message(acs, acs_driver, status, body, message):
    acs.reply("POST", TASKS, status=status, body=body)
    with pytest.raises(DeviceFault) as raised:
        acs_driver.execute(DEVICE, "reboot", {}, timeout=2)
    assert (raised.value.code, raised.value.message) == (f"ACS_{status}", message)


@pytest.mark.parametrize("status", [503, 429])
def test_acs_refusing_the_request_is_unreachable(acs, acs_driver, status):
    # A proxy's own error body is not taken for a device fault.
    acs.reply("POST", TASKS, status=status, body={"code": "ServiceUnavailable", "message": "try later"})
    with pytest.raises(DeviceUnreachable) as raised:
        acs_driver.execute(DEVICE, "factory", {}, timeout=2)
    assert raised.value.code == f"ACS_{status}"


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_error_after_sending_a_task_is_uncertain(acs, acs_driver, status):
    # GenieACS stores the task before the connection request: a 500 may come after the task was saved.
    acs.reply("POST", TASKS, status=status, body=b"Error: boom")
    with pytest.raises(OutcomeUncertain) as raised:
        acs_driver.execute(DEVICE, "factory", {}, timeout=2)
    assert raised.value.code == f"ACS_{status}"


def test_redirect_is_not_followed(acs, acs_driver):
    acs.reply("POST", TASKS, status=302, headers=(("Location", "/login"),), body=b"")
    with pytest.raises(DeviceFault) as raised:
        acs_driver.execute(DEVICE, "reboot", {}, timeout=2)
    assert raised.value.code == "ACS_302"
    assert [r.path for r in acs.requests] == [TASKS]


def _closed_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def test_refused_connection_is_unreachable():
    driver = genieacs.GenieAcsDriver(f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(DeviceUnreachable) as raised:
        driver.execute(DEVICE, "factory", {}, timeout=2)
    assert raised.value.code == "ACS_UNREACHABLE"
    with pytest.raises(DeviceUnreachable) as raised:
        driver.probe(DEVICE, timeout=2)
    assert raised.value.code == "ACS_UNREACHABLE"


def test_slow_acs_after_sending_is_uncertain_with_timeout(acs, acs_driver):
    acs.reply("POST", TASKS, delay=5)
    started = time.monotonic()
    with pytest.raises(OutcomeUncertain) as raised:
        acs_driver.execute(DEVICE, "reboot", {}, timeout=0.2)
    assert raised.value.code == "TIMEOUT"
    assert time.monotonic() - started < 2
    assert acs.requests[0].query["timeout"] == ["100"]


def test_connection_dropped_after_sending_is_uncertain(acs, acs_driver):
    acs.reply("POST", TASKS, drop=True)
    with pytest.raises(OutcomeUncertain) as raised:
        acs_driver.execute(DEVICE, "device_factory", {}, timeout=2)
    assert raised.value.code == "CONNECTION_LOST"


def test_unknown_operation_sends_nothing(acs, acs_driver):
    with pytest.raises(ValueError):
        acs_driver.execute(DEVICE, "format_disk", {}, timeout=2)
    assert acs.requests == []


def _informed(ago: timedelta) -> list[dict]:
    return [{"_id": ACS_ID, "_lastInform": clock.iso(clock.now() - ago)}]


@pytest.mark.parametrize("update_frequency, ago, online", [
    (None, timedelta(seconds=30), True),
    (None, timedelta(minutes=6), False),            # 5 minutes when the inform interval is unknown
    (600, timedelta(minutes=19), True),             # within twice the device's update_frequency
    (600, timedelta(minutes=21), False),
])
def test_probe_judges_the_last_inform(acs, acs_driver, update_frequency, ago, online):
    acs.reply("GET", "/devices/", body=_informed(ago))
    device = DeviceRef(id=7, serial_number="SN-0001", manufacturer="001B44", product_class="RT5500", address=None,
                       update_frequency=update_frequency)
    assert acs_driver.probe(device, timeout=2) is online
    query = acs.requests[0].query
    assert json.loads(query["query"][0]) == {"_id": ACS_ID}
    assert query["projection"] == ["_lastInform"]


def test_probe_of_a_device_the_acs_does_not_know_is_offline(acs, acs_driver):
    acs.reply("GET", "/devices/", body=[])
    assert acs_driver.probe(DEVICE, timeout=2) is False


def test_probe_when_the_acs_cannot_answer_raises_rather_than_guessing(acs, acs_driver):
    acs.reply("GET", "/devices/", delay=5)
    with pytest.raises(DeviceUnreachable) as raised:   # a read cannot have an uncertain outcome
        acs_driver.probe(DEVICE, timeout=0.2)
    assert raised.value.code == "TIMEOUT"
    acs.reply("GET", "/devices/", status=500, body=b"MongoError")
    with pytest.raises(DeviceUnreachable) as raised:
        acs_driver.probe(DEVICE, timeout=2)
    assert raised.value.code == "ACS_500"
