"""Item 4 of issue 15: devices found by what they report, and task targets GenieACS's path rules accept."""
import json
from urllib.parse import unquote

import pytest

from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable
from chalicelib.drivers.protocol import DeviceRef
from tests.drivers.conftest import OUR_MANUFACTURER
from tests.fakes.genieacs import Cpe


def test_a_device_is_found_by_the_serial_number_it_reports_and_addressed_by_the_acs_own_id(acs):
    device, acs_id = acs.device("SN-0001", oui="00D09E", product_class="HG 8245")

    assert acs.driver.execute(device, "reboot", {}, timeout=2) == {}

    lookup, post = acs.nbi.requests[0], acs.posted()[0]
    assert json.loads(lookup.query["query"][0]) == {"_deviceId._SerialNumber": "SN-0001"}
    # The id comes from the ACS (OUI and product class as the device reported them), escaped as GenieACS does.
    assert acs_id == "00D09E-HG%208245-SN%2D0001"
    assert unquote(post.path.split("/")[2]) == acs_id
    assert OUR_MANUFACTURER.split()[0] not in post.path
    assert acs.rpcs("Reboot") == 1


def test_two_devices_reporting_one_serial_number_are_told_apart_by_product_class(acs):
    acs.model.add_device(Cpe(serial="DUP-1", oui="001B44", product_class="RT5500"))
    wanted = acs.model.add_device(Cpe(serial="DUP-1", oui="A0B1C2", product_class="LTE1"))
    device = DeviceRef(id=1, serial_number="DUP-1", manufacturer=None, product_class="LTE1", address=None)

    acs.driver.execute(device, "reboot", {}, timeout=2)

    assert unquote(acs.posted()[0].path.split("/")[2]) == wanted


def test_a_serial_number_two_devices_report_without_a_product_class_to_tell_them_apart_sends_nothing(acs):
    acs.model.add_device(Cpe(serial="DUP-2", oui="001B44"))
    acs.model.add_device(Cpe(serial="DUP-2", oui="A0B1C2"))
    device = DeviceRef(id=1, serial_number="DUP-2", manufacturer=None, product_class=None, address=None)
    with pytest.raises(DeviceFault) as raised:
        acs.driver.execute(device, "factory", {}, timeout=2)
    assert raised.value.code == "ACS_DEVICE_AMBIGUOUS"
    assert acs.posted() == []


def test_a_device_that_never_informed_the_acs_is_unreachable_and_nothing_is_sent(acs):
    device = DeviceRef(id=1, serial_number="NEW-1", manufacturer=None, product_class=None, address=None)
    with pytest.raises(DeviceUnreachable) as raised:
        acs.driver.execute(device, "reboot", {}, timeout=2)
    assert raised.value.code == "ACS_DEVICE_UNKNOWN"
    assert acs.posted() == []


@pytest.mark.parametrize("root", ["Device", "InternetGatewayDevice"])
def test_sync_refreshes_the_data_model_root_the_device_reports_and_reads_its_writable_values(any_acs, root):
    device, acs_id = any_acs.device(root=root)

    facts = any_acs.driver.execute(device, "sync", {}, timeout=2, operation_id=3)

    assert any_acs.posted()[0].body["objectName"] == root   # no trailing dot, never "" (master refuses it)
    assert facts == {"configuration": {f"{root}.ManagementServer.PeriodicInformInterval": 300,
                                       f"{root}.Time.NTPServer1": "pool.ntp.org"}}
    assert any_acs.model.faults == {} and any_acs.model.tasks == []


def test_a_path_genieacs_would_refuse_is_never_sent(acs):
    device, _ = acs.device()
    for path in ("Device.Time.", "Device..NTPServer1", "Device.Time.*", " Device.Time.NTPServer1", ""):
        with pytest.raises(DeviceFault) as raised:
            acs.driver.execute(device, "reconf", {"configuration": {path: "ntp.example"}}, timeout=2)
        assert raised.value.code == "INVALID_PARAMETER_PATH"
    assert acs.posted() == []


def test_reconf_sets_the_values_and_checks_the_device_took_them(acs):
    device, acs_id = acs.device()
    values = {"Device.Time.NTPServer1": "ntp.example", "Device.ManagementServer.PeriodicInformInterval": 600}

    assert acs.driver.execute(device, "reconf", {"configuration": values}, timeout=2) == {"configuration": values}

    cpe = acs.model.cpes[acs_id]
    assert cpe.parameters["Device.Time.NTPServer1"][0] == "ntp.example"
    assert cpe.parameters["Device.ManagementServer.PeriodicInformInterval"][0] == 600


def test_a_value_for_a_parameter_the_device_lacks_is_a_fault_though_genieacs_answers_200(acs):
    # 1.2.10+ skips such a parameter without a fault: the 200 alone would pass for success.
    device, _ = acs.device()
    with pytest.raises(DeviceFault) as raised:
        acs.driver.execute(device, "debug", {"enabled": True}, timeout=2)
    assert raised.value.code == "PARAMETER_NOT_FOUND"
    assert "VirtualParameters.FleetlineDebug" in raised.value.message


def test_debug_sets_the_virtual_parameter_when_the_acs_defines_it(acs):
    device, acs_id = acs.device(parameters={"VirtualParameters.FleetlineDebug": [False, "xsd:boolean", True]})
    assert acs.driver.execute(device, "debug", {"enabled": True}, timeout=2) == {}
    assert acs.model.cpes[acs_id].parameters["VirtualParameters.FleetlineDebug"][0] is True


def test_reconf_without_values_answers_after_the_session_in_which_the_presets_ran(acs):
    # A bare connection request answers 200 before the session; a read task's 200 comes after it ended.
    device, _ = acs.device()
    assert acs.driver.execute(device, "reconf", {}, timeout=2) == {}
    assert acs.posted()[0].body["name"] == "getParameterValues"
    assert acs.posted()[0].body["parameterNames"] == ["Device.DeviceInfo.SoftwareVersion"]
    assert acs.rpcs("GetParameterValues") == 1
