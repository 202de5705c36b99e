"""The simulated CWMP/TR-069 driver (the default); its settings are set by PUT /admin/simulator/{id}/
(`simulator_settings.py`).

Deterministic: a device behaves as its stored `SimulatorBehaviour` says (one GetItem per call,
item `schema.simulator_key`), and a device without one is online with no latency and no faults.
A call plays out in this order:

1. offline → `DeviceUnreachable("CONNECTION_REQUEST_FAILED")` at once (the ACS could not wake it);
2. `latency_ms` is slept; when it exceeds the call's timeout, the call sleeps the timeout and then
   `execute` raises `OutcomeUncertain("TIMEOUT")` (the device got the request but did not answer in
   time) and `probe` returns False;
3. an operation listed in `fail` → `DeviceFault` with the CWMP fault code a real CPE would send:

| Operation         | CWMP RPC            | Fault | faultString (TR-069 Amendment 6, A.5.1)  |
| ----------------- | ------------------- | ----- | ---------------------------------------- |
| reboot            | Reboot              | 9002  | Internal error                           |
| factory           | FactoryReset        | 9001  | Request denied                           |
| device_factory    | FactoryReset        | 9001  | Request denied                           |
| sync              | GetParameterValues  | 9005  | Invalid parameter name                   |
| reconf            | SetParameterValues  | 9007  | Invalid parameter value                  |
| debug             | SetParameterValues  | 9008  | Attempt to set a non-writable parameter  |
| firmware_update   | Download            | 9010  | Download failure                         |

A firmware_update without a `version` is a 9003 (Invalid arguments) whatever the behaviour.
Otherwise: firmware_update returns {"software_version": version}; sync returns the device's
configuration (writable parameters, derived from its id and serial number, so always the same);
reconf returns the configuration it was given, if any; everything else returns {}.

`diagnose` (a diagnostic helper, API.md §4) goes through steps 1 and 2 like a probe, then measures
figures derived from the device id and the hour (the same within an hour, different across devices and
hours, always below the alert thresholds of chalicelib/diagnostics/health.py) unless the behaviour's
`diagnostics` forces some of them; `"supported": false` there makes it a DeviceFault("NOT_SUPPORTED").
"""
import hashlib
import time
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

from chalicelib import clock
from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, OutcomeUncertain
from chalicelib.drivers.protocol import DeviceRef, OperationName, check_operation
from chalicelib.store import dynamo, schema

FAULTS: dict[str, tuple[str, str]] = {
    "reboot": ("9002", "Internal error"),
    "factory": ("9001", "Request denied"),
    "device_factory": ("9001", "Request denied"),
    "sync": ("9005", "Invalid parameter name"),
    "reconf": ("9007", "Invalid parameter value"),
    "debug": ("9008", "Attempt to set a non-writable parameter"),
    "firmware_update": ("9010", "Download failure"),
}
MAX_LATENCY_MS = 60_000


Percent = Annotated[float, Field(ge=0, le=100)]


class SimulatedDiagnostics(BaseModel):
    """Figures a diagnostic helper measures on the simulated device instead of the derived ones."""
    model_config = ConfigDict(extra="forbid")

    cpu_usage: Percent | None = None
    memory_usage: Percent | None = None
    disk_usage: Percent | None = None
    network_status: Literal["connected", "disconnected"] | None = None
    supported: bool = True

    def forced(self) -> dict:
        return self.model_dump(exclude={"supported"}, exclude_none=True)


class SimulatorBehaviour(BaseModel):
    """How one simulated device behaves; a PUT replaces it whole (omitted fields take the defaults)."""
    model_config = ConfigDict(extra="forbid")

    online: bool = True
    latency_ms: int = Field(default=0, ge=0, le=MAX_LATENCY_MS)
    fail: list[OperationName] = Field(default_factory=list)
    diagnostics: SimulatedDiagnostics | None = None

    @field_validator("fail")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @model_serializer(mode="wrap")
    def _diagnostics_only_when_set(self, handler):
        # Most devices never force figures: their behaviour reads as it did before the field existed.
        data = handler(self)
        if data.get("diagnostics") is None:
            data.pop("diagnostics", None)
        return data


class SimulatedDriver:
    """The simulated CWMP device; see the module docstring for how a call plays out."""

    def execute(self, device: DeviceRef, operation: str, parameters: dict, timeout: float, *,
                operation_id: int | None = None, deadline: datetime | None = None) -> dict:
        check_operation(operation)
        behaviour = _reach(device, timeout)
        if operation == "firmware_update" and not parameters.get("version"):
            raise DeviceFault("9003", "Invalid arguments: a firmware download needs a version.")
        if operation in behaviour.fail:
            code, message = FAULTS[operation]
            raise DeviceFault(code, message)
        if operation == "firmware_update":
            return {"software_version": parameters["version"]}
        if operation == "sync":
            return {"configuration": configuration(device)}
        if operation == "reconf" and parameters.get("configuration"):
            return {"configuration": dict(parameters["configuration"])}
        return {}

    def settle(self, device: DeviceRef, operation: str, parameters: dict, pending: dict, timeout: float, *,
               final: bool = False) -> dict:
        # The simulated device answers at once or not at all: it never leaves anything to look at again.
        raise OutcomeUncertain("NOTHING_PENDING", "The simulated driver keeps nothing to settle.")

    def probe(self, device: DeviceRef, timeout: float) -> bool:
        behaviour = read_behaviour(device.id)
        return behaviour.online and _answer_within(behaviour.latency_ms, timeout)

    def diagnose(self, device: DeviceRef, helper: str, timeout: float) -> dict:
        forced = _reach(device, timeout).diagnostics or SimulatedDiagnostics()
        if not forced.supported:
            raise DeviceFault("NOT_SUPPORTED", f"Device {device.serial_number} cannot run the {helper} helper.")
        return measured(device) | forced.forced()


def _reach(device: DeviceRef, timeout: float) -> SimulatorBehaviour:
    """Steps 1 and 2 of a call: the device's behaviour, once it has answered within the timeout."""
    behaviour = read_behaviour(device.id)
    if not behaviour.online:
        raise DeviceUnreachable("CONNECTION_REQUEST_FAILED",
                                f"Device {device.serial_number} did not answer the connection request.")
    if not _answer_within(behaviour.latency_ms, timeout):
        raise OutcomeUncertain("TIMEOUT", f"No answer from device {device.serial_number} within {timeout:g} s.")
    return behaviour


def measured(device: DeviceRef) -> dict:
    """Figures of a healthy device: the same within an hour, varied across devices and hours."""
    hour = clock.iso(clock.now())[:13]
    digest = hashlib.sha256(f"{device.id}:{hour}".encode()).digest()

    def figure(lowest: int, spread: int, at: int) -> float:
        return round(lowest + int.from_bytes(digest[at:at + 2]) % (spread * 10) / 10, 1)
    return {"cpu_usage": figure(5, 55, 0), "memory_usage": figure(20, 50, 2), "disk_usage": figure(10, 60, 4),
            "network_status": "connected"}


def _answer_within(latency_ms: int, timeout: float) -> bool:
    """Sleep the device's latency, or only the timeout when the latency exceeds it (then False)."""
    latency = latency_ms / 1000
    time.sleep(min(latency, timeout))
    return latency <= timeout


def configuration(device: DeviceRef) -> dict:
    """The simulated device's writable parameters: the same for the same device, every time."""
    digest = hashlib.sha256(f"{device.id}:{device.serial_number}".encode()).hexdigest()
    return {
        "Device.ManagementServer.PeriodicInformInterval": 300,
        "Device.Time.NTPServer1": "pool.ntp.org",
        "Device.WiFi.Radio.1.Channel": 1 + int(digest[:2], 16) % 11,
        "Device.WiFi.SSID.1.SSID": f"fleet-{digest[:6]}",
        "Device.WiFi.AccessPoint.1.Security.ModeEnabled": "WPA2-Personal",
    }


def read_behaviour(device_id: int) -> SimulatorBehaviour:
    """The stored behaviour, or the defaults (one consistent GetItem: a PUT applies to the next call)."""
    item = dynamo.get(schema.simulator_key(device_id), consistent=True)
    if item is None:
        return SimulatorBehaviour()
    stored = dynamo.plain({name: item[name] for name in SimulatorBehaviour.model_fields if name in item})
    return SimulatorBehaviour.model_validate(stored)
