"""The GenieACS driver's diagnostic helper against the fake northbound API of the operations tests."""
import json

import pytest

from chalicelib.drivers import genieacs
from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable
from tests.operations.test_drivers import ACS_ID, DEVICE, TASKS, acs, acs_driver  # noqa: F401 (fixtures)


def document(**values) -> dict:
    """A GenieACS device document holding `values` ({parameter path: value})."""
    doc: dict = {"_id": ACS_ID}
    for path, value in values.items():
        node = doc
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.update({"_value": value, "_writable": False})
    return doc


def test_diagnose_refreshes_device_info_then_reads_the_tr181_figures(acs, acs_driver):  # noqa: F811
    acs.reply("GET", "/devices/", body=[document(**{
        genieacs.CPU_USAGE: 37, genieacs.MEMORY_TOTAL: 262144, genieacs.MEMORY_FREE: "65536",
        genieacs.DISK_CAPACITY: 1000, genieacs.DISK_USED: 925, genieacs.LINK_STATUS: "Up"})])

    figures = acs_driver.diagnose(DEVICE, "generic", timeout=2)

    assert figures == {"cpu_usage": 37.0, "memory_usage": 75.0, "disk_usage": 92.5, "network_status": "connected"}
    task, read = acs.requests
    assert (task.method, task.path, task.body) == ("POST", TASKS, {
        "name": "refreshObject", "objectName": "Device.DeviceInfo.", "uniqueKey": "fleetline-diagnose"})
    assert "connection_request" in task.query
    assert json.loads(read.query["query"][0]) == {"_id": ACS_ID}
    assert read.query["projection"] == [",".join(genieacs.DIAGNOSTIC_PARAMETERS)]


def test_only_the_figures_the_device_reports_are_returned(acs, acs_driver):  # noqa: F811
    acs.reply("GET", "/devices/", body=[document(**{genieacs.CPU_USAGE: "12", genieacs.LINK_STATUS: "Down",
                                                    genieacs.MEMORY_FREE: 10})])
    assert acs_driver.diagnose(DEVICE, "generic", timeout=2) == {"cpu_usage": 12.0, "network_status": "disconnected"}


def test_a_device_reporting_none_of_the_figures_cannot_run_the_helper(acs, acs_driver):  # noqa: F811
    acs.reply("GET", "/devices/", body=[document(**{"Device.DeviceInfo.SoftwareVersion": "2.4.0"})])
    with pytest.raises(DeviceFault) as raised:
        acs_driver.diagnose(DEVICE, "generic", timeout=2)
    assert raised.value.code == "NOT_SUPPORTED"


def test_a_refresh_the_acs_could_only_queue_is_unreachable(acs, acs_driver):  # noqa: F811
    acs.reply("POST", TASKS, status=202, reason="Device is offline", body={"_id": "65f9"})
    with pytest.raises(DeviceUnreachable) as raised:
        acs_driver.diagnose(DEVICE, "generic", timeout=2)
    assert raised.value.code == "TASK_QUEUED_AT_ACS"
    assert [r.method for r in acs.requests] == ["POST"]
