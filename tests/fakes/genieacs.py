"""A GenieACS that behaves like GenieACS, for the driver's tests: this module models its database (devices,
tasks, faults, files, download operations) and the CWMP sessions its devices open; genieacs_nbi.py serves
its northbound API on 127.0.0.1.

Every behaviour names what it reproduces in genieacs/genieacs (file, release). Two NBI releases:
"master" (lib/nbi.ts with lib/lock.ts, as 1.2.10 introduced the lock: a POST waits for the device's session
lock before storing its task, DELETE answers 503 while the device is in session, an error nobody caught
drops the connection, lib/server.ts) and "1.2.9" (lib/nbi.ts before the lock: no 503, such errors answer
500 `<name>: <message>`). Time is the test's clock plus `offset` (`advance`), so retries and expiry can be
reached without waiting; a session's own length (`Cpe.session_seconds`) is real time, holding the lock.
"""
import itertools
import json
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib import clock

# lib/config.ts defaults: a faulted channel is retried 300 s x 2^retries after its fault (lib/cwmp.ts
# applyPresets); a download without TransferComplete faults "timeout" after 3600 s (lib/session.ts).
RETRY_DELAY_SECONDS = 300
DOWNLOAD_TIMEOUT_SECONDS = 3600
_ESCAPED = re.compile(r"[^A-Za-z0-9_]")
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")


class Dropped(Exception):
    """An error GenieACS's NBI does not catch (master: the connection is dropped; 1.2.9: a 500)."""


@dataclass
class Cpe:
    """How a simulated device behaves in its sessions."""
    serial: str
    oui: str = "001B44"
    product_class: str | None = "RT5500"
    root: str = "Device"
    software_version: str = "2.4.0"
    online: bool = True                                    # answers connection requests
    faults: dict[str, tuple[str, str]] = field(default_factory=dict)   # RPC name -> (faultCode, faultString)
    # Its downloads' TransferComplete: "success", a (faultCode, faultString), or None (never sent).
    transfer: str | tuple[str, str] | None = "success"
    session_seconds: float = 0.0                           # how long a session holds the lock (real time)
    parameters: dict[str, list] = field(default_factory=dict)   # path -> [value, xsd type, writable]

    def __post_init__(self):
        defaults = {f"{self.root}.DeviceInfo.SoftwareVersion": [self.software_version, "xsd:string", False],
                    f"{self.root}.ManagementServer.PeriodicInformInterval": [300, "xsd:unsignedInt", True],
                    f"{self.root}.Time.NTPServer1": ["pool.ntp.org", "xsd:string", True]}
        self.parameters = defaults | self.parameters


def device_id(cpe: Cpe) -> str:
    """lib/common.ts generateDeviceId (1.2.x, master): OUI-ProductClass-SerialNumber, each part escaped."""
    parts = [cpe.oui, cpe.product_class, cpe.serial] if cpe.product_class else [cpe.oui, cpe.serial]
    return "-".join(_ESCAPED.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), p) for p in parts)


def check_path(path: str) -> None:
    """lib/common/path.ts Path.parse (1.2.x, master): segments split at ".", trimmed, none empty ("" is the
    root). Raises ValueError("Invalid parameter path") as it does."""
    if path and any(not part.strip() for part in path.split(".")):
        raise ValueError("Invalid parameter path")


class FakeGenieAcs:
    def __init__(self, release: str = "master", lock_wait: float = 0.05):
        assert release in ("master", "1.2.9")
        self.release = release
        self.lock_wait = lock_wait            # GenieACS waits 30 s (POST) or 5 s (DELETE) for a session lock
        self.offset = timedelta(0)
        self.cpes: dict[str, Cpe] = {}
        self.last_inform: dict[str, datetime] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.tasks: list[dict] = []
        self.faults: dict[str, dict] = {}
        self.downloads: dict[str, dict] = {}  # "<device>:<channel>" -> the Download the device accepted
        self.files: dict[str, dict] = {}
        self.rpcs: list[tuple[str, str]] = []  # (device id, RPC sent to it), in order
        self.mutex = threading.RLock()
        self._ids = itertools.count()

    def now(self) -> datetime:
        """The ACS's clock, in milliseconds as a JavaScript Date keeps it."""
        moment = clock.now() + self.offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    # --- what tests set up ------------------------------------------------------------------------

    def add_device(self, cpe: Cpe) -> str:
        acs_id = device_id(cpe)
        self.cpes[acs_id], self.locks[acs_id] = cpe, threading.Lock()
        self.last_inform[acs_id] = self.now() - timedelta(minutes=1)   # registered at its first inform
        return acs_id

    def add_file(self, name: str, version: str, file_type: str = "1 Firmware Upgrade Image") -> None:
        """lib/nbi.ts PUT /files/<name>: GridFS fs.files, its id the file name, metadata from headers."""
        self.files[name] = {"_id": name, "filename": name, "length": 1024, "uploadDate": clock.iso(self.now()),
                            "metadata": {"fileType": file_type, "version": version}}

    @contextmanager
    def in_session(self, acs_id: str):
        """A session of the device in progress (it holds the device's lock, lib/cwmp.ts + lib/lock.ts)."""
        with self.locks[acs_id]:
            yield

    def tasks_of(self, acs_id: str) -> list[dict]:
        return [t for t in self.tasks if t["device"] == acs_id]

    def faults_of(self, acs_id: str) -> dict[str, dict]:
        return {k: f for k, f in self.faults.items() if f["device"] == acs_id}

    # --- the NBI's writes (lib/api-functions.ts) --------------------------------------------------

    def insert_task(self, task: dict) -> dict:
        """insertTasks: sanitizeTask, then a stored task with the same uniqueKey is replaced."""
        self._sanitize(task)
        now = self.now()
        task["timestamp"] = clock.iso(now)
        if "expiry" in task:
            expiry = task["expiry"]
            moment = now + timedelta(seconds=float(expiry)) if isinstance(expiry, int | float) \
                else clock.parse_iso(expiry)
            task["expiry"] = clock.iso(moment)
        task["_id"] = f"{int(time.time()):08x}{os.urandom(5).hex()}{next(self._ids) % 2 ** 24:06x}"
        with self.mutex:
            if task.get("uniqueKey"):
                self.tasks = [t for t in self.tasks
                              if not (t["device"] == task["device"] and t.get("uniqueKey") == task["uniqueKey"])]
            self.tasks.append(dict(task))
        return task

    def _sanitize(self, task: dict) -> None:
        """sanitizeTask (lib/api-functions.ts): the shape of each task; what it refuses is thrown (Dropped)."""
        name = task.get("name")
        if name == "refreshObject":
            # 1.2.2 allowed the data-model root (""); master refuses an empty objectName again.
            empty_ok = self.release == "1.2.9"
            if not isinstance(task.get("objectName"), str) or (not task["objectName"] and not empty_ok):
                raise Dropped("Error: Missing 'objectName' property")
        elif name in ("setParameterValues", "getParameterValues"):
            key = "parameterValues" if name == "setParameterValues" else "parameterNames"
            if not isinstance(task.get(key), list) or not task[key]:
                raise Dropped(f"Error: Missing '{key}' property")
        elif name == "download":
            if not task.get("fileType") or not task.get("fileName"):
                raise Dropped("Error: Missing 'fileName' property")

    def delete_task(self, task_id: str) -> str:
        """lib/nbi.ts DELETE /tasks/<id>: "deleted", "missing" (404) or "locked" (master: 503)."""
        if not _OBJECT_ID.fullmatch(task_id):
            raise Dropped("BSONError: input must be a 24 character hex string")
        task = next((t for t in self.tasks if t["_id"] == task_id), None)
        if task is None:
            return "missing"
        with self._locked_for_api(task["device"]) as locked:
            if not locked:
                return "locked"
            with self.mutex:
                self.tasks = [t for t in self.tasks if t["_id"] != task_id]
                self.faults.pop(f"{task['device']}:task_{task_id}", None)
        return "deleted"

    def delete_fault(self, fault_id: str) -> str:
        """lib/api-functions.ts deleteFault: the fault, and its task when the channel is a task's."""
        device, _, channel = fault_id.partition(":")
        with self._locked_for_api(device) as locked:
            if not locked:
                return "locked"
            with self.mutex:
                self.faults.pop(fault_id, None)
                if channel.startswith("task_"):
                    self.tasks = [t for t in self.tasks if t["_id"] != channel[5:]]
        return "deleted"

    @contextmanager
    def _locked_for_api(self, acs_id: str):
        """master takes the device's session lock (waiting up to 5 s); 1.2.9 takes none."""
        lock = self.locks.get(acs_id)
        if self.release == "1.2.9" or lock is None:
            yield True
            return
        taken = lock.acquire(timeout=self.lock_wait)
        try:
            yield taken
        finally:
            if taken:
                lock.release()

    # --- a CWMP session (lib/cwmp.ts, lib/session.ts) ---------------------------------------------

    def inform(self, acs_id: str) -> None:
        """The device's next session: what it reports, the tasks due, GenieACS's retries, then endSession."""
        with self.locks[acs_id]:
            self._session(acs_id)

    def _session(self, acs_id: str) -> None:
        time.sleep(0.002)   # a session starts at least a millisecond after the task that woke it was stored
        cpe, started = self.cpes[acs_id], self.now()
        done, faults, cleared = [], {}, []
        self._transfers_complete(acs_id, cpe, started, faults, cleared)
        for task in sorted(self.tasks_of(acs_id), key=lambda t: t["timestamp"]):
            channel = f"task_{task['_id']}"
            if task.get("expiry") and clock.parse_iso(task["expiry"]) <= started:
                done.append(task)            # nextRpc: an expired task is dropped with its fault, never run
                cleared.append(channel)
                continue
            if clock.parse_iso(task["timestamp"]) >= started or not self._retry_due(acs_id, channel, started):
                continue                     # db.ts getDueTasks; a faulted task waits for its retry
            fault = self._run(acs_id, cpe, task, channel, started)
            if fault is None:
                done.append(task)
                cleared.append(channel)
            else:
                faults[channel] = fault
        self._retry_channel_faults(acs_id, cpe, started, faults)
        time.sleep(cpe.session_seconds)      # the rest of the session, with the lock held
        with self.mutex:                     # endSession: saveDevice, clearTasks, saveFault/deleteFault
            self.last_inform[acs_id] = started
            done_ids = {t["_id"] for t in done}
            self.tasks = [t for t in self.tasks if t["_id"] not in done_ids]
            for channel in cleared:
                self.faults.pop(f"{acs_id}:{channel}", None)
            for channel, fault in faults.items():
                self._record_fault(acs_id, channel, fault)

    def _retry_due(self, acs_id: str, channel: str, now: datetime) -> bool:
        fault = self.faults.get(f"{acs_id}:{channel}")
        if fault is None:
            return True
        due = clock.parse_iso(fault["timestamp"]) + timedelta(seconds=RETRY_DELAY_SECONDS * 2 ** fault["retries"])
        return due <= now

    def _record_fault(self, acs_id: str, channel: str, fault: dict) -> None:
        """recordFault: retries 0 the first time, one more at each fault of the same channel."""
        key = f"{acs_id}:{channel}"
        previous = self.faults.get(key)
        task = next((t for t in self.tasks if f"task_{t['_id']}" == channel), None)
        retries = previous["retries"] + 1 if previous else 0
        self.faults[key] = {"_id": key, "device": acs_id, "channel": channel, "retries": retries, **fault,
                            **({"expiry": task["expiry"]} if task and task.get("expiry") else {})}

    def _run(self, acs_id: str, cpe: Cpe, task: dict, channel: str, now: datetime) -> dict | None:
        """One task in the session (nextRpc): None when done, else its fault."""
        name = task["name"]
        if name == "refreshObject":
            try:
                check_path(task["objectName"])   # the "refresh" provision parses it: a script error
            except ValueError as error:
                return {"code": "script.Error", "message": str(error), "timestamp": clock.iso(now),
                        "detail": {"name": "Error", "message": str(error)}}
            return self._rpc(acs_id, cpe, "GetParameterValues", now)
        if name == "setParameterValues":
            fault = self._rpc(acs_id, cpe, "SetParameterValues", now)
            for path, value, *_ in task["parameterValues"]:
                parameter = cpe.parameters.get(path)
                if parameter is None:
                    continue                   # 1.2.10+: a parameter the device lacks is skipped, no fault
                if not parameter[2]:
                    return _cwmp_fault("9008", "Attempt to set a non-writable parameter", now)
                if fault is None:
                    parameter[0] = _typed(value, parameter[1])
            return fault
        if name == "download":
            provisions = [["download", task["fileType"], task["fileName"], ""]]
            fault = self._rpc(acs_id, cpe, "Download", now)
            if fault is None:                  # accepted: the task is done, the result comes in TransferComplete
                self.downloads[f"{acs_id}:{channel}"] = {"provisions": provisions, "timestamp": clock.iso(now)}
                return None
            return fault | {"provisions": json.dumps(provisions)}
        rpc = {"reboot": "Reboot", "factoryReset": "FactoryReset", "getParameterValues": "GetParameterValues"}[name]
        return self._rpc(acs_id, cpe, rpc, now)

    def _rpc(self, acs_id: str, cpe: Cpe, rpc: str, now: datetime) -> dict | None:
        self.rpcs.append((acs_id, rpc))
        return _cwmp_fault(*cpe.faults[rpc], now) if rpc in cpe.faults else None

    def _transfers_complete(self, acs_id: str, cpe: Cpe, now: datetime, faults: dict, cleared: list) -> None:
        """TransferComplete of downloads accepted earlier: success sets the new version (the device reports it
        in this Inform); a failure is the channel's fault (lib/session.ts transferComplete), as is a download
        older than DOWNLOAD_TIMEOUT_SECONDS (lib/session.ts timeoutOperations)."""
        for key, download in list(self.downloads.items()):
            if not key.startswith(f"{acs_id}:"):
                continue
            channel = key.split(":", 1)[1]
            if cpe.transfer is None:
                if now - clock.parse_iso(download["timestamp"]) > timedelta(seconds=DOWNLOAD_TIMEOUT_SECONDS):
                    del self.downloads[key]
                    faults[channel] = {"code": "timeout", "message": "Download operation timed out",
                                       "timestamp": download["timestamp"],
                                       "provisions": json.dumps(download["provisions"])}
                continue
            del self.downloads[key]
            if cpe.transfer == "success":
                file = self.files.get(download["provisions"][0][2], {})
                cpe.parameters[f"{cpe.root}.DeviceInfo.SoftwareVersion"][0] = file.get("metadata", {}).get("version")
                cleared.append(channel)
            else:   # the fault's time is the Download's: its retry counts from there
                faults[channel] = _cwmp_fault(*cpe.transfer, now) | {
                    "timestamp": download["timestamp"], "provisions": json.dumps(download["provisions"])}

    def _retry_channel_faults(self, acs_id: str, cpe: Cpe, now: datetime, faults: dict) -> None:
        """applyPresets: a fault whose retry is due has its provisions run again. A failed download's channel
        keeps its fault after the task is gone, so GenieACS sends the Download again, and again."""
        stored = {t["_id"] for t in self.tasks_of(acs_id)}
        for key, fault in list(self.faults_of(acs_id).items()):
            channel = fault["channel"]
            if channel[5:] in stored or channel in faults or not self._retry_due(acs_id, channel, now):
                continue
            provisions = json.loads(fault.get("provisions", "[]"))
            if any(p[0] == "download" for p in provisions):
                refused = self._rpc(acs_id, cpe, "Download", now)
                # Accepted again: the new result comes in a later TransferComplete. (GenieACS drops the fault
                # until then and carries its retry count in the operation; it is kept here, same count.)
                if refused is None:
                    self.downloads[key] = {"provisions": provisions, "timestamp": clock.iso(now)}
                else:
                    faults[channel] = refused | {"provisions": fault["provisions"]}


def _cwmp_fault(code: str, message: str, now: datetime) -> dict:
    """A CPE's fault as GenieACS records it (lib/session.ts): code "cwmp.<faultCode>" and the FaultStruct."""
    return {"code": f"cwmp.{code}", "message": message, "timestamp": clock.iso(now),
            "detail": {"faultCode": code, "faultString": message}}


def _typed(value, xsd_type: str):
    """lib/device.ts sanitizeParameterValue: the value converted to the parameter's type."""
    if xsd_type == "xsd:boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
    if xsd_type in ("xsd:int", "xsd:unsignedInt"):
        return int(value)
    return str(value).lower() if isinstance(value, bool) else str(value)
