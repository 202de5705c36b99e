"""The driver protocol: what a driver is given (`DeviceRef`) and what it must do (`Driver`).

Two drivers implement `Driver`: the simulated CWMP/TR-069 device (`simulator.py`, the default) and
the HTTP driver for GenieACS's northbound API (`genieacs.py`); `chalicelib.drivers.get_driver()` picks
one from `settings.device_driver`. Their fault-code tables live in those modules' docstrings; the
errors they raise, in `errors.py`.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

# What a driver can carry out (API.md §3); operations.models takes the names from here.
OperationName = Literal["reboot", "factory", "device_factory", "sync", "reconf", "debug", "firmware_update"]
OPERATIONS: tuple[str, ...] = OperationName.__args__


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
    def execute(self, device: DeviceRef, operation: str, parameters: dict, timeout: float, *,
                operation_id: int | None = None, deadline: datetime | None = None) -> dict:
        """Carry out one operation within `timeout` seconds; returns the facts learned.

        `parameters`: {"enabled": bool} for debug; {"firmware_image", "version", "url", "checksum"}
        for firmware_update; optionally {"configuration": {path: value}} for reconf; else {}.
        `operation_id` names the operation at the device's manager (one task per operation, so that a
        retry replaces rather than adds); after `deadline` nothing sent now may still run.
        Facts: {"software_version"} after firmware_update, {"configuration"} after sync (and after a
        reconf that sent values), {} otherwise.

        Raises:
            DeviceUnreachable, OutcomeUncertain, AwaitingConfirmation, DeviceFault: see errors.py. An
                OutcomeUncertain with `pending` is looked at again with `settle`.
            ValueError: an operation name no driver knows (a bug, not a device problem).
        """

    def settle(self, device: DeviceRef, operation: str, parameters: dict, pending: dict, timeout: float, *,
               final: bool = False) -> dict:
        """Learn what became of an operation `execute` (or an earlier `settle`) left uncertain with `pending`.

        Returns the facts, as `execute` does, once the operation ran (or, for a firmware update, once its
        result is confirmed). `final`: the operation's deadline has passed or this is the last look: withdraw
        what can still be withdrawn, and leave nothing at the device's manager that would run or retry later.

        Raises:
            DeviceUnreachable: it never ran (withdrawn before it reached the device): may be sent again.
            DeviceFault: it ran and failed, or its result is a failure.
            OutcomeUncertain: still unknown; with `pending` (possibly updated), look again later.
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

