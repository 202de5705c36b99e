"""One declaration per route (chalicelib/api/routes.py), and permissions that fail closed."""
from pathlib import Path

import pytest
from chalice import Chalice
from chalice.test import Client

from app import app
from chalicelib.api import routes
from chalicelib.api.envelope import http_middleware
from chalicelib.api.routes import PUBLIC, Routes
from infra.functions import lambda_functions

ROOT = Path(__file__).resolve().parents[2]


def test_every_route_of_app_py_is_declared_with_an_access_rule():
    assert routes.undeclared(app) == []
    served = [(method, path) for path, methods in app.routes.items() for method in methods]
    for method, path in served:
        access = routes.find(method, path).access
        assert access.public or access.needs, f"{method} {path}"


def test_public_routes_are_only_those_declared_public():
    public = sorted(path for (_, path), declared in routes.DECLARED.items()
                    if declared.access.public and path in app.routes)
    assert public == ["/docs", "/openapi.json"]


def test_admin_routes_need_admin_and_rollups_a_platform_token():
    for (method, path), declared in routes.DECLARED.items():
        if path.startswith("/admin/") and path in app.routes:
            assert "admin" in declared.access.needs, f"{method} {path}"
    assert routes.find("POST", "/admin/rollups").access.platform_only


def test_a_route_declared_without_an_access_rule_fails_at_import():
    probe = Routes(Chalice(app_name="probe"))
    with pytest.raises(TypeError):
        probe("GET", "/probe-no-access", summary="x", tag="x")    # access is a required argument
    with pytest.raises(TypeError):
        probe("GET", "/probe-empty-access", routes.needs(), "x", "x")


def test_an_app_with_a_route_outside_the_declarations_refuses_to_start():
    other = Chalice(app_name="probe")

    @other.route("/probe-plain")
    def plain():
        return {}

    with pytest.raises(RuntimeError, match="GET /probe-plain"):
        routes.verify(other)
    with pytest.raises(RuntimeError, match="GET /probe-plain"):     # nor are its policies and template written
        lambda_functions(other)


def test_a_route_added_after_start_up_is_refused_not_served(api, refused):
    # GIVEN an app whose middleware is ours, with one declared route and one plain @app.route added afterwards
    other = Chalice(app_name="probe")
    other.register_middleware(http_middleware, "http")
    declare = Routes(other)

    @declare("GET", "/probe-declared", PUBLIC, "A declared route", "meta")
    def declared():
        return {"ok": True}

    @other.route("/probe-undeclared")
    def undeclared():
        return {"secret": "data"}

    with Client(other, stage_name="dev", project_dir=str(ROOT)) as client:
        assert client.http.get("/probe-declared").json_body == {"ok": True}
        # THEN the undeclared one is refused even with a platform token
        response = client.http.get("/probe-undeclared", headers={"authorization": f"Bearer {api.platform}"})
        refused(response, 403, "ROUTE_NOT_DECLARED")


def test_a_path_id_is_an_int_by_the_time_the_view_sees_it(api, refused):
    org, dtype = api.organization(), api.device_type()
    device = api.device(org, dtype)
    assert api.get(f"/inventory_device/{device['id']:010d}/").json_body["id"] == device["id"]   # leading zeros
    refused(api.get("/inventory_device/%D9%A1/"), 400, "INVALID_PATH")


def test_permission_is_checked_before_the_body_is_parsed(api, refused):
    reader = api.token(api.organization(), ("devices:read",))
    refused(api.post("/inventory_device/", raw=b"{not json", token=reader), 403, "PERMISSION_DENIED")
    refused(api.post("/admin/tokens/", {"nonsense": True}, token=reader), 403, "PERMISSION_DENIED")
