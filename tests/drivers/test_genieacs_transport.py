"""What reaches the GenieACS driver from the network rather than from GenieACS: a proxy's answers, refused
connections, redirects, slow answers."""
import socket
import time

import pytest

from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, OutcomeUncertain
from chalicelib.drivers.genieacs import GenieAcsDriver
from chalicelib.drivers.protocol import DeviceRef
from tests.fakes.genieacs_nbi import Answer


def closed_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def test_a_refused_connection_is_unreachable():
    driver = GenieAcsDriver(f"http://127.0.0.1:{closed_port()}")
    device = DeviceRef(id=1, serial_number="X", manufacturer=None, product_class=None, address=None)
    with pytest.raises(DeviceUnreachable) as raised:
        driver.execute(device, "factory", {}, timeout=2)
    assert raised.value.code == "ACS_UNREACHABLE"


@pytest.mark.parametrize("status", [503, 429])
def test_a_proxy_refusing_the_post_is_unreachable_and_nothing_is_stored(acs, status):
    device, acs_id = acs.device()
    acs.nbi.proxy[("POST", acs.tasks_path(acs_id))] = Answer(status, b'{"code": "ServiceUnavailable"}')
    with pytest.raises(DeviceUnreachable) as raised:
        acs.driver.execute(device, "factory", {}, timeout=2)
    assert raised.value.code == f"ACS_{status}"
    assert acs.model.tasks == []


@pytest.mark.parametrize("status, body", [(400, b"SyntaxError: Unexpected token } in JSON at position 1"),
                                          (404, b"No such device"), (401, b"")])
def test_a_refused_post_is_final_with_the_acs_own_text(acs, status, body):
    device, acs_id = acs.device()
    acs.nbi.proxy[("POST", acs.tasks_path(acs_id))] = Answer(status, body)
    with pytest.raises(DeviceFault) as raised:
        acs.driver.execute(device, "reboot", {}, timeout=2)
    assert raised.value.code == f"ACS_{status}"
    assert raised.value.message == (body.decode() or "Unauthorized")


def test_a_redirect_is_not_followed(acs):
    device, acs_id = acs.device()
    acs.nbi.proxy[("POST", acs.tasks_path(acs_id))] = Answer(302, b"")
    with pytest.raises(DeviceFault) as raised:
        acs.driver.execute(device, "reboot", {}, timeout=2)
    assert raised.value.code == "ACS_302"
    assert len(acs.posted()) == 1


def test_a_gateway_error_after_the_post_is_settled_like_a_lost_answer(acs):
    # A proxy's 502/504 may come after GenieACS stored the task: look for it rather than guess.
    device, acs_id = acs.device(online=False)
    acs.nbi.proxy[("POST", acs.tasks_path(acs_id))] = Answer(504, b"Gateway Timeout")
    acs.model.insert_task({"name": "reboot", "device": acs_id, "uniqueKey": "fleetline-reboot-30"})
    with pytest.raises(DeviceUnreachable) as raised:
        acs.driver.execute(device, "reboot", {}, timeout=2, operation_id=30)
    assert raised.value.code == "ACS_TASK_WITHDRAWN"
    assert acs.model.tasks == []


def test_an_answer_slower_than_the_budget_is_given_up_in_time(acs):
    device, acs_id = acs.device(session_seconds=3)
    started = time.monotonic()
    with pytest.raises(OutcomeUncertain):
        acs.driver.execute(device, "reboot", {}, timeout=1)
    assert time.monotonic() - started < 2
    # The ACS was told to wait for the session no longer than half of what the driver waits.
    assert int(acs.posted()[0].query["timeout"][0]) <= 500


def test_an_unknown_operation_sends_nothing(acs):
    device, _ = acs.device()
    with pytest.raises(ValueError):
        acs.driver.execute(device, "format_disk", {}, timeout=2)
    assert acs.nbi.requests == []


@pytest.mark.parametrize("version, locks", [("1.2.13", True), ("1.2.10", True), ("1.3.0-dev", True),
                                            ("1.2.9", False), ("1.1.3", False), (None, False), ("", False)])
def test_the_session_lock_is_assumed_from_the_genieacs_version_header_only_from_1_2_10(version, locks):
    nbi = GenieAcsDriver("http://acs.invalid").nbi
    nbi.version = version
    assert nbi.locks_sessions() is locks
