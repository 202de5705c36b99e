"""Item 3 of issue 15: a firmware update in two phases. The Download accepted (GenieACS ends the task) is not
the update installed: the result comes in TransferComplete, and a failure becomes a fault that GenieACS
retries every 300 s x 2^n until someone deletes it."""
import pytest

from chalicelib.drivers.errors import AwaitingConfirmation, DeviceFault, OutcomeUncertain
from tests.drivers.conftest import FIRMWARE
from tests.fakes.genieacs_nbi import Answer

IMAGE = "rt5500-2.5.0.bin"


def _accepted(acs, **behaviour):
    """A device that accepts the Download of an image the ACS holds; (device, acs id, the pending handle)."""
    acs.model.add_file(IMAGE, version="2.5.0")
    device, acs_id = acs.device(**behaviour)
    with pytest.raises(AwaitingConfirmation) as raised:
        acs.driver.execute(device, "firmware_update", FIRMWARE, timeout=2, operation_id=21)
    assert raised.value.pending["phase"] == "accepted"
    return device, acs_id, raised.value.pending


def test_a_download_the_device_accepted_awaits_its_result_and_is_confirmed_by_the_reported_version(any_acs):
    device, acs_id, pending = _accepted(any_acs)
    assert any_acs.posted()[0].body | {"uniqueKey": None, "expiry": None} == {
        "name": "download", "fileType": "1 Firmware Upgrade Image", "fileName": IMAGE, "uniqueKey": None,
        "expiry": None}
    # Not yet: the device has not reported back.
    with pytest.raises(AwaitingConfirmation):
        any_acs.driver.settle(device, "firmware_update", FIRMWARE, pending, timeout=2)
    # Its next session carries TransferComplete and the new version.
    any_acs.model.inform(acs_id)
    assert any_acs.driver.settle(device, "firmware_update", FIRMWARE, pending, timeout=2) == {
        "software_version": "2.5.0"}
    assert any_acs.rpcs("Download") == 1


def test_a_download_whose_transfer_complete_fails_ends_failed_and_leaves_nothing_at_the_acs(any_acs):
    device, acs_id, pending = _accepted(any_acs, transfer=("9010", "Download failure"))
    any_acs.model.inform(acs_id)
    assert list(any_acs.model.faults_of(acs_id)) == [f"{acs_id}:task_{pending['task_id']}"]

    with pytest.raises(DeviceFault) as raised:
        any_acs.driver.settle(device, "firmware_update", FIRMWARE, pending, timeout=2)

    assert (raised.value.code, raised.value.message) == ("9010", "Download failure")
    assert any_acs.model.faults == {} and any_acs.model.tasks == []
    # No retry loop: hours of sessions later, the Download was sent once.
    for _ in range(4):
        any_acs.model.advance(3 * 3600)
        any_acs.model.inform(acs_id)
    assert any_acs.rpcs("Download") == 1
    assert any_acs.model.cpes[acs_id].parameters["Device.DeviceInfo.SoftwareVersion"][0] == "2.4.0"


def test_left_alone_a_failed_download_is_sent_again_by_genieacs_every_300_s_times_2_to_the_n(acs):
    # What the fake reproduces, and what the driver's delete prevents (lib/cwmp.ts applyPresets).
    device, acs_id, pending = _accepted(acs, transfer=("9010", "Download failure"))
    acs.model.inform(acs_id)                     # TransferComplete: fault, retries 0
    acs.model.advance(299)
    acs.model.inform(acs_id)
    assert acs.rpcs("Download") == 1             # not yet due
    acs.model.advance(2)
    acs.model.inform(acs_id)                     # 300 s after the Download: sent again
    assert acs.rpcs("Download") == 2
    acs.model.inform(acs_id)                     # its TransferComplete fails again: retries 1, next in 600 s
    (fault,) = acs.model.faults.values()
    assert (fault["code"], fault["retries"]) == ("cwmp.9010", 1)


def test_a_download_the_device_refuses_is_a_fault_and_nothing_is_left_to_retry(acs):
    acs.model.add_file(IMAGE, version="2.5.0")
    device, acs_id = acs.device(faults={"Download": ("9010", "Download failure")})
    with pytest.raises(DeviceFault) as raised:
        acs.driver.execute(device, "firmware_update", FIRMWARE, timeout=2, operation_id=22)
    assert raised.value.code == "9010"
    assert acs.model.faults == {} and acs.model.tasks == []


def test_an_image_missing_from_the_acs_file_server_sends_nothing(acs):
    device, _ = acs.device()
    with pytest.raises(DeviceFault) as raised:
        acs.driver.execute(device, "firmware_update", FIRMWARE, timeout=2, operation_id=23)
    assert raised.value.code == "ACS_FILE_NOT_FOUND"
    assert acs.posted() == []


def test_a_device_already_at_the_version_needs_no_download(acs):
    acs.model.add_file(IMAGE, version="2.5.0")
    device, _ = acs.device(software_version="2.5.0")
    assert acs.driver.execute(device, "firmware_update", FIRMWARE, timeout=2) == {"software_version": "2.5.0"}
    assert acs.posted() == []


def test_a_download_never_reported_back_is_not_confirmed_at_the_last_look(acs):
    device, acs_id, pending = _accepted(acs, transfer=None)
    acs.model.inform(acs_id)
    with pytest.raises(OutcomeUncertain) as raised:
        acs.driver.settle(device, "firmware_update", FIRMWARE, pending, timeout=2, final=True)
    assert raised.value.code == "FIRMWARE_NOT_CONFIRMED"
    assert raised.value.pending is None


def test_genieacs_own_download_timeout_is_a_failure_and_is_cleared(acs):
    device, acs_id, pending = _accepted(acs, transfer=None)
    acs.model.advance(3601)
    acs.model.inform(acs_id)                     # lib/session.ts timeoutOperations
    with pytest.raises(DeviceFault) as raised:
        acs.driver.settle(device, "firmware_update", FIRMWARE, pending, timeout=2)
    assert raised.value.code == "timeout"
    assert acs.model.faults == {}


def test_a_failure_that_cannot_be_cleared_yet_is_looked_at_again(acs):
    device, acs_id, pending = _accepted(acs, transfer=("9010", "Download failure"))
    acs.model.inform(acs_id)
    with acs.model.in_session(acs_id):
        with pytest.raises(AwaitingConfirmation) as raised:
            acs.driver.settle(device, "firmware_update", FIRMWARE, pending, timeout=2)
    assert raised.value.code == "ACS_SESSION_IN_PROGRESS"
    with pytest.raises(DeviceFault):
        acs.driver.settle(device, "firmware_update", FIRMWARE, raised.value.pending, timeout=2)
    assert acs.model.faults == {}


def test_an_acs_that_cannot_answer_leaves_the_download_awaiting_never_taken_for_not_run(acs):
    device, acs_id, pending = _accepted(acs)
    acs.nbi.proxy[("GET", "/faults/")] = Answer(504, b"Gateway Timeout")
    with pytest.raises(OutcomeUncertain) as raised:
        acs.driver.settle(device, "firmware_update", FIRMWARE, pending, timeout=2)
    assert raised.value.pending == pending      # the agent looks again; nothing is sent again
