"""The GenieACS driver's reads: live status (probe) and the diagnostic helper (diagnose)."""
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.drivers import genieacs_tasks as tasks
from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable
from chalicelib.drivers.genieacs import GenieAcsDriver
from chalicelib.drivers.protocol import DeviceRef
from tests.drivers.test_genieacs_transport import closed_port


@pytest.mark.parametrize("update_frequency, ago, online", [
    (None, timedelta(seconds=30), True),
    (None, timedelta(minutes=6), False),            # 5 minutes when the inform interval is unknown
    (600, timedelta(minutes=19), True),             # within twice the device's update_frequency
    (600, timedelta(minutes=21), False),
])
def test_probe_judges_the_last_inform_of_the_device_found_by_its_serial_number(acs, update_frequency, ago, online):
    device, acs_id = acs.device()
    acs.model.last_inform[acs_id] = clock.now() - ago
    device = DeviceRef(id=7, serial_number=device.serial_number, manufacturer="Acme", product_class=None,
                       address=None, update_frequency=update_frequency)
    assert acs.driver.probe(device, timeout=2) is online
    assert [r.method for r in acs.nbi.requests] == ["GET"]


def test_probe_of_a_device_the_acs_does_not_know_is_offline(acs):
    unknown = DeviceRef(id=1, serial_number="NEVER-SEEN", manufacturer=None, product_class=None, address=None)
    assert acs.driver.probe(unknown, timeout=2) is False


def test_probe_when_the_acs_cannot_answer_raises_rather_than_guessing():
    driver = GenieAcsDriver(f"http://127.0.0.1:{closed_port()}")
    device = DeviceRef(id=1, serial_number="X", manufacturer=None, product_class=None, address=None)
    with pytest.raises(DeviceUnreachable) as raised:
        driver.probe(device, timeout=2)
    assert raised.value.code == "ACS_UNREACHABLE"


FIGURES = {tasks.CPU_USAGE: [37, "xsd:unsignedInt", False], tasks.MEMORY_TOTAL: [262144, "xsd:unsignedInt", False],
           tasks.MEMORY_FREE: ["65536", "xsd:string", False], tasks.DISK_CAPACITY: [1000, "xsd:unsignedInt", False],
           tasks.DISK_USED: [925, "xsd:unsignedInt", False], tasks.LINK_STATUS: ["Up", "xsd:string", False]}


def test_diagnose_refreshes_device_info_as_genieacs_parses_paths_then_reads_the_figures(any_acs):
    device, acs_id = any_acs.device(parameters={f"Device.{path}": value for path, value in FIGURES.items()})

    figures = any_acs.driver.diagnose(device, "generic", timeout=2)

    assert figures == {"cpu_usage": 37.0, "memory_usage": 75.0, "disk_usage": 92.5, "network_status": "connected"}
    task = any_acs.posted()[0].body
    assert (task["name"], task["objectName"]) == ("refreshObject", "Device.DeviceInfo")   # no trailing dot
    assert any_acs.model.faults == {} and any_acs.model.tasks == []
    assert any_acs.rpcs("GetParameterValues") == 1


def test_only_the_figures_the_device_reports_are_returned(acs):
    device, _ = acs.device(parameters={f"Device.{tasks.CPU_USAGE}": ["12", "xsd:string", False],
                                       f"Device.{tasks.LINK_STATUS}": ["Down", "xsd:string", False],
                                       f"Device.{tasks.MEMORY_FREE}": [10, "xsd:unsignedInt", False]})
    assert acs.driver.diagnose(device, "generic", timeout=2) == {"cpu_usage": 12.0, "network_status": "disconnected"}


def test_a_device_reporting_none_of_the_figures_cannot_run_the_helper(acs):
    device, _ = acs.device()
    with pytest.raises(DeviceFault) as raised:
        acs.driver.diagnose(device, "generic", timeout=2)
    assert raised.value.code == "NOT_SUPPORTED"


def test_a_refresh_the_device_could_not_take_is_withdrawn_and_the_device_is_unreachable(acs):
    device, _ = acs.device(online=False)
    with pytest.raises(DeviceUnreachable) as raised:
        acs.driver.diagnose(device, "generic", timeout=2)
    assert raised.value.code == "ACS_TASK_WITHDRAWN"
    assert acs.model.tasks == []
