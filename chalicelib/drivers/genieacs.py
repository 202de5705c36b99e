"""The HTTP driver for GenieACS's northbound API (NBI) at `settings.genieacs_url`.

docs/operations.md ("GenieACS: the behaviours we rely on") gives the sources of each rule below.

A device is found by what it reports (`_deviceId._SerialNumber`, narrowed by `_ProductClass` when two
match); its id, OUI and data-model root come from the ACS. An operation is one task, posted with a
connection request (`POST /devices/<id>/tasks?connection_request&timeout=<ms>`); see genieacs_tasks.py for
each operation's task. Every task carries `uniqueKey` "fleetline-<operation>-<operation id>" (a retry
replaces the stored task instead of adding one) and `expiry`, the seconds left to the operation's deadline
(a task still stored then is dropped at the device's next session instead of running late).

| The POST's answer                      | What the driver does                      | Outcome                        |
| -------------------------------------- | ----------------------------------------- | ------------------------------ |
| 200 (the session ended, no fault)      | reads back what the task changed          | facts; a parameter GenieACS    |
|                                        |                                           | skipped is PARAMETER_NOT_FOUND |
| 202, a timeout, a dropped connection,  | settles the task (below)                  | as settled                     |
| a 5xx other than 503 (1.2.x's 500)     |                                           |                                |
| 429, 503, ACS unreachable              | nothing was stored                        | DeviceUnreachable              |
| another 3xx/4xx (404 No such device)   |                                           | DeviceFault ACS_<status>       |

Settling looks up the task (by its id, else by device and uniqueKey) and its fault `<device>:task_<id>`:

| What the ACS shows                                   | Outcome                                              |
| ---------------------------------------------------- | ---------------------------------------------------- |
| the task and a fault; DELETE /tasks/<id> answers 200 | DeviceFault with the fault's code ("9002", ...):     |
|                                                      | deleting the task deletes its fault, so no retry     |
| the task, no fault; DELETE answers 200               | DeviceUnreachable ACS_TASK_WITHDRAWN: it never ran   |
| the task, no fault, an NBI without the session lock  | OutcomeUncertain ACS_TASK_QUEUED, pending: deleted   |
| (GenieACS-Version below 1.2.10), before the deadline | only at the deadline (`final`)                       |
| the task; DELETE answers 503 or nothing clear        | OutcomeUncertain ACS_SESSION_IN_PROGRESS, pending    |
| no task, and the device informed after it was stored | it ran: as for a 200                                 |
| no task, and no session since                        | DeviceUnreachable ACS_TASK_NOT_RUN                   |
| no task, id unknown, posted < INSERT_WINDOW ago      | OutcomeUncertain ACS_TASK_NOT_YET_STORED, pending    |
| no answer to a lookup (the ACS or a proxy failing)   | OutcomeUncertain with the ACS's code, pending        |

A firmware download ends its task when the device accepts the Download; its result comes later. So a
download that ran is AwaitingConfirmation (pending), confirmed by `settle`: a fault `<device>:task_<id>`
(a failed TransferComplete, or GenieACS's own "timeout") is deleted, which ends GenieACS's retry of it,
and reported as DeviceFault; the device reporting the image's version is success. Before posting, the
image must be on the ACS's file server (`GET /files/`), and a device already at that version is done.
"""
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.drivers import genieacs_tasks as tasks
from chalicelib.drivers.errors import AwaitingConfirmation, DeviceFault, DeviceUnreachable, OutcomeUncertain
from chalicelib.drivers.genieacs_nbi import Budget, Nbi, fault_of, status_error
from chalicelib.drivers.protocol import DeviceRef, check_operation

DEFAULT_ONLINE_WINDOW = timedelta(minutes=5)
# master's POST waits up to 30 s for the device's session lock before it stores the task: until then a
# task not found may still be stored (and run).
INSERT_WINDOW = timedelta(seconds=35)
# When the task's own timestamp is unknown, our clock and the ACS's are compared: within this margin a
# session cannot be placed before or after the posting.
CLOCK_SKEW = timedelta(seconds=60)
# Of a call's budget: held back for settling what the POST left uncertain (a lookup, a fault, a delete).
SETTLE_RESERVE_SECONDS = 3.0


class NeverRan(DeviceUnreachable):
    """The task left the ACS without running (withdrawn, or never stored): it may be sent again. Any other
    DeviceUnreachable after posting (the ACS not answering a lookup) tells nothing of the task."""


@dataclass(frozen=True)
class Handle:
    """What `settle` needs to find a task again; stored by the caller as a dict of strings."""
    acs_id: str
    unique_key: str
    posted: str                   # our clock, when the POST was sent
    phase: str = "queued"         # "queued": the task may still run; "accepted": a download awaiting its result
    task_id: str | None = None
    task_time: str | None = None  # the ACS's clock: the task's timestamp

    def pending(self) -> dict:
        return {name: value for name, value in asdict(self).items() if value is not None}

    def with_task(self, task) -> "Handle":
        if not isinstance(task, dict) or not isinstance(task.get("_id"), str):
            return self
        stamp = task.get("timestamp")
        return replace(self, task_id=task["_id"], task_time=stamp if isinstance(stamp, str) else self.task_time)


class GenieAcsDriver:
    def __init__(self, base_url: str):
        self.nbi = Nbi(base_url)
        self.base_url = self.nbi.base_url

    # --- operations -------------------------------------------------------------------------------

    def execute(self, device: DeviceRef, operation: str, parameters: dict, timeout: float, *,
                operation_id: int | None = None, deadline: datetime | None = None) -> dict:
        check_operation(operation)
        budget = Budget(timeout)
        found = self._find(device, budget.left())
        task = tasks.task_for(operation, parameters, found.root)
        if operation == "firmware_update":
            if parameters.get("version") and found.software_version == parameters["version"]:
                return {"software_version": found.software_version}   # already there: nothing to install
            self._require_file(task["fileName"], budget)
        task |= {"uniqueKey": tasks.unique_key(operation, operation_id),
                 "expiry": tasks.expiry_seconds(deadline, fallback=timeout)}
        handle = Handle(acs_id=found.id, unique_key=task["uniqueKey"], posted=clock.iso(clock.now()))
        reply = self._post(handle, task, budget)
        handle = handle.with_task(reply.json() if reply else None)
        with _unknown_unless_answered(handle):
            if reply is not None and reply.status == 200:
                return self._after_run(operation, parameters, task, handle, budget)
            return self._settle(operation, parameters, task, handle, budget, final=False)

    def settle(self, device: DeviceRef, operation: str, parameters: dict, pending: dict, timeout: float, *,
               final: bool = False) -> dict:
        check_operation(operation)
        try:
            handle = Handle(**pending)
        except TypeError:
            raise OutcomeUncertain("UNKNOWN_HANDLE", "Nothing the driver can look up was stored.") from None
        budget = Budget(timeout)
        with _unknown_unless_answered(handle):
            if handle.phase == "accepted":
                return self._confirm_download(parameters, handle, budget, final)
            task = tasks.task_for(operation, parameters, tasks.ROOTS[0])   # the shape only (what to read back)
            return self._settle(operation, parameters, task, handle, budget, final=final)

    def _post(self, handle: Handle, task: dict, budget: Budget):
        """The POST's reply when it means "ran" (200) or "look at the task" (202, 5xx); None when no answer came.

        Raises: DeviceUnreachable (nothing stored), DeviceFault (refused: a 3xx/4xx).
        """
        wait = budget.left(keep=min(SETTLE_RESERVE_SECONDS, 0.4 * budget.seconds))
        try:
            # The ACS may wait half of our wait for the session to start; the other half is the session's.
            reply = self.nbi.post_task(handle.acs_id, task, wait_ms=int(wait * 500), timeout=wait)
        except OutcomeUncertain:
            return None
        if reply.status in (200, 202):
            return reply
        error = status_error(reply, sent_task=True)
        if isinstance(error, OutcomeUncertain):
            return reply
        raise error

    def _settle(self, operation: str, parameters: dict, task: dict, handle: Handle, budget: Budget,
                final: bool) -> dict:
        """What became of a posted task; see the module docstring's second table."""
        stored = self._find_task(handle, budget)
        if stored is not None:
            handle = handle.with_task(stored)
            fault = self._fault(f"{handle.acs_id}:task_{handle.task_id}", budget)
            if fault is None and not final and not self.nbi.locks_sessions():
                # Without the session lock a DELETE cannot tell "withdrawn" from "deleted while running": leave
                # the task (its expiry stops it at the deadline) and look again.
                raise OutcomeUncertain("ACS_TASK_QUEUED", "The task waits at the ACS for the device's next session.",
                                       pending=handle.pending())
            outcome = self.nbi.delete(self.nbi.task_path(handle.task_id), budget.left())
            if outcome == "unknown":
                raise OutcomeUncertain("ACS_SESSION_IN_PROGRESS", "The task is still at the ACS and could not be "
                                       "withdrawn (the device is in session): it may be running now.",
                                       pending=handle.pending())
            if outcome == "deleted":
                if fault is not None:
                    raise DeviceFault(*fault_of(fault))
                raise NeverRan("ACS_TASK_WITHDRAWN", "The device did not take the task in time; it was withdrawn "
                               "from the ACS before it ran.")
        elif handle.task_id is None and not final and clock.now() - clock.parse_iso(handle.posted) < INSERT_WINDOW:
            raise OutcomeUncertain("ACS_TASK_NOT_YET_STORED", "The ACS has not stored the task yet; it may still "
                                   "store and run it.", pending=handle.pending())
        if not self._informed_since(handle, budget):
            raise NeverRan("ACS_TASK_NOT_RUN", "The task is not at the ACS and the device has had no session since "
                           "it was posted: it never ran.")
        return self._after_run(operation, parameters, task, handle, budget)

    def _informed_since(self, handle: Handle, budget: Budget) -> bool:
        """Whether the device had a session after the task was stored (the task ran in it, or it faulted and
        would still be stored). Raises OutcomeUncertain when the clocks cannot tell."""
        found = self._document(handle.acs_id, budget, "_lastInform")
        inform = tasks.parse_time(found.get("_lastInform"))
        if handle.task_time is not None:
            # GenieACS runs a task in a session that started after the task's timestamp (db.ts getDueTasks).
            return inform is not None and inform > clock.parse_iso(handle.task_time)
        posted = clock.parse_iso(handle.posted)
        if inform is None or inform < posted - CLOCK_SKEW:
            return False
        if inform > posted + CLOCK_SKEW:
            return True
        raise OutcomeUncertain("ACS_CLOCK_UNCLEAR", "The device's last session is too close to the posting to tell "
                               "whether the task ran in it.", pending=handle.pending())

    def _after_run(self, operation: str, parameters: dict, task: dict, handle: Handle, budget: Budget) -> dict:
        """The facts of a task that ran; what GenieACS does not prove by ending the task is checked here."""
        if operation == "firmware_update":
            raise AwaitingConfirmation("FIRMWARE_ACCEPTED", "The device accepted the download; its result comes "
                                       "later.", pending=replace(handle, phase="accepted").pending())
        if operation == "sync":
            found = self._document(handle.acs_id, budget, *tasks.ROOTS)
            root = next((name for name in tasks.ROOTS if isinstance(found.get(name), dict)), None)
            return {"configuration": tasks.writable_values(found[root], f"{root}.") if root else {}}
        if task.get("name") == "setParameterValues":
            values = {path: value for path, value, *_ in task["parameterValues"]}
            self._check_applied(handle.acs_id, values, budget)
            return {"configuration": values} if operation == "reconf" else {}
        return {}

    def _check_applied(self, acs_id: str, values: dict, budget: Budget) -> None:
        """A parameter the device lacks is skipped without a fault (GenieACS 1.2.10+): read the values back."""
        found = self._document(acs_id, budget, *values)
        missing = [path for path in values if not tasks.has_parameter(found, path)]
        if missing:
            raise DeviceFault("PARAMETER_NOT_FOUND", f"The device has no {', '.join(missing)}; nothing was set.")
        different = [path for path, value in values.items() if not tasks.same_value(tasks.value_at(found, path), value)]
        if different:
            raise DeviceFault("VALUE_NOT_APPLIED", f"The device reports other values for {', '.join(different)}.")

    def _confirm_download(self, parameters: dict, handle: Handle, budget: Budget, final: bool) -> dict:
        fault_id = f"{handle.acs_id}:task_{handle.task_id}"
        fault = self._fault(fault_id, budget)
        if fault is not None:
            # Deleting the fault is what stops GenieACS re-sending the Download every 300 s x 2^n.
            if self.nbi.delete(self.nbi.fault_path(fault_id), budget.left()) == "unknown":
                raise AwaitingConfirmation("ACS_SESSION_IN_PROGRESS", "The download failed and its fault could not "
                                           "be cleared yet (the device is in session).", pending=handle.pending())
            raise DeviceFault(*fault_of(fault))
        version = tasks.AcsDevice.from_document(self._document(handle.acs_id, budget)).software_version
        if version is not None and version == parameters.get("version"):
            return {"software_version": version}
        message = f"The device reports software version {version!r}, not {parameters.get('version')!r}"
        if final:
            raise OutcomeUncertain("FIRMWARE_NOT_CONFIRMED", f"{message}, and no failure was reported.")
        raise AwaitingConfirmation("FIRMWARE_NOT_YET_CONFIRMED", f"{message} yet.", pending=handle.pending())

    # --- reads ------------------------------------------------------------------------------------

    def probe(self, device: DeviceRef, timeout: float) -> bool:
        found = self._find(device, timeout, unknown_is_offline=True)
        if found is None or found.last_inform is None:
            return False
        window = timedelta(seconds=2 * device.update_frequency) if device.update_frequency else DEFAULT_ONLINE_WINDOW
        return clock.now() - found.last_inform <= window

    def diagnose(self, device: DeviceRef, helper: str, timeout: float) -> dict:
        budget = Budget(timeout)
        found = self._find(device, budget.left())
        # A read: refresh DeviceInfo (CPU, memory), withdrawn at once when it did not run in time.
        task = {"name": "refreshObject", "objectName": tasks.check_path(f"{found.root}.DeviceInfo"),
                "uniqueKey": tasks.unique_key("diagnose", None), "expiry": tasks.expiry_seconds(None, timeout)}
        handle = Handle(acs_id=found.id, unique_key=task["uniqueKey"], posted=clock.iso(clock.now()))
        reply = self._post(handle, task, budget)
        if reply is None or reply.status != 200:
            handle = handle.with_task(reply.json() if reply else None)
            with _unknown_unless_answered(handle):
                self._settle("diagnose", {}, task, handle, budget, final=True)
        paths = [f"{found.root}.{path}" for path in tasks.DIAGNOSTIC_PARAMETERS]
        figures = tasks.diagnostic_figures(self._document(found.id, budget, *paths), found.root)
        if not figures:
            raise DeviceFault("NOT_SUPPORTED", f"The device reports none of {', '.join(paths)}.")
        return figures

    def _find(self, device: DeviceRef, timeout: float, unknown_is_offline: bool = False) -> tasks.AcsDevice | None:
        """The device as the ACS knows it, found by the serial number it reports.

        Raises:
            DeviceUnreachable: ACS_DEVICE_UNKNOWN (it never informed this ACS), or the ACS could not answer.
            DeviceFault: ACS_DEVICE_AMBIGUOUS (several devices report that serial number).
        """
        found = self.nbi.query("devices", {"_deviceId._SerialNumber": device.serial_number}, timeout,
                               tasks.device_projection())
        if len(found) > 1 and device.product_class:
            found = [d for d in found if (d.get("_deviceId") or {}).get("_ProductClass") == device.product_class]
        if len(found) > 1:
            raise DeviceFault("ACS_DEVICE_AMBIGUOUS", f"{len(found)} devices at the ACS report serial number "
                              f"{device.serial_number}.")
        if not found:
            if unknown_is_offline:
                return None
            raise DeviceUnreachable("ACS_DEVICE_UNKNOWN", f"No device with serial number {device.serial_number} "
                                    "has informed the ACS.")
        return tasks.AcsDevice.from_document(found[0])

    def _document(self, acs_id: str, budget: Budget, *paths: str) -> dict:
        found = self.nbi.query("devices", {"_id": acs_id}, budget.left(), tasks.device_projection(*paths))
        if not found:
            raise DeviceFault("ACS_404", "The ACS no longer knows the device.")
        return found[0]

    def _find_task(self, handle: Handle, budget: Budget) -> dict | None:
        query = {"_id": handle.task_id} if handle.task_id else {"device": handle.acs_id,
                                                                "uniqueKey": handle.unique_key}
        found = self.nbi.query("tasks", query, budget.left())
        return found[0] if found else None

    def _fault(self, fault_id: str, budget: Budget) -> dict | None:
        found = self.nbi.query("faults", {"_id": fault_id}, budget.left())
        return found[0] if found else None

    def _require_file(self, name: str, budget: Budget) -> None:
        if not self.nbi.query("files", {"_id": name}, budget.left(), "_id"):
            raise DeviceFault("ACS_FILE_NOT_FOUND", f"The ACS's file server has no {name}; nothing was sent.")


@contextmanager
def _unknown_unless_answered(handle: Handle):
    """After posting, an ACS that cannot answer a lookup leaves the task's fate unknown: never "never ran"."""
    try:
        yield
    except NeverRan:
        raise
    except DeviceUnreachable as error:
        raise OutcomeUncertain(error.code, f"{error.message} Whether the task ran is not known yet.",
                               pending=handle.pending()) from error
