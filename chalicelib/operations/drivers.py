"""How the agent reaches devices: the driver protocol, its errors, and the choice of driver.

Two drivers implement `Driver`: the simulated CWMP/TR-069 device (`simulator.py`, the default) and
the HTTP driver for a GenieACS-style northbound API (`genieacs.py`); `get_driver()` picks one from
`settings.device_driver`. Their fault-code tables live in those modules' docstrings.

The three errors tell the agent what a retry would risk (API.md §3):

| Error               | Meaning                                                | The agent may resend          |
| ------------------- | ------------------------------------------------------ | ----------------------------- |
| `DeviceUnreachable` | the request never reached the device                   | any operation                 |
| `OutcomeUncertain`  | the device may have received it (timeout, queued)      | never reboot/factory/device_factory |
| `DeviceFault`       | the device or the ACS answered with a fault            | nothing: final                |

`code` is the device's or ACS's own fault code where there is one (CWMP "9010"), else ours
("TIMEOUT", "CONNECTION_REQUEST_FAILED", "ACS_404", ...).
"""
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from chalicelib.config import get_settings
from chalicelib.operations.models import OperationName

OPERATIONS: tuple[str, ...] = OperationName.__args__


class DriverError(Exception):
    """A driver call that did not succeed; `code` and `message` go into the operation's `error`."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DeviceUnreachable(DriverError):
    """The request never reached the device (connection request failed, ACS down): safe to retry."""


class OutcomeUncertain(DriverError):
    """The device may have received it (timeout after sending, queued at the ACS): never resend a reset."""


class DeviceFault(DriverError):
    """The device or the ACS answered with a fault: final, not retried."""


@dataclass(frozen=True)
class DeviceRef:
    """What a driver needs to know about a device."""
    id: int
    serial_number: str
    manufacturer: str | None
    product_class: str | None
    address: str | None
    # Seconds between the device's periodic informs, when known (judges "online" at an ACS).
    update_frequency: int | None = None

    @classmethod
    def from_item(cls, item: dict) -> "DeviceRef":
        """From a stored device item (chalicelib.devices.db)."""
        frequency = item.get("update_frequency")
        return cls(id=int(item["id"]), serial_number=item["serial_number"], manufacturer=item.get("manufacturer"),
                   product_class=item.get("product_class"), address=item.get("address"),
                   update_frequency=int(frequency) if frequency is not None else None)


class Driver(Protocol):
    def execute(self, device: DeviceRef, operation: str, parameters: dict, timeout: float) -> dict:
        """Carry out one operation within `timeout` seconds; returns the facts learned.

        `parameters`: {"enabled": bool} for debug; {"firmware_image", "version", "url", "checksum"}
        for firmware_update; optionally {"configuration": {path: value}} for reconf; else {}.
        Facts: {"software_version"} after firmware_update, {"configuration"} after sync (and after a
        reconf that sent values), {} otherwise.

        Raises:
            DeviceUnreachable, OutcomeUncertain, DeviceFault: see the module docstring.
            ValueError: an operation name no driver knows (a bug, not a device problem).
        """

    def probe(self, device: DeviceRef, timeout: float) -> bool:
        """Is the device online now; False when it does not answer within `timeout`.

        Raises:
            DriverError: the status could not be learned (the caller keeps the stored one).
        """

    def diagnose(self, device: DeviceRef, helper: str, timeout: float) -> dict:
        """Run the diagnostic helper `helper` (the device type's `diagnostic_helper`) within `timeout` seconds.

        Returns the figures measured, each only when the device reports it: `cpu_usage`, `memory_usage`,
        `disk_usage` (percent, 0-100) and `network_status` ("connected" or "disconnected").

        Raises:
            DeviceUnreachable: the device could not be reached (it is offline).
            OutcomeUncertain: no answer within `timeout`.
            DeviceFault: the device cannot run the helper ("NOT_SUPPORTED") or answered with a fault.
        """


def check_operation(operation: str) -> None:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")


def get_driver() -> Driver:
    """The driver the settings choose (one instance per configuration, reused across calls)."""
    settings = get_settings()
    return _build(settings.device_driver, settings.genieacs_url)


@lru_cache(maxsize=4)
def _build(kind: str, genieacs_url: str | None) -> Driver:
    # Imported here: the agent loads only the driver it uses (cold start), and simulator.py
    # imports this module.
    if kind == "genieacs":   # settings refuse genieacs without a URL
        from chalicelib.operations.genieacs import GenieAcsDriver
        return GenieAcsDriver(genieacs_url)
    from chalicelib.operations.simulator import SimulatedDriver
    return SimulatedDriver()


def reset_driver() -> None:
    """Forget the built drivers (tests)."""
    _build.cache_clear()
