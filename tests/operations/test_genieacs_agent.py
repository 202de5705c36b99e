"""The agent with the GenieACS driver against the faithful fake GenieACS: what the operation records when the
ACS only queued a task, when the outcome stays uncertain for a while, and when a firmware update reports its
result later (issue 15, items 2 and 3, through dispatch's settlement)."""
import time

import pytest

from chalicelib import drivers
from chalicelib.config import get_settings
from tests.fakes.genieacs import Cpe, FakeGenieAcs
from tests.fakes.genieacs_nbi import NbiServer
from tests.operations.conftest import backdate, queue_depth

IMAGE_VERSION = "2.5.0"


@pytest.fixture
def genieacs(fleet, monkeypatch):
    """The fake GenieACS, with the agent's driver pointed at it."""
    model = FakeGenieAcs()
    nbi = NbiServer(model).start()
    monkeypatch.setenv("DEVICE_DRIVER", "genieacs")
    monkeypatch.setenv("GENIEACS_URL", nbi.url)
    get_settings.cache_clear()
    drivers.reset_driver()
    yield model
    nbi.stop()
    monkeypatch.undo()
    get_settings.cache_clear()
    drivers.reset_driver()


def _device(fleet, genieacs, serial: str, **behaviour) -> tuple[int, str]:
    created = fleet.device(serial_number=serial)
    return created["id"], genieacs.add_device(Cpe(serial=serial, **behaviour))


def _rpcs(genieacs, name: str) -> int:
    return sum(1 for _, rpc in genieacs.rpcs if rpc == name)


def _sweep(client) -> None:
    client.lambda_.invoke("sweep_overdue_operations", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))


def _wait_until(condition, timeout: float = 5.0) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, "the fake ACS never got there"
        time.sleep(0.02)


def test_a_reset_the_acs_only_queued_is_withdrawn_and_sent_again_when_the_device_answers(fleet, genieacs, agent):
    # GIVEN a device that does not answer the connection request
    device_id, acs_id = _device(fleet, genieacs, "GA-0001", online=False)
    fleet.request(device_id, {"reboot": True})
    # WHEN the agent dispatches the reboot: withdrawn at the ACS (it never ran), so it may be sent again
    first = agent.deliver()
    assert first.failed
    operation = fleet.operations(device_id)[0]
    assert (operation["state"], operation["error"]["code"]) == ("queued", "ACS_TASK_WITHDRAWN")
    assert genieacs.tasks == []
    # THEN once the device answers, the next attempt runs it, once
    genieacs.cpes[acs_id].online = True
    agent.backoff_passed(first)
    agent.deliver()
    assert fleet.operations(device_id)[0]["state"] == "succeeded"
    genieacs.inform(acs_id)
    assert _rpcs(genieacs, "Reboot") == 1


def test_a_reset_still_uncertain_is_never_sent_again_and_is_settled_as_run_once_the_session_ended(fleet, genieacs,
                                                                                                 agent):
    # GIVEN a device whose session outlasts the driver's budget
    device_id, acs_id = _device(fleet, genieacs, "GA-0002", session_seconds=1.0)
    fleet.request(device_id, {"factory": True})
    # WHEN the agent dispatches it: no answer in time, and the task cannot be withdrawn mid-session
    first = agent.deliver()
    assert first.failed                          # the message comes back to settle it
    assert fleet.operations(device_id)[0]["state"] == "dispatched"
    # THEN the next look, after the session, finds the reset ran: succeeded, and sent once
    _wait_until(lambda: not genieacs.tasks)
    agent.backoff_passed(first)
    agent.deliver()
    operation = fleet.operations(device_id)[0]
    assert (operation["state"], operation["attempts"]) == ("succeeded", 1)
    assert _rpcs(genieacs, "FactoryReset") == 1
    assert queue_depth() == 0


def test_an_uncertain_reset_at_its_deadline_is_withdrawn_by_the_sweep_and_never_runs(fleet, genieacs, agent, client):
    device_id, acs_id = _device(fleet, genieacs, "GA-0003")
    fleet.request(device_id, {"reboot": True})
    with genieacs.in_session(acs_id):            # a session in progress: the task is stored, not withdrawn
        agent.deliver()
    assert fleet.operations(device_id)[0]["state"] == "dispatched" and len(genieacs.tasks) == 1
    backdate(device_id, 1, minutes=20)
    _sweep(client)
    operation = fleet.operations(device_id)[0]
    assert operation["state"] == "timed_out"
    assert genieacs.tasks == []
    genieacs.inform(acs_id)
    assert _rpcs(genieacs, "Reboot") == 0


def _firmware_request(fleet, genieacs, device_id: int) -> None:
    image = fleet.firmware(IMAGE_VERSION)
    genieacs.add_file(image["url"].rsplit("/", 1)[-1], version=IMAGE_VERSION)
    fleet.request(device_id, {"firmware_image": image["id"], "firmware_image_is_pending": True})


def test_a_firmware_update_whose_transfer_complete_fails_ends_failed_and_leaves_nothing_at_the_acs(
        fleet, genieacs, agent):
    device_id, acs_id = _device(fleet, genieacs, "GA-0004", transfer=("9010", "Download failure"))
    _firmware_request(fleet, genieacs, device_id)
    # The device accepts the Download: not installed yet, the operation waits for its result.
    first = agent.deliver()
    assert first.failed
    assert fleet.operations(device_id)[0]["state"] == "dispatched"
    assert fleet.read(device_id)["firmware_image_is_pending"] is True
    # Its TransferComplete reports the failure; the next look concludes it.
    genieacs.inform(acs_id)
    agent.backoff_passed(first)
    agent.deliver()
    operation, device = fleet.operations(device_id)[0], fleet.read(device_id)
    assert (operation["state"], operation["error"]["code"]) == ("failed", "9010")
    assert device["firmware_image_is_pending"] is False and device["software_version"] != IMAGE_VERSION
    assert genieacs.faults == {} and genieacs.tasks == []
    genieacs.advance(6 * 3600)
    genieacs.inform(acs_id)
    assert _rpcs(genieacs, "Download") == 1


def test_a_firmware_update_succeeds_once_the_device_reports_the_new_version(fleet, genieacs, agent):
    device_id, acs_id = _device(fleet, genieacs, "GA-0005")
    _firmware_request(fleet, genieacs, device_id)
    first = agent.deliver()
    genieacs.inform(acs_id)
    agent.backoff_passed(first)
    agent.deliver()
    operation, device = fleet.operations(device_id)[0], fleet.read(device_id)
    assert operation["state"] == "succeeded"
    assert device["software_version"] == IMAGE_VERSION and device["firmware_image_is_pending"] is False
    assert _rpcs(genieacs, "Download") == 1


def test_a_firmware_update_never_reported_back_times_out_at_the_deadline_without_a_second_download(
        fleet, genieacs, agent, client):
    device_id, acs_id = _device(fleet, genieacs, "GA-0006", transfer=None)
    _firmware_request(fleet, genieacs, device_id)
    agent.deliver()
    backdate(device_id, 1, minutes=61)
    _sweep(client)
    operation = fleet.operations(device_id)[0]
    assert (operation["state"], operation["error"]["code"]) == ("timed_out", "FIRMWARE_NOT_CONFIRMED")
    assert _rpcs(genieacs, "Download") == 1
