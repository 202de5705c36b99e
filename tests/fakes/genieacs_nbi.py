"""The fake GenieACS's northbound API on 127.0.0.1, routed and answered as genieacs/genieacs lib/nbi.ts does
(master; "1.2.9" where the release says so), over the model in genieacs.py. Every request is recorded.

    acs = NbiServer(FakeGenieAcs()); acs.start(); ...; acs.stop()
"""
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from chalicelib import clock
from tests.fakes.genieacs import Dropped, FakeGenieAcs

# lib/nbi.ts's routes.
DEVICE_TASKS = re.compile(r"^/devices/([a-zA-Z0-9\-_%]+)/tasks/?$")
TASKS = re.compile(r"^/tasks/([a-zA-Z0-9\-_%]+)(/[a-zA-Z_]*)?$")
FAULTS = re.compile(r"^/faults/([a-zA-Z0-9\-_%:]+)/?$")
QUERY = re.compile(r"^/([a-zA-Z0-9_]+)/?$")
COLLECTIONS = ("devices", "tasks", "faults", "files")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: object


@dataclass
class Answer:
    status: int
    body: bytes = b""
    reason: str | None = None
    json_type: bool = False


def _json(status: int, document, reason: str | None = None) -> Answer:
    return Answer(status, json.dumps(document).encode(), reason, json_type=True)


class NbiServer:
    def __init__(self, acs: FakeGenieAcs):
        self.acs = acs
        self.requests: list[Recorded] = []
        # A proxy in front of the NBI: (method, path) -> the Answer it gives instead, or "drop"; and whether it
        # strips reason phrases (HTTP/2 has none).
        self.proxy: dict[tuple[str, str], Answer | str] = {}
        self.strip_reasons = False
        # An error thrown after the POST stored its task (a database or connection-request error).
        self.fail_after_store = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.nbi = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "NbiServer":
        # serve_forever checks for shutdown every poll_interval (0.5 s by default, paid by every test).
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method in (None, r.method)]

    # --- routes -----------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict, body: bytes) -> Answer:
        if match := DEVICE_TASKS.match(path):
            return self._post_task(unquote(match[1]), query, body) if method == "POST" else Answer(405)
        if match := TASKS.match(path):
            return self._delete(self.acs.delete_task(unquote(match[1])), "Task not found") \
                if method == "DELETE" and not match[2] else Answer(405)
        if match := FAULTS.match(path):
            return self._delete(self.acs.delete_fault(unquote(match[1])), None) if method == "DELETE" else Answer(405)
        if match := QUERY.match(path):
            return self._query(match[1], query) if method in ("GET", "HEAD") else Answer(405)
        return Answer(404, b"404 Not Found")

    def _delete(self, outcome: str, missing: str | None) -> Answer:
        if outcome == "locked":
            return Answer(503, b"Device is in session")
        if outcome == "missing" and missing:
            return Answer(404, missing.encode())
        return Answer(200)

    def _query(self, collection: str, query: dict) -> Answer:
        if collection not in COLLECTIONS:
            return Answer(404, b"404 Not Found")
        try:
            wanted = json.loads(query.get("query", ["{}"])[0])
        except ValueError as error:
            return Answer(400, f"SyntaxError: {error}".encode())
        if collection == "tasks" and "_id" in wanted and not re.fullmatch(r"[0-9a-f]{24}", str(wanted["_id"])):
            raise Dropped("BSONError: input must be a 24 character hex string")   # query.ts: new ObjectId(v)
        documents = [d for d in self._documents(collection) if all(_at(d, k) == v for k, v in wanted.items())]
        projection = query.get("projection", [""])[0]
        if projection:
            documents = [_project(d, [p.strip() for p in projection.split(",")]) for d in documents]
        return _json(200, documents)

    def _documents(self, collection: str) -> list[dict]:
        acs = self.acs
        if collection == "tasks":
            return [dict(t) for t in acs.tasks]
        if collection == "faults":
            return [dict(f) for f in acs.faults.values()]
        if collection == "files":
            return [dict(f) for f in acs.files.values()]
        return [_device_document(acs, acs_id) for acs_id in acs.cpes]

    def _post_task(self, acs_id: str, query: dict, body: bytes) -> Answer:
        """POST /devices/<id>/tasks (lib/nbi.ts): stored before the connection request; the answer waits for the
        session to start (`timeout` ms) and to end; 200 only when it ended without a fault for the task."""
        acs, cr = self.acs, "connection_request" in query
        task = None
        if body:
            try:
                task = json.loads(body)
            except ValueError as error:
                return Answer(400, f"SyntaxError: {error}".encode())
            task["device"] = acs_id
        if task is None and not cr:
            return Answer(400)
        if acs_id not in acs.cpes:
            return Answer(404, b"No such device")
        if not cr:
            return _json(202, acs.insert_task(task))
        if task is None:   # a bare connection request: 200 once the device was reached, before its session
            if not acs.cpes[acs_id].online:
                return Answer(504, b"Connection request error", "Connection request error")
            threading.Thread(target=acs.inform, args=(acs_id,), daemon=True).start()
            return Answer(200)
        if acs.release == "master":
            # acquireLock(cwmp_session_<id>, 5000, 30000): waits for a session in progress, then stores anyway.
            lock = acs.locks[acs_id]
            if not lock.acquire(timeout=acs.lock_wait):
                return _json(202, acs.insert_task(task), "Task queued but not processed")
            try:
                acs.insert_task(task)
            finally:
                lock.release()
        else:
            acs.insert_task(task)
        if self.fail_after_store:
            raise Dropped("MongoNetworkError: connection reset")
        if not acs.cpes[acs_id].online:
            return _json(202, task, "Connection request error: Device is offline")
        if not acs.locks[acs_id].acquire(timeout=int(query.get("timeout", ["3000"])[0]) / 1000):
            return _json(202, task, "Task queued but not processed")   # awaitSessionStart: none started in time
        try:
            acs._session(acs_id)   # the device answers the connection request at once
        finally:
            acs.locks[acs_id].release()
        if f"{acs_id}:task_{task['_id']}" in acs.faults:
            return _json(202, task, "Task faulted")
        if acs.release == "1.2.9" and any(t["_id"] == task["_id"] for t in acs.tasks):
            return _json(202, task, "Task queued but not processed")
        return _json(200, task)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self):
        nbi: NbiServer = self.server.nbi
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            recorded_body = json.loads(raw) if raw else None
        except ValueError:
            recorded_body = raw
        nbi.requests.append(Recorded(self.command, split.path, query, recorded_body))
        try:
            answer = nbi.proxy.get((self.command, split.path)) or nbi.answer(self.command, split.path, query, raw)
        except Dropped as error:
            # master lib/server.ts: the handler's error escapes and no answer is written; 1.2.9 lib/nbi.ts
            # throwError answers 500 `<name>: <message>`, then the worker exits.
            answer = "drop" if nbi.acs.release == "master" else Answer(500, str(error).encode())
        if answer == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        try:
            self.send_response(answer.status, "" if nbi.strip_reasons else answer.reason)
            self.send_header("GenieACS-Version", "1.2.13" if nbi.acs.release == "master" else "1.2.9")
            if answer.json_type:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the client gave up waiting (a session longer than its timeout)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _handle

    def log_message(self, *args):
        pass


def _device_document(acs: FakeGenieAcs, acs_id: str) -> dict:
    """A device as lib/db.ts saves it: `_id`, `_deviceId`, `_lastInform`, then the parameter tree."""
    cpe = acs.cpes[acs_id]
    document = {"_id": acs_id, "_lastInform": clock.iso(acs.last_inform[acs_id]),
                "_deviceId": {"_OUI": cpe.oui, "_SerialNumber": cpe.serial, "_Manufacturer": "Fleetline Test",
                              **({"_ProductClass": cpe.product_class} if cpe.product_class else {})}}
    for path, (value, xsd_type, writable) in cpe.parameters.items():
        node = document
        for part in path.split(".")[:-1]:
            node = node.setdefault(part, {"_object": True, "_writable": False})
        node[path.rsplit(".", 1)[-1]] = {"_value": value, "_type": xsd_type, "_writable": writable,
                                         "_timestamp": clock.iso(acs.last_inform[acs_id])}
    return document


def _at(document: dict, dotted: str):
    node = document
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _project(document: dict, paths: list[str]) -> dict:
    """A MongoDB projection: `_id` and each path's subtree."""
    out = {"_id": document["_id"]}
    for path in paths:
        found = _at(document, path)
        if found is None:
            continue
        node, parts = out, path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = found
    return out
