"""Builders: a test states only the fields it cares about."""
import itertools
import json

from chalicelib.tokens import service as token_service
from chalicelib.tokens.models import PERMISSIONS, TokenCreate
from local.demo import luhn_complete

_serials = itertools.count(1)


def imei(n: int) -> str:
    return luhn_complete(f"35{n:012d}")


def device_body(organization_id: int, type_id: int, **overrides) -> dict:
    body = {"name": f"router-{next(_serials)}", "serial_number": f"SN{next(_serials):08d}",
            "type": type_id, "organization_id": organization_id}
    body.update(overrides)
    return body


class Api:
    """chalice.test.Client with JSON bodies and bearer tokens."""

    def __init__(self, client):
        self.client = client
        self.platform = token_service.create_token(None, TokenCreate(
            name="platform", permissions=list(PERMISSIONS), rate_limit_per_minute=100_000))["token"]

    def call(self, method: str, path: str, body=None, token: str | None = ..., headers: dict | None = None,
             raw: bytes | None = None):
        all_headers = {"content-type": "application/json", **(headers or {})}
        token = self.platform if token is ... else token
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        return self.client.http.request(method, path, headers=all_headers, body=data)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # --- fixtures made through the API itself ---

    def organization(self, name: str | None = None) -> int:
        response = self.post("/admin/organizations/", {"name": name or f"org-{next(_serials)}"})
        assert response.status_code == 201, response.body
        return response.json_body["id"]

    def device_type(self, **overrides) -> int:
        body = {"short_name": f"type_{next(_serials)}", "name": "Router", "category": "router",
                "manufacturer": "Zequenze Systems", "product_class": "RT5500"} | overrides
        response = self.post("/admin/device_types/", body)
        assert response.status_code == 201, response.body
        return response.json_body["id"]

    def token(self, organization_id: int | None, permissions=("devices:read", "devices:write"), **extra) -> str:
        body = {"name": f"token-{next(_serials)}", "organization_id": organization_id,
                "permissions": list(permissions)} | extra
        response = self.post("/admin/tokens/", body)
        assert response.status_code == 201, response.body
        return response.json_body["token"]

    def device(self, organization_id: int, type_id: int, **overrides) -> dict:
        response = self.post("/inventory_device/", device_body(organization_id, type_id, **overrides))
        assert response.status_code == 201, response.body
        return response.json_body

# What a request with live status may take beyond its budget in a test: the slow devices take 20 s, so this
# still proves the budget, while leaving room for a CI machine whose two cores run two test workers.
BUDGET_SLACK_SECONDS = 2.0
