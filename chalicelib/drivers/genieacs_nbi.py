"""The HTTP side of the GenieACS driver: one exchange with the northbound API (NBI), and the few
requests the driver makes, each answered as data or as a driver error.

What the NBI answers, as read in genieacs/genieacs lib/nbi.ts (master, and 1.2.x before its lock):
- a query (`GET /<collection>/?query=<JSON>&projection=<a,b>`) answers 200 with a JSON list; a query
  that is not JSON answers 400 with `SyntaxError: ...` as the body;
- `DELETE /tasks/<id>` answers 200 (the task and its fault are gone), 404 `Task not found`, or (master)
  503 `Device is in session` when it cannot take the device's session lock within 5 s;
- an error GenieACS did not foresee (an id that is not an ObjectId, a task sanitizeTask refuses) is
  thrown out of the handler: master drops the connection without an answer (lib/server.ts), 1.2.x
  answers 500 `Error: ...` before its worker exits. Either way the request may have been half done.
Reason phrases are never read: HTTP/2 and some proxies drop them.
"""
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, DriverError, OutcomeUncertain

VERSION_HEADER = "GenieACS-Version"
# What a follow-up call (read back, fault lookup, delete) gets at least when the first ones used the budget.
MIN_CALL_SECONDS = 0.2


class Budget:
    """A call's time budget, shared by the requests it makes."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def left(self, keep: float = 0.0) -> float:
        """Seconds left, less `keep` held back for later requests (at least MIN_CALL_SECONDS)."""
        return max(MIN_CALL_SECONDS, self.ends - time.monotonic() - keep)


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    body: bytes
    version: str | None = None    # the GenieACS-Version header every NBI answer carries

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace").strip()[:500] or self.reason


class Nbi:
    """The requests the driver makes to the NBI at `base_url`."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.version: str | None = None   # the last GenieACS-Version seen

    def locks_sessions(self) -> bool:
        """Whether DELETE takes the device's session lock (503 while in session): GenieACS 1.2.10 and later.
        Without it (or when the version is unknown) a task deleted during the session that runs it may still run."""
        numbers = re.findall(r"\d+", (self.version or "").split("-")[0])[:3]
        return bool(numbers) and tuple(int(n) for n in numbers) >= (1, 2, 10)

    def query(self, collection: str, query: dict, timeout: float, projection: str | None = None) -> list:
        """A query's documents. Raises: DriverError when the ACS could not answer it."""
        params = {"query": json.dumps(query, separators=(",", ":"))}
        if projection:
            params["projection"] = projection
        reply = send("GET", f"{self.base_url}/{collection}/?{urlencode(params)}", None, timeout, sent_task=False)
        self.version = reply.version or self.version
        if reply.status != 200:
            raise status_error(reply, sent_task=False)
        found = reply.json()
        if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
            raise DeviceUnreachable("ACS_BAD_RESPONSE", "The ACS answered a query with something other than a list.")
        return found

    def post_task(self, acs_id: str, task: dict, wait_ms: int, timeout: float) -> Reply:
        """POST the task with a connection request; the ACS waits `wait_ms` for the device's session to start.

        Raises:
            DeviceUnreachable: the ACS could not be reached (nothing was stored).
            OutcomeUncertain: the request was sent and no answer came (the task may be stored).
        """
        url = f"{self.base_url}/devices/{quote(acs_id, safe='')}/tasks?connection_request&timeout={max(1, wait_ms)}"
        return send("POST", url, task, timeout, sent_task=True)

    def delete(self, path: str, timeout: float) -> str:
        """DELETE `path` (a task or a fault): "deleted", "gone" (it was not there) or "unknown" (the device is in
        session, or no clear answer: it may still be there)."""
        try:
            reply = send("DELETE", f"{self.base_url}{path}", None, timeout, sent_task=True)
        except OutcomeUncertain:
            return "unknown"
        if reply.status == 200:
            return "deleted"
        if reply.status == 404:
            return "gone"
        if reply.status >= 500 or reply.status == 429:
            return "unknown"
        raise status_error(reply, sent_task=False)

    def task_path(self, task_id: str) -> str:
        return f"/tasks/{quote(task_id, safe='')}"

    def fault_path(self, fault_id: str) -> str:
        return f"/faults/{quote(fault_id, safe='')}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET and could pass for success: surface the 3xx.
    def redirect_request(self, *args, **kwargs):
        return None


def send(method: str, url: str, payload: dict | None, timeout: float, *, sent_task: bool) -> Reply:
    """One HTTP exchange; transport failures become driver errors, every status comes back as a reply.

    `sent_task`: the request changes something at the ACS, so a lost answer leaves its outcome uncertain.
    """
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            return Reply(response.status, response.reason or "", response.read(), response.headers.get(VERSION_HEADER))
    except urllib.error.HTTPError as error:
        with error:
            try:
                body = error.read()
            except (OSError, http.client.HTTPException):
                body = b""
        return Reply(error.code, str(error.reason or ""), body, error.headers.get(VERSION_HEADER))
    except urllib.error.URLError as error:
        # urllib raises URLError while connecting or sending: the ACS never got a whole request.
        raise DeviceUnreachable("ACS_UNREACHABLE", f"Cannot reach the ACS: {error.reason}") from error
    except TimeoutError as error:
        raise _after_sending(sent_task, "TIMEOUT", f"The ACS did not answer within {timeout:g} s.") from error
    except (OSError, http.client.HTTPException) as error:
        # GenieACS (master) drops the connection when its handler throws: no status, no body.
        raise _after_sending(sent_task, "CONNECTION_LOST", f"The ACS dropped the connection: {error!r}") from error


def _after_sending(sent_task: bool, code: str, message: str) -> DriverError:
    return OutcomeUncertain(code, message) if sent_task else DeviceUnreachable(code, message)


def status_error(reply: Reply, *, sent_task: bool) -> DriverError:
    """The error an unexpected status stands for.

    429 and 503 mean the request was not taken (nothing done); another 5xx after a task was sent may come
    after GenieACS stored it (1.2.x answers 500 when its handler throws); 3xx/4xx are final, with the
    ACS's own text (`No such device`, `SyntaxError: ...`).
    """
    code, message = f"ACS_{reply.status}", reply.text()
    if reply.status in (429, 503):
        return DeviceUnreachable(code, message)
    if reply.status >= 500:
        return _after_sending(sent_task, code, message)
    return DeviceFault(code, message)


def fault_of(document: dict) -> tuple[str, str]:
    """(code, message) of a GenieACS fault record: {"code": "cwmp.9010" | "timeout" | "script.Error", "message",
    "detail": {"faultCode", "faultString"}} (lib/cwmp.ts recordFault, lib/session.ts)."""
    detail = document.get("detail") if isinstance(document.get("detail"), dict) else {}
    code = str(detail.get("faultCode") or document.get("code") or "ACS_FAULT").removeprefix("cwmp.")
    message = detail.get("faultString") or document.get("message") or "The device answered with a fault."
    return code, str(message)
