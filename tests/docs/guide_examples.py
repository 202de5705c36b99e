"""The examples of docs/api-guide.md, made by calling the API: one scripted session of a user, in a fresh moto
world with a frozen clock, each call recorded under the name of the guide's example block.

Each block renders as an HTTP request and its answer. Secrets, UUIDs and the random tails of ids are replaced by
stand-ins (the same value always gets the same stand-in), so that a run is reproducible; everything else is
what the API answered. tests/docs/test_api_guide.py compares the blocks with the guide.
"""
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

from chalicelib import clock

HOST = "127.0.0.1:8000"
START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
# Answer headers worth showing wherever they appear; the rate-limit ones only where a step asks for them.
SHOWN = ("ETag", "Cache-Control", "Retry-After", "WWW-Authenticate")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
BULK = "/bulk_operations"


class FrozenClock:
    """What clock.now (and the rate limit's time.time) answer during the session; steps move it on."""

    def __init__(self):
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def time(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@dataclass
class Recorder:
    client: object                       # chalice.test.Client's http
    tokens: dict[str, str]               # name shown in the guide -> secret
    clock: FrozenClock
    examples: dict[str, str] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    _stand_ins: dict[str, str] = field(default_factory=dict)

    def call(self, name: str, method: str, path: str, body=None, *, token: str | None = "admin",
             headers: dict | None = None, show: tuple[str, ...] = (), elide: str | None = None):
        """The answer to one call, recorded as example `name`; `elide` stands for an answer body shown before."""
        self.clock.advance(seconds=1)    # a second per call: times and newest-first orders as a user would see
        sent = {"Host": HOST, **({"Authorization": f"Bearer {self.tokens[token]}"} if token else {}),
                **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
        data = json.dumps(body).encode() if body is not None else b""
        response = self.client.request(method, path, headers={k.lower(): v for k, v in sent.items()}, body=data)
        request_lines = [f"{method} {path} HTTP/1.1"] + [
            f"{k}: {self._token_name(v) if k == 'Authorization' else v}" for k, v in sent.items() if k != "Host"]
        answer_headers = {k.lower(): (k, v) for k, v in response.headers.items()}
        shown = [answer_headers[h.lower()] for h in (*SHOWN, *show) if h.lower() in answer_headers]
        answer_lines = [f"HTTP/1.1 {response.status_code} {HTTPStatus(response.status_code).phrase}"] + [
            f"{k}: {v}" for k, v in shown]
        text = "```http\n" + "\n".join(request_lines) + _json_part(body) + "\n```\n\n```http\n" + "\n".join(
            answer_lines) + (f"\n\n{elide}" if elide else _json_part(_stable(_answer_body(response)))) + "\n```\n"
        self.examples[name] = self._stand_in(text)
        return response

    def later(self, name: str) -> None:
        """An example of routes not built yet: its block in the guide stays as written, marked pending."""
        self.pending.add(name)

    def _token_name(self, header: str) -> str:
        secret = header.removeprefix("Bearer ")
        names = [name for name, value in self.tokens.items() if value == secret]
        return f"Bearer <{names[0]} token>" if names else header

    def _stand_in(self, text: str) -> str:
        for pattern, make in _VOLATILE:
            text = pattern.sub(lambda m, make=make: self._stand_ins.setdefault(m.group(0), make(m.group(0), len(
                self._stand_ins))), text)
        return text


def _json_part(body) -> str:
    return "" if body in (None, b"", "") else "\n\n" + json.dumps(body, indent=2, ensure_ascii=False)


def _answer_body(response):
    if not response.body:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return response.body.decode()


def _stable(body):
    """The body with the maps whose key order the API does not fix (an audit entry's `changes`) sorted."""
    if isinstance(body, list):
        return [_stable(item) for item in body]
    if isinstance(body, dict):
        return {key: dict(sorted(value.items())) if key == "changes" and isinstance(value, dict) else _stable(value)
                for key, value in body.items()}
    return body


def _seeded(kind: str, n: int) -> str:
    return hashlib.sha256(f"{kind}{n}".encode()).hexdigest()


# Values that differ from run to run however frozen the clock: a token's secret (flt_ + 43 characters), UUIDs,
# the 8 random hex digits that end audit and diagnostic ids (after 12 of time), and measured durations.
_VOLATILE = [
    (re.compile(r'"duration_ms": \d+'), lambda value, n: '"duration_ms": 480'),
    (re.compile(r"flt_[A-Za-z0-9_-]{43}"), lambda value, n: "flt_" + _seeded("token", n)[:43]),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
     lambda value, n: str(uuid.UUID(_seeded("uuid", n)[:32], version=4))),
    (re.compile(r"(?<=[\"/=])(diag-)?[0-9a-f]{12}[0-9a-f]{8}(?=[\"/&])"),
     lambda value, n: value[:-8] + _seeded("id", n)[:8]),
]


def run(recorder: Recorder, frozen: FrozenClock, routes: dict, make_token) -> None:
    """The session the guide's examples come from, in the guide's order."""
    r = recorder
    # --- set-up by the platform's operator: an organization, a device type, a firmware image, tokens
    r.call("create-organization", "POST", "/admin/organizations/", {"name": "Acme Networks"}, token="platform")
    r.call("create-device-type", "POST", "/admin/device_types/", {
        "short_name": "rt5500", "name": "RT5500 router", "category": "router", "manufacturer": "Zequenze Systems",
        "product_class": "RT5500"}, token="platform")
    r.call("create-firmware-image", "POST", "/admin/firmware_images/", {
        "version": "2.4.1", "url": "https://firmware.example.com/rt5500/2.4.1.bin", "checksum": "9f" * 32,
        "device_types": [1]}, token="platform")
    created = r.call("create-token", "POST", "/admin/tokens/", {
        "name": "provisioning", "organization_id": 1, "permissions": [
            "devices:read", "devices:write", "devices:operate", "diagnostics:read", "diagnostics:write",
            "reports:read", "analytics:overview", "analytics:subscriber", "telemetry:write", "admin"]},
        token="platform")
    r.tokens["admin"] = created.json_body["token"]
    _, r.tokens["viewer"] = make_token(1, ["devices:read", "reports:read"], "dashboard")

    # --- authentication and errors
    r.call("no-token", "GET", "/inventory_device/?limit=1", token=None)
    r.call("missing-permission", "POST", "/inventory_device/", {
        "name": "edge-7", "serial_number": "ACME-0007", "type": 1, "organization_id": 1}, token="viewer")

    # --- devices
    created = r.call("create-device", "POST", "/inventory_device/", {
        "name": "edge-router-1", "serial_number": "ACME-0001", "type": 1, "organization_id": 1,
        "identifiers": {"imei": "356938035643809"}, "mac_address": "00:1B:44:11:3A:B7",
        "address": "10.20.0.7", "latitude": "40.4168", "longitude": "-3.7038", "password": "s3cret-admin"},
        headers={"Idempotency-Key": "create-ACME-0001"})
    retry = r.call("idempotent-retry", "POST", "/inventory_device/", {
        "name": "edge-router-1", "serial_number": "ACME-0001", "type": 1, "organization_id": 1,
        "identifiers": {"imei": "356938035643809"}, "mac_address": "00:1B:44:11:3A:B7",
        "address": "10.20.0.7", "latitude": "40.4168", "longitude": "-3.7038", "password": "s3cret-admin"},
        headers={"Idempotency-Key": "create-ACME-0001"}, elide="(the first answer's body: the same device, id 1)")
    assert retry.json_body == created.json_body
    r.call("idempotency-key-reused", "POST", "/inventory_device/", {
        "name": "edge-router-2", "serial_number": "ACME-0002", "type": 1, "organization_id": 1},
        headers={"Idempotency-Key": "create-ACME-0001"})
    for n in (2, 3):
        r.call(f"setup-device-{n}", "POST", "/inventory_device/", {
            "name": f"edge-router-{n}", "serial_number": f"ACME-000{n}", "type": 1, "organization_id": 1})
    r.call("validation-error", "POST", "/inventory_device/", {
        "name": "", "serial_number": "ACME-0009", "type": 1, "organization_id": 1, "latitude": "123.0",
        "colour": "blue"})
    r.call("duplicate-serial", "POST", "/inventory_device/", {
        "name": "edge-router-9", "serial_number": "ACME-0001", "type": 1, "organization_id": 1})
    r.call("not-found", "GET", "/inventory_device/999/")
    r.call("bad-query", "GET", "/inventory_device/?status=maybe")
    r.call("get-device", "GET", "/inventory_device/1/")
    second = r.call("list-first-page", "GET", "/inventory_device/?limit=1", token="viewer").json_body["next"]
    r.call("list-next-page", "GET", second.removeprefix(f"http://{HOST}"), token="viewer")
    r.call("cursor-of-other-filters", "GET", second.removeprefix(f"http://{HOST}").replace("limit=1", "limit=1&type=1"),
           token="viewer")
    r.call("patch-if-match", "PATCH", "/inventory_device/1/", {"description": "Rack 4, Madrid"},
           headers={"If-Match": '"1-1"'})
    r.call("patch-stale-if-match", "PATCH", "/inventory_device/1/", {"description": "Rack 5"},
           headers={"If-Match": '"1-1"'})

    # --- remote operations and the audit trail
    r.call("request-reboot", "PATCH", "/inventory_device/2/", {"reboot": True, "sync": True})
    r.call("list-operations", "GET", "/inventory_device/2/operations/")
    r.call("cancel-operation", "DELETE", "/inventory_device/2/operations/2/")
    r.call("audit-log", "GET", "/audit_log/?device_id=1&limit=2")

    # --- diagnostics
    r.call("create-diagnostic", "POST", "/inventory_device_diags/", {
        "device_id": 1, "diagnostic_type": "maintenance", "status": "completed", "priority": "low",
        "notes": "Fan replaced", "performed_by": "field-team-3",
        "issues": [{"severity": "low", "message": "Fan noise", "code": "FAN_NOISE"}]})
    r.call("list-diagnostics", "GET", "/inventory_device_diags/?id=1")

    # --- telemetry, history, summary and analytics
    hour_ago = clock.iso(frozen.now - timedelta(hours=1))
    r.call("ingest-connection-events", "POST", "/telemetry/connection_events/", {"records": [
        {"event_id": "radius-0001", "device_id": 1, "occurred_at": hour_ago, "event": "Start",
         "attributes": {"FramedIpAddress": "10.20.0.7", "InputBytes": "0", "OutputBytes": "0"}},
        {"event_id": "radius-0002", "device_id": {"kind": "imei", "id": "356938035643809"},
         "occurred_at": clock.iso(frozen.now - timedelta(minutes=30)), "event": "Stop",
         "attributes": {"InputBytes": "5120", "OutputBytes": "88000", "BytesUsed": "93120"}},
        {"event_id": "radius-0003", "device_id": 1, "occurred_at": "yesterday", "event": "Start"}]})
    r.call("ingest-app-sessions", "POST", "/telemetry/app_sessions/", {"records": [
        {"event_id": "session-0001", "device_id": {"kind": "serial", "id": "ACME-0001"}, "started_at": hour_ago,
         "app_id": "maps", "app_name": "Maps", "app_category": "navigation", "success": True,
         "response_time_ms": 120, "duration_s": 3.5, "bytes": 20480}]})
    r.call("ingest-usage", "POST", "/telemetry/usage/", {"records": [
        {"event_id": "usage-0001", "device_id": 1, "occurred_at": hour_ago, "mo_bytes": 5120, "mt_bytes": 88000,
         "protocol": "tcp", "destination_ip": "93.184.216.34"}]}, headers={"Idempotency-Key": "usage-batch-0001"})
    r.call("history-by-identifier", "POST", "/devices/connections/actions/list", {
        "deviceId": {"kind": "imei", "id": "356938035643809"}, "earliest": clock.iso(frozen.now - timedelta(days=1)),
        "latest": clock.iso(frozen.now)})
    r.call("history-of-device", "GET", f"/inventory_device/1/connection_history/?earliest="
           f"{clock.iso(frozen.now - timedelta(days=1))}&latest={clock.iso(frozen.now)}&limit=1")
    frozen.advance(seconds=61)      # the rollups read what was ingested at least a minute ago
    r.call("run-rollups", "POST", "/admin/rollups/", token="platform")
    summary = r.call("summary", "GET", "/device_app_connection_summary/?time_range=24h&limit=1", token="viewer")
    r.call("summary-not-modified", "GET", "/device_app_connection_summary/?time_range=24h&limit=1", token="viewer",
           headers={"If-None-Match": summary.headers["ETag"]})
    window = f"startDate={START.date()}T00:00:00%2B00:00&endDate={START.date()}T23:59:59%2B00:00"
    r.call("company-data-usage", "GET", f"/analytics/data-usage?{window}")
    r.call("subscriber-session-count", "GET", f"/analytics/session-count/356938035643809?{window}")

    # --- rate limits, tokens
    script_id, r.tokens["script"] = make_token(1, ["devices:read"], "nightly-script", rate_limit_per_minute=2)
    r.call("rate-limit-headers", "GET", "/inventory_device/1/", token="script", show=RATE_HEADERS,
           elide="(the device)")
    r.call("rate-limit-second", "GET", "/inventory_device/1/", token="script", show=RATE_HEADERS,
           elide="(the device)")
    r.call("rate-limited", "GET", "/inventory_device/1/", token="script", show=RATE_HEADERS)
    r.call("revoke-token", "DELETE", f"/admin/tokens/{script_id}/", token="platform")
    r.call("delete-device", "DELETE", "/inventory_device/3/")

    # --- bulk operations (API.md §11): filled from this run once the routes exist
    for name in ("bulk-dry-run", "bulk-create", "bulk-get", "bulk-devices", "bulk-pause"):
        if BULK not in routes:
            r.later(name)
    if BULK in routes:
        _bulk(r)


def _bulk(r: Recorder) -> None:
    target = {"organization_id": 1, "type": [1]}
    r.call("bulk-dry-run", "POST", "/bulk_operations/", {"operation": "reboot", "target": target, "dry_run": True})
    created = r.call("bulk-create", "POST", "/bulk_operations/", {
        "operation": "firmware_update", "parameters": {"firmware_image": 1}, "target": target,
        "rollout": {"max_per_minute": 200, "ramp": {"base_per_minute": 20, "increment_factor": 2,
                                                    "every_succeeded": 50}},
        "abort": {"failure_threshold_percent": 10, "min_finished": 20}},
        headers={"Idempotency-Key": "rollout-2.4.1"})
    bulk_id = created.json_body["id"]
    _first_round(r, bulk_id)
    r.call("bulk-get", "GET", f"/bulk_operations/{bulk_id}/")
    r.call("bulk-devices", "GET", f"/bulk_operations/{bulk_id}/devices/?limit=2")
    r.call("bulk-pause", "POST", f"/bulk_operations/{bulk_id}/pause/")


def _first_round(r: Recorder, bulk_id: int) -> None:
    """The background's first round (chalicelib/bulk/worker.py), its waits between slices moving the session's
    clock on: the target expanded, its first slices queued (no agent runs in this session)."""
    from unittest.mock import patch

    from chalicelib.bulk import worker

    with patch.object(clock, "sleep", lambda seconds: r.clock.advance(seconds=seconds)):
        worker.run_round(bulk_id, 0)
