"""What a driver call that did not succeed tells its caller: what a retry would risk (API.md §3).

| Error               | Meaning                                                | The agent may resend          |
| ------------------- | ------------------------------------------------------ | ----------------------------- |
| `DeviceUnreachable` | the request never reached the device                   | any operation                 |
| `OutcomeUncertain`  | the device may have received it (timeout, queued)      | never reboot/factory/device_factory |
| `DeviceFault`       | the device or the ACS answered with a fault            | nothing: final                |

`code` is the device's or ACS's own fault code where there is one (CWMP "9010"), else ours
("TIMEOUT", "CONNECTION_REQUEST_FAILED", "ACS_404", ...).
"""


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
