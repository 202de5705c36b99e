"""What a driver call that did not succeed tells its caller: what a retry would risk (API.md §3).

| Error                  | Meaning                                                   | The agent may resend      |
| ---------------------- | --------------------------------------------------------- | ------------------------- |
| `DeviceUnreachable`    | the request never reached the device, or was withdrawn    | any operation             |
|                        | at the ACS before it ran                                  |                           |
| `OutcomeUncertain`     | the device may have received it (timeout, still queued,   | nothing that must not run |
|                        | session in progress)                                      | twice (resets, firmware)  |
| `AwaitingConfirmation` | the device accepted it; the result comes later (firmware) | nothing                   |
| `DeviceFault`          | the device or the ACS answered with a fault               | nothing: final            |

An `OutcomeUncertain` (or `AwaitingConfirmation`) may carry `pending`: a small handle (a dict of strings)
that the caller stores and hands back to `Driver.settle` later, to learn what became of the operation
(docs/operations.md, "Settling"). Without `pending`, nothing more can be learned.

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
    """The device may have received it (timeout after sending, queued at the ACS): never resend a reset.

    `pending`: the handle `Driver.settle` takes to look again, or None when nothing more can be learned.
    """

    def __init__(self, code: str, message: str, pending: dict | None = None):
        super().__init__(code, message)
        self.pending = pending


class AwaitingConfirmation(OutcomeUncertain):
    """The device accepted the operation and reports its result later (a firmware download's
    TransferComplete): not a failure, not yet a success; settle it with `pending`."""


class DeviceFault(DriverError):
    """The device or the ACS answered with a fault: final, not retried."""
