"""A WSGI application in front of chalice.test.Client, so that schemathesis's in-process transport can call the
real app (middleware, routes, moto) without a server; and the small world the fuzzing runs against."""
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import quote

from chalicelib import clock
from tests.factories import Api, imei


class ChaliceWsgi:
    """WSGI over a chalice.test.Client (set by the test that owns the moto world); counts what it answered."""

    def __init__(self):
        self.client = None
        self.requests = 0
        self.statuses: dict[int, int] = {}

    def __call__(self, environ, start_response):
        raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
        if "?" not in raw_path and environ.get("QUERY_STRING"):
            raw_path += "?" + environ["QUERY_STRING"]
        headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items()
                   if name.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        response = self.client.http.request(environ["REQUEST_METHOD"], raw_path, headers=headers, body=body)
        self.requests += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        status = response.status_code
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        answer_headers = dict(response.headers)
        if response.body and not any(name.lower() == "content-type" for name in answer_headers):
            # What `chalice local` and API Gateway's proxy integration send for a body without one.
            answer_headers["Content-Type"] = "application/json"
        start_response(f"{status} {reason}", [(name, str(value)) for name, value in answer_headers.items()])
        return [response.body or b""]


@dataclass
class World:
    """What the fuzzing finds in the table: ids it may hit, and the token it calls with."""
    api: Api
    devices: list[int] = field(default_factory=list)
    token_id: int = 0

    @property
    def token(self) -> str:
        return self.api.platform


def build_world(api: Api, devices_per_organization: int = 3) -> World:
    """Two organizations with devices, a firmware image, an operation, diagnostics and telemetry, rolled up."""
    world = World(api)
    [world.token_id] = [t["id"] for t in api.get("/admin/tokens/").json_body["results"] if t["name"] == "platform"]
    types = [api.device_type(category="router"), api.device_type(category="gateway")]
    response = api.post("/admin/firmware_images/", {"version": "2.0.1", "url": "https://example.com/fw.bin",
                                                    "checksum": "a" * 64, "device_types": types})
    assert response.status_code == 201, response.body
    firmware = response.json_body["id"]
    serial = 0
    for name in ("fuzz-org-a", "fuzz-org-b"):
        organization = api.organization(name)
        for n in range(devices_per_organization):
            serial += 1
            device = api.device(organization, types[n % 2], identifiers={"imei": imei(9000 + serial)},
                                latitude="40.4168", longitude="-3.7038", firmware_image=firmware,
                                mac_address=f"00:1B:44:11:3A:{serial:02X}", address=f"10.0.0.{serial}")
            world.devices.append(device["id"])
    first = world.devices[0]
    assert api.patch(f"/inventory_device/{first}/", {"reboot": True}).status_code == 200
    assert api.post("/inventory_device_diags/", {"device_id": first, "diagnostic_type": "maintenance",
                                                 "issues": [{"severity": "low", "message": "Fan", "code": "FAN"}]},
                    ).status_code == 201
    _telemetry(api, world)
    return world


def _telemetry(api: Api, world: World) -> None:
    now = clock.now()
    at = [clock.iso(now - timedelta(hours=hours)) for hours in (1, 2, 30)]
    records = {
        "connection_events": [{"event_id": f"c{i}", "device_id": device, "occurred_at": at[i % 3],
                               "event": "Start", "attributes": {"FramedIpAddress": "10.1.1.1"}}
                              for i, device in enumerate(world.devices)],
        "app_sessions": [{"event_id": f"a{i}", "device_id": device, "started_at": at[i % 3], "app_id": "maps",
                          "app_name": "Maps", "app_category": "navigation", "success": i % 2 == 0,
                          "response_time_ms": 120, "duration_s": 3.5, "bytes": 2048}
                         for i, device in enumerate(world.devices)],
        "usage": [{"event_id": f"u{i}", "device_id": device, "occurred_at": at[i % 3], "mo_bytes": 100,
                   "mt_bytes": 900, "protocol": "TCP", "destination_ip": "93.184.216.34"}
                  for i, device in enumerate(world.devices)],
    }
    for kind, batch in records.items():
        response = api.post(f"/telemetry/{kind}/", {"records": batch})
        assert response.status_code == 202 and not response.json_body["rejected"], response.body
    # The summary and analytics read rolled-up figures only.
    assert api.post("/admin/rollups/").status_code == 200
