"""The HTTP driver for a GenieACS-style northbound API (NBI) at `settings.genieacs_url`.

An operation is one task, `POST {base}/devices/{id}/tasks?connection_request&timeout={ms}`: the ACS
stores the task, wakes the device with a connection request and waits up to `timeout` ms for the
device's session to start (we give it half our budget; the other half is for the session itself).

| Operation               | Task                                                                        |
| ----------------------- | --------------------------------------------------------------------------- |
| reboot                  | {"name": "reboot"}                                                          |
| factory, device_factory | {"name": "factoryReset"}                                                    |
| sync                    | {"name": "refreshObject", "objectName": ""}; then the device is read back   |
| reconf                  | {"name": "setParameterValues"} of parameters["configuration"]; without any  |
|                         | values a bare connection request, whose session re-applies the ACS presets  |
| debug                   | {"name": "setParameterValues"} of DEBUG_PARAMETER (xsd:boolean)             |
| firmware_update         | {"name": "download", "fileType": "1 Firmware Upgrade Image", "fileName"}    |

Every task carries `uniqueKey` "fleetline-<operation>": the ACS replaces a still-queued task of the
same kind instead of adding a second one, so a retry never piles up duplicates at the ACS.

What the ACS answers, and what the agent is told (GenieACS lib/nbi.ts: 202 carries the reason in
its status line; a faulted task stays at the ACS with its fault under /faults/):

| Answer                                               | Error              | code                         |
| ---------------------------------------------------- | ------------------ | ---------------------------- |
| 200 (the session ran the task)                       | none               |                              |
| 202 "Task faulted" (or a fault in the body)          | DeviceFault        | the CWMP fault code, "9010"  |
| 202, any other reason (device offline, connection    | OutcomeUncertain   | TASK_QUEUED_AT_ACS           |
|   request failed, session not started/ended in time) |                    |                              |
| 3xx, 4xx except 429 (404: device unknown at the ACS) | DeviceFault        | ACS_<status>                 |
| 429, 503                                             | DeviceUnreachable  | ACS_<status>                 |
| other 5xx (the ACS may have stored the task first)   | OutcomeUncertain   | ACS_<status>                 |
| refused, DNS failure, connect timeout                | DeviceUnreachable  | ACS_UNREACHABLE              |
| no answer within the timeout after sending           | OutcomeUncertain   | TIMEOUT                      |
| connection dropped after sending                     | OutcomeUncertain   | CONNECTION_LOST              |
| missing firmware url                                 | DeviceFault        | INVALID_PARAMETERS           |

When no task was sent (reads, and reconf's bare connection request) nothing can happen twice, so
what would be OutcomeUncertain is DeviceUnreachable; a 504 to a bare connection request (GenieACS:
the connection request failed) is DeviceUnreachable("CONNECTION_REQUEST_FAILED"). A faulted task
is deleted at the ACS (best effort) so that it is not retried behind the agent's back.

Assumptions, since Fleetline stores no OUI:
- The GenieACS device id is "<OUI>-<ProductClass>-<SerialNumber>", each part percent-escaped except
  [A-Za-z0-9_] (GenieACS generateDeviceId). We use the device's `manufacturer` as the OUI ("UNKNOWN"
  when empty), so GenieACS-managed devices should store their OUI there; without a product class
  the id is "<OUI>-<SerialNumber>", as GenieACS makes it.
- A firmware image is already on the ACS's file server under the last path segment of its URL.
- `probe`: online when the device's last inform is within twice its `update_frequency`, or within
  5 minutes when that is unknown. An ACS that cannot answer raises DeviceUnreachable (the caller
  keeps the stored status): a slow ACS says nothing about the device.
- `timeout` bounds connecting and each read (urllib), not the sum of them.
- `diagnose` (any helper name) asks the device, through a connection request, to refresh
  `Device.DeviceInfo.` (a refreshObject reads only the parameters the device has, so a device without
  one is not a fault), then reads the TR-181 parameters of DIAGNOSTIC_PARAMETERS from the ACS: CPU and
  memory are fresh, disk and link as the ACS last saw them. A device reporting none of them is
  DeviceFault("NOT_SUPPORTED"); a task the ACS only queued is DeviceUnreachable (a read: nothing to repeat).
"""
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, unquote, urlencode, urlsplit

from chalicelib import clock
from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, DriverError, OutcomeUncertain
from chalicelib.drivers.protocol import DeviceRef, check_operation

FIRMWARE_FILE_TYPE = "1 Firmware Upgrade Image"
# No standard TR-069 parameter turns debugging on: a GenieACS virtual parameter maps it per vendor.
DEBUG_PARAMETER = "VirtualParameters.FleetlineDebug"
DEFAULT_ONLINE_WINDOW = timedelta(minutes=5)
# What a follow-up call (read back, fault lookup) gets at least when the first one used the budget.
MIN_FOLLOW_UP_SECONDS = 0.5
CPU_USAGE = "Device.DeviceInfo.ProcessStatus.CPUUsage"
MEMORY_TOTAL, MEMORY_FREE = "Device.DeviceInfo.MemoryStatus.Total", "Device.DeviceInfo.MemoryStatus.Free"
DISK_CAPACITY = "Device.Services.StorageService.1.LogicalVolume.1.Capacity"
DISK_USED = "Device.Services.StorageService.1.LogicalVolume.1.UsedSpace"
LINK_STATUS = "Device.IP.Interface.1.Status"
DIAGNOSTIC_PARAMETERS = (CPU_USAGE, MEMORY_TOTAL, MEMORY_FREE, DISK_CAPACITY, DISK_USED, LINK_STATUS)
_UNESCAPED = re.compile(r"[A-Za-z0-9_]")
_CWMP_CODE = re.compile(r"[89][0-9]{3}")


def acs_device_id(device: DeviceRef) -> str:
    """The device's GenieACS id (see the module docstring for the OUI assumption)."""
    parts = [device.manufacturer or "UNKNOWN", device.product_class, device.serial_number]
    return "-".join(_escape(part) for part in parts if part)


def _escape(text: str) -> str:
    return "".join(c if _UNESCAPED.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def task_for(operation: str, parameters: dict) -> dict | None:
    """The NBI task of an operation; None for a bare connection request (reconf without values)."""
    if operation == "reboot":
        task = {"name": "reboot"}
    elif operation in ("factory", "device_factory"):
        task = {"name": "factoryReset"}
    elif operation == "sync":
        task = {"name": "refreshObject", "objectName": ""}
    elif operation == "debug":
        task = {"name": "setParameterValues",
                "parameterValues": [[DEBUG_PARAMETER, bool(parameters.get("enabled")), "xsd:boolean"]]}
    elif operation == "reconf":
        values = _parameter_values(parameters.get("configuration") or {})
        if not values:
            return None
        task = {"name": "setParameterValues", "parameterValues": values}
    else:  # firmware_update
        file_name = unquote(urlsplit(parameters.get("url") or "").path.rsplit("/", 1)[-1])
        if not file_name:
            raise DeviceFault("INVALID_PARAMETERS", "A firmware update needs the image's url.")
        task = {"name": "download", "fileType": FIRMWARE_FILE_TYPE, "fileName": file_name}
    return task | {"uniqueKey": f"fleetline-{operation}"}


def _parameter_values(configuration: dict) -> list[list]:
    # GenieACS accepts string, number and boolean values only.
    return [[path, value] for path, value in sorted(configuration.items())
            if isinstance(value, str | bool | int | float)]


@dataclass(frozen=True)
class _Reply:
    status: int
    reason: str
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace").strip()[:500] or self.reason


class GenieAcsDriver:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def execute(self, device: DeviceRef, operation: str, parameters: dict, timeout: float) -> dict:
        check_operation(operation)
        task = task_for(operation, parameters)
        deadline = time.monotonic() + timeout
        acs_id = acs_device_id(device)
        # The ACS waits half our budget for the device's session to start; the rest is for the session.
        wait_ms = max(1, int(timeout * 500))
        url = f"{self.base_url}/devices/{quote(acs_id, safe='')}/tasks?connection_request&timeout={wait_ms}"
        reply = _send("POST", url, task, timeout, sent_task=task is not None)
        if reply.status == 202 and task is not None:
            self._raise_for_202(reply, acs_id, deadline)
        if reply.status == 504 and task is None:
            raise DeviceUnreachable("CONNECTION_REQUEST_FAILED", reply.reason or reply.text())
        if not 200 <= reply.status < 300:
            raise _status_error(reply, sent_task=task is not None)
        if operation == "firmware_update":
            return {"software_version": parameters["version"]} if parameters.get("version") else {}
        if operation == "sync":
            return {"configuration": self._configuration(acs_id, deadline)}
        if operation == "reconf" and task is not None:
            return {"configuration": {path: value for path, value, *_ in task["parameterValues"]}}
        return {}

    def probe(self, device: DeviceRef, timeout: float) -> bool:
        query = urlencode({"query": json.dumps({"_id": acs_device_id(device)}), "projection": "_lastInform"})
        found = self._read(f"{self.base_url}/devices/?{query}", timeout)
        last_inform = _parse_time(found[0].get("_lastInform")) if found and isinstance(found[0], dict) else None
        if last_inform is None:
            return False
        window = timedelta(seconds=2 * device.update_frequency) if device.update_frequency else DEFAULT_ONLINE_WINDOW
        return clock.now() - last_inform <= window

    def diagnose(self, device: DeviceRef, helper: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        acs_id = acs_device_id(device)
        task = {"name": "refreshObject", "objectName": "Device.DeviceInfo.", "uniqueKey": "fleetline-diagnose"}
        url = (f"{self.base_url}/devices/{quote(acs_id, safe='')}/tasks?connection_request"
               f"&timeout={max(1, int(timeout * 500))}")
        reply = _send("POST", url, task, timeout, sent_task=False)
        if reply.status == 202:
            try:
                self._raise_for_202(reply, acs_id, deadline)
            except OutcomeUncertain as queued:
                raise DeviceUnreachable(queued.code, queued.message) from None
        if not 200 <= reply.status < 300:
            raise _status_error(reply, sent_task=False)
        query = urlencode({"query": json.dumps({"_id": acs_id}), "projection": ",".join(DIAGNOSTIC_PARAMETERS)})
        found = self._read(f"{self.base_url}/devices/?{query}", _remaining(deadline))
        figures = diagnostic_figures(found[0]) if found and isinstance(found[0], dict) else {}
        if not figures:
            raise DeviceFault("NOT_SUPPORTED", f"The device reports none of {', '.join(DIAGNOSTIC_PARAMETERS)}.")
        return figures

    def _raise_for_202(self, reply: _Reply, acs_id: str, deadline: float) -> None:
        body = reply.json()
        fault = _fault_in(body)
        if fault is None and reply.reason.lower() != "task faulted":
            raise OutcomeUncertain("TASK_QUEUED_AT_ACS", "The ACS queued the task for the device's next session"
                                   f" ({reply.reason}); the device may still run it.")
        task_id = body.get("_id") if isinstance(body, dict) else None
        if fault is None and task_id:
            fault = self._task_fault(acs_id, task_id, deadline)
        if task_id:
            self._delete_task(task_id, deadline)
        raise DeviceFault(*(fault or ("TASK_FAULTED", "The device answered the task with a fault.")))

    def _task_fault(self, acs_id: str, task_id: str, deadline: float) -> tuple[str, str] | None:
        query = urlencode({"query": json.dumps({"_id": f"{acs_id}:task_{task_id}"})})
        try:
            faults = self._read(f"{self.base_url}/faults/?{query}", _remaining(deadline))
        except DriverError:
            return None
        return _fault_in(faults[0], cwmp_only=False) if faults else None

    def _delete_task(self, task_id: str, deadline: float) -> None:
        try:
            _send("DELETE", f"{self.base_url}/tasks/{quote(str(task_id), safe='')}", None, _remaining(deadline),
                  sent_task=False)
        except DriverError:
            pass   # best effort: the fault is reported either way

    def _configuration(self, acs_id: str, deadline: float) -> dict:
        found = self._read(f"{self.base_url}/devices/?{urlencode({'query': json.dumps({'_id': acs_id})})}",
                           _remaining(deadline))
        if not found:
            raise DeviceFault("ACS_404", "The ACS no longer knows the device.")
        return writable_values(found[0])

    def _read(self, url: str, timeout: float) -> list:
        reply = _send("GET", url, None, timeout, sent_task=False)
        if reply.status != 200:
            raise _status_error(reply, sent_task=False)
        found = reply.json()
        if not isinstance(found, list):
            raise DeviceUnreachable("ACS_BAD_RESPONSE", "The ACS answered a query with something other than a list.")
        return found


def writable_values(node: dict, prefix: str = "") -> dict:
    """{parameter path: value} of the writable parameters of a GenieACS device document."""
    values = {}
    for key, child in node.items():
        if key.startswith("_") or not isinstance(child, dict):
            continue
        if "_value" in child:
            if child.get("_writable"):
                values[prefix + key] = child["_value"]
        else:
            values |= writable_values(child, f"{prefix}{key}.")
    return values


def diagnostic_figures(document: dict) -> dict:
    """cpu_usage, memory_usage, disk_usage (percent) and network_status from a GenieACS device document,
    each only when its parameters are there."""
    def value(path: str):
        node = document
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        found = node.get("_value") if isinstance(node, dict) else None
        if isinstance(found, str) and path != LINK_STATUS:
            try:
                return float(found)
            except ValueError:
                return None
        return None if isinstance(found, bool) else found

    def percent(part, whole) -> float | None:
        if not isinstance(part, int | float) or not isinstance(whole, int | float) or whole <= 0:
            return None
        return round(min(100.0, max(0.0, 100 * part / whole)), 1)

    total, free = value(MEMORY_TOTAL), value(MEMORY_FREE)
    figures = {"cpu_usage": percent(value(CPU_USAGE), 100),
               "memory_usage": percent(total - free, total) if all(isinstance(v, int | float) for v in (total, free))
               else None,
               "disk_usage": percent(value(DISK_USED), value(DISK_CAPACITY))}
    link = value(LINK_STATUS)
    if isinstance(link, str):
        figures["network_status"] = "connected" if link == "Up" else "disconnected"
    return {name: figure for name, figure in figures.items() if figure is not None}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET and could pass for success: surface the 3xx.
    def redirect_request(self, *args, **kwargs):
        return None


def _send(method: str, url: str, payload: dict | None, timeout: float, *, sent_task: bool) -> _Reply:
    """One HTTP exchange; transport failures become driver errors, every status comes back as a reply."""
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            return _Reply(response.status, response.reason or "", response.read())
    except urllib.error.HTTPError as error:
        with error:
            try:
                body = error.read()
            except (OSError, http.client.HTTPException):
                body = b""
        return _Reply(error.code, str(error.reason or ""), body)
    except urllib.error.URLError as error:
        # urllib raises URLError while connecting or sending: the ACS never got a whole request.
        raise DeviceUnreachable("ACS_UNREACHABLE", f"Cannot reach the ACS: {error.reason}") from error
    except TimeoutError as error:
        raise _after_sending(sent_task, "TIMEOUT", f"The ACS did not answer within {timeout:g} s.") from error
    except (OSError, http.client.HTTPException) as error:
        raise _after_sending(sent_task, "CONNECTION_LOST", f"The ACS dropped the connection: {error!r}") from error


def _after_sending(sent_task: bool, code: str, message: str) -> DriverError:
    return OutcomeUncertain(code, message) if sent_task else DeviceUnreachable(code, message)


def _status_error(reply: _Reply, *, sent_task: bool) -> DriverError:
    fault = _fault_in(reply.json())
    if fault is not None:
        return DeviceFault(*fault)
    code, message = f"ACS_{reply.status}", reply.text()
    if reply.status in (429, 503):
        return DeviceUnreachable(code, message)
    if reply.status >= 500:
        return _after_sending(sent_task, code, message)
    return DeviceFault(code, message)


def _fault_in(body, *, cwmp_only: bool = True) -> tuple[str, str] | None:
    """(code, message) of a fault document: GenieACS's {"code": "cwmp.9010", "message", "detail"},
    the same under "fault", or a bare CWMP {"faultCode", "faultString"}.

    In an answer's body only a CWMP code (8000-9999) counts, so that an error body such as a
    proxy's {"code": "NotFound"} is not taken for the device's fault; the ACS's own fault records
    (cwmp_only=False) may also hold its non-CWMP codes ("timeout", "script.*").
    """
    if not isinstance(body, dict):
        return None
    fault = body.get("fault") if isinstance(body.get("fault"), dict) else body
    detail = fault.get("detail") if isinstance(fault.get("detail"), dict) else {}
    code = detail.get("faultCode") or fault.get("faultCode") or fault.get("code")
    if not isinstance(code, str | int) or isinstance(code, bool):
        return None
    code = str(code).removeprefix("cwmp.")
    if not code or (cwmp_only and not _CWMP_CODE.fullmatch(code)):
        return None
    message = detail.get("faultString") or fault.get("faultString") or fault.get("message") or "Device fault"
    return code, str(message)


def _parse_time(value):
    try:
        return clock.parse_iso(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _remaining(deadline: float) -> float:
    return max(MIN_FOLLOW_UP_SECONDS, deadline - time.monotonic())
