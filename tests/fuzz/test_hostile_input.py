"""Hostile input never reaches a fault (API.md §1): a property-based test (hypothesis) drives every declared route's
path, query and body fields, one at a time, with lookalike digits (², ١٢, １２), huge and negative numbers, control
characters and tampered or foreign cursors, and checks each answer is a 2xx-4xx in the envelope, never a 5xx.

The routes come from their declarations (chalicelib/api/routes.py); each request starts from a valid one (the
world's ids, a valid body and the query's required fields) so that the one hostile value travels as far as the
code lets it: into a key, a condition or a stored item. Bounded: EXAMPLES per route, in one moto world.
"""
import json
import os
from datetime import timedelta
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import app
from chalicelib import clock
from chalicelib.api import routes
from chalicelib.api.contract import model
from tests.factories import device_body, imei

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "3"))
LOOKALIKES = ["²", "١٢", "１２", "٣٤٥", "𝟙𝟚", "1²", "١", "Ⅻ", "½"]
NUMBERS = ["-1", "0", "+5", "1_000", "1e3", "12.0", " 12", "0x1f", "9" * 11, "9" * 40, "-" + "9" * 40, "1" * 400]
CONTROL = ["\x00", "\x1f", "a\x00b", "\r\n", "\x7f", "\u202e", "\ufeff1", "", " ", "%", "'", '"', "\\"]
TEXTS = st.text(st.characters(codec="utf-8", categories=("Cc", "Nd", "No", "Nl", "Zs", "Cf")), max_size=16)
STRINGS = st.one_of(st.sampled_from(LOOKALIKES + NUMBERS + CONTROL), TEXTS)
BODY_VALUES = st.one_of(st.sampled_from([10 ** 40, "１２", -1, -(10 ** 40), 2 ** 63, 1e308, -1e-300, True, None, [], {},
                                         [10 ** 40], {"": 10 ** 40}, "9" * 40]),
                        STRINGS, st.integers(-10 ** 45, 10 ** 45))


def _world(api) -> dict:
    org, other_org = api.organization(), api.organization()
    dtype = api.device_type()
    device = api.device(org, dtype, identifiers={"imei": imei(7)})
    victim = api.device(org, dtype)
    assert api.patch(f"/inventory_device/{device['id']}/", {"reboot": True, "sync": True}).status_code == 200
    operation = api.get(f"/inventory_device/{device['id']}/operations/").json_body["results"][0]["id"]
    revocable = api.post("/admin/tokens/", {"name": "revocable", "organization_id": org,
                                            "permissions": ["devices:read"]}).json_body["id"]
    cursors = [_cursor(api, "/admin/organizations/?limit=1"), _cursor(api, "/inventory_device/?limit=1"),
               _cursor(api, f"/inventory_device/{device['id']}/operations/?limit=1")]
    return {"org": org, "other_org": other_org, "type": dtype, "device": device, "victim": victim["id"],
            "operation": operation, "token_id": revocable, "cursors": [c for c in cursors if c]}


def _cursor(api, path: str) -> str | None:
    next_url = api.get(path).json_body["next"]
    return next_url.split("cursor=")[1].split("&")[0] if next_url else None


def _tampered(cursors: list[str]):
    """Cursors of other lists (foreign), and real ones edited: a character flipped, cut, extended, re-parted."""
    real = st.sampled_from(cursors)
    flipped = st.tuples(real, st.integers(0, 200), st.sampled_from("Aa0_-.=")).map(
        lambda t: t[0][:t[1] % len(t[0])] + t[2] + t[0][t[1] % len(t[0]) + 1:])
    return st.one_of(real, flipped, real.map(lambda c: c[:-2]), real.map(lambda c: c + "AA"),
                     real.map(lambda c: c.partition(".")[0]), real.map(lambda c: c.replace(".", ".." )),
                     STRINGS)


def _path_values(world: dict, method: str, path: str) -> dict[str, str]:
    device = world["victim"] if method == "DELETE" and path.endswith("{device_id}") else world["device"]["id"]
    return {"device_id": str(device), "operation_id": str(world["operation"]), "token_id": str(world["token_id"]),
            "physical_id": world["device"]["identifiers"]["imei"]}


def _base_query(path: str) -> dict[str, str]:
    now = clock.now()
    if path.startswith("/analytics/"):
        return {"startDate": clock.iso(now - timedelta(days=1)), "endDate": clock.iso(now)}
    if path.endswith("/connection_history"):
        return {"earliest": clock.iso(now - timedelta(days=1)), "latest": clock.iso(now)}
    return {}


def _base_body(world: dict, method: str, path: str, serial: int):
    """A valid body for each route that takes one."""
    now, device = clock.iso(clock.now()), world["device"]
    record = {"event_id": f"e-{serial}", "device_id": device["id"]}
    bodies = {
        ("POST", "/inventory_device"): device_body(world["org"], world["type"], serial_number=f"HX{serial:08d}"),
        ("PUT", "/inventory_device/{device_id}"): device_body(world["org"], world["type"],
                                                              serial_number=device["serial_number"]),
        ("PATCH", "/inventory_device/{device_id}"): {"name": "patched"},
        ("POST", "/inventory_device_diags"): {"device_id": device["id"], "diagnostic_type": "maintenance"},
        ("POST", "/telemetry/connection_events"): {"records": [record | {"occurred_at": now, "event": "Start",
                                                                         "attributes": {"BytesUsed": "1"}}]},
        ("POST", "/telemetry/app_sessions"): {"records": [record | {
            "started_at": now, "app_id": "a1", "app_name": "App", "app_category": "tools", "success": True,
            "response_time_ms": 12, "duration_s": 3, "bytes": 100}]},
        ("POST", "/telemetry/usage"): {"records": [record | {"occurred_at": now, "mo_bytes": 1, "mt_bytes": 2,
                                                            "protocol": "TCP", "destination_ip": "10.0.0.1"}]},
        ("POST", "/devices/connections/actions/list"): {
            "deviceId": {"kind": "serial", "id": device["serial_number"]}, "earliest": clock.iso(clock.now() -
                                                                                                timedelta(days=1)),
            "latest": now},
        ("POST", "/admin/organizations"): {"name": f"hostile-{serial}"},
        ("POST", "/admin/device_types"): {"short_name": f"hx{serial}", "name": "Router", "category": "router"},
        ("POST", "/admin/firmware_images"): {"version": f"1.{serial}", "url": "https://example.com/fw.bin",
                                             "checksum": "a" * 64, "device_types": [world["type"]]},
        ("POST", "/admin/tokens"): {"name": "hx", "organization_id": world["org"], "permissions": ["devices:read"]},
        ("PUT", "/admin/simulator/{device_id}"): {"online": True, "latency_ms": 0, "fail": []},
    }
    return bodies.get((method, path))


def _leaves(value, prefix: tuple = ()) -> list[tuple]:
    """Where a hostile value can go in a body: every key, down to the records of an ingest body."""
    if isinstance(value, dict):
        return [prefix + (key,) for key in value] + [leaf for key, inner in value.items()
                                                     for leaf in _leaves(inner, prefix + (key,))
                                                     if isinstance(inner, (dict, list))]
    if isinstance(value, list) and value:
        return _leaves(value[0], prefix + (0,))
    return []


def _replace(body, where: tuple, value):
    body = json.loads(json.dumps(body))
    target = body
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    return body


def _targets(declared, base_body) -> list[tuple[str, object]]:
    """(kind, name or body position) of every field a hostile value can be put in."""
    targets = [("path", name) for name in _path_names(declared.path)]
    if declared.op.query:
        targets += [("query", name) for name in model(declared.op.query).model_fields]
    if declared.op.body:
        fields = {(name,) for name in model(declared.op.body).model_fields}
        targets += [("body", where) for where in sorted(fields | set(_leaves(base_body or {})), key=str)]
    return targets


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _call(api, world, declared, target, value, serial: int):
    method, path = declared.method, declared.path
    values = _path_values(world, method, path)
    query = _base_query(path)
    body = _base_body(world, method, path, serial)
    kind, name = target
    if kind == "path":
        values[name] = str(value)
    elif kind == "query":
        query[name] = str(value) if not isinstance(value, str) else value
    else:
        body = _replace(body if body is not None else {}, name, value)
    url = path
    for param, text in values.items():
        url = url.replace("{" + param + "}", quote(text, safe=""))
    url = url + "/" + ("?" + urlencode(query) if query else "")
    if body is None:
        return api.call(method, url)
    return api.call(method, url, raw=json.dumps(body).encode())


def _values(target: tuple, cursors):
    kind, name = target
    if kind == "query" and name == "cursor":
        return cursors
    return BODY_VALUES if kind == "body" else STRINGS | st.integers(-10 ** 45, 10 ** 45)


def _drive(api, world: dict, route, targets: list, cursors, serials) -> None:
    """Each example puts one hostile value in each field in turn: every field of the route gets EXAMPLES values, the
    first the simplest of each strategy (², a 40-digit number, a foreign cursor)."""
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def drive(data):
        for target in targets:
            value = data.draw(_values(target, cursors), label=str(target))
            response = _call(api, world, route, target, value, next(serials))
            assert response.status_code < 500, (route.method, route.path, target, value, response.body[:300])
            if response.status_code >= 400 and response.status_code != 405:
                assert set(json.loads(response.body)) == {"error"}, response.body[:300]

    drive()


def test_hostile_values_in_any_field_of_any_route_never_reach_a_5xx(api):
    world = _world(api)
    serials = iter(range(1, 10 ** 6))
    declared = sorted((routes.find(m, p) for p, methods in app.routes.items() for m in methods),
                      key=lambda d: (d.method == "DELETE", d.path, d.method))
    cursors = _tampered(world["cursors"])
    driven = 0
    for route in declared:
        targets = _targets(route, _base_body(world, route.method, route.path, 0))
        if targets:
            _drive(api, world, route, targets, cursors, serials)
            driven += len(targets)
    assert driven >= 200
