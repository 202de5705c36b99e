"""Fleetline's route table: every HTTP route, queue consumer and schedule, each handed to chalicelib."""
from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware

from chalicelib.api.auth import principal
from chalicelib.api.envelope import http_middleware
from chalicelib.api.idempotency import run_once
from chalicelib.api.pagination import PageQuery, Paging, page_body, slice_in_memory
from chalicelib.api.parsing import parse_body, parse_id, parse_query
from chalicelib.api.respond import no_content, respond
from chalicelib.audit import service as audit
from chalicelib.audit.models import AuditQuery
from chalicelib.device_types import service as device_types
from chalicelib.device_types.models import DeviceTypeCreate
from chalicelib.devices import service as devices
from chalicelib.devices.models import DeviceCreate, DeviceListQuery, DevicePatch, DeviceQuery, DeviceReplace
from chalicelib.firmware import service as firmware
from chalicelib.firmware.models import FirmwareImageCreate
from chalicelib.observability import logger, metrics
from chalicelib.organizations import service as organizations
from chalicelib.organizations.models import OrganizationCreate
from chalicelib.tokens import service as tokens
from chalicelib.tokens.models import TokenCreate

app = Chalice(app_name="fleetline")
app.register_middleware(ConvertToMiddleware(
    logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_middleware(http_middleware, "http")

DEVICE_PAGE = (20, 100)
AUDIT_PAGE = (50, 200)
ADMIN_PAGE = (50, 200)


def _device(result: tuple[dict, str], status: int = 200):
    body, etag = result
    return respond(body, status, {"ETag": etag})


def _catalogue(items: list[dict]):
    req = app.current_request
    paging = Paging(parse_query(req, PageQuery), *ADMIN_PAGE)
    page, more, last = slice_in_memory(items, paging)
    return page_body(req, paging, len(items), page, last, more)


# --- inventory devices (API.md §2) ----------------------------------------------------------------

@app.route("/inventory_device", methods=["GET"])
def list_inventory_devices():
    req = app.current_request
    query = parse_query(req, DeviceListQuery)
    paging = Paging(query, *DEVICE_PAGE)
    results, more, count, last = devices.list_devices(principal(), query, paging.limit, paging.skip, paging.after)
    return page_body(req, paging, count, results, last, more)


@app.route("/inventory_device", methods=["POST"])
def create_inventory_device():
    req = app.current_request
    body = parse_body(req, DeviceCreate)
    return run_once(req, principal(), lambda: _device(devices.create_device(principal(), body), 201))


@app.route("/inventory_device/{device_id}", methods=["GET"])
def get_inventory_device(device_id):
    query = parse_query(app.current_request, DeviceQuery)
    return _device(devices.get_device(principal(), parse_id(device_id, "device"), pending=query.pending))


@app.route("/inventory_device/{device_id}", methods=["PUT"])
def replace_inventory_device(device_id):
    req = app.current_request
    body = parse_body(req, DeviceReplace)
    return _device(devices.replace_device(principal(), parse_id(device_id, "device"), body,
                                          req.headers.get("if-match")))


@app.route("/inventory_device/{device_id}", methods=["PATCH"])
def patch_inventory_device(device_id):
    req = app.current_request
    body = parse_body(req, DevicePatch)
    return run_once(req, principal(), lambda: _device(
        devices.patch_device(principal(), parse_id(device_id, "device"), body, req.headers.get("if-match"))))


@app.route("/inventory_device/{device_id}", methods=["DELETE"])
def delete_inventory_device(device_id):
    devices.delete_device(principal(), parse_id(device_id, "device"))
    return no_content()


@app.route("/audit_log", methods=["GET"])
def list_audit_log():
    req = app.current_request
    query = parse_query(req, AuditQuery)
    paging = Paging(query, *AUDIT_PAGE)
    results, more, last = audit.list_audit_entries(principal(), query, paging)
    return page_body(req, paging, None, results, last, more)


# --- administration (API.md §9) -------------------------------------------------------------------

@app.route("/admin/organizations", methods=["GET"])
def list_organizations():
    return _catalogue(organizations.list_organizations(principal()))


@app.route("/admin/organizations", methods=["POST"])
def create_organization():
    req = app.current_request
    body = parse_body(req, OrganizationCreate)
    return run_once(req, principal(), lambda: respond(organizations.create_organization(principal(), body), 201))


@app.route("/admin/device_types", methods=["GET"])
def list_device_types():
    return _catalogue(device_types.list_device_types(principal()))


@app.route("/admin/device_types", methods=["POST"])
def create_device_type():
    req = app.current_request
    body = parse_body(req, DeviceTypeCreate)
    return run_once(req, principal(), lambda: respond(device_types.create_device_type(principal(), body), 201))


@app.route("/admin/firmware_images", methods=["GET"])
def list_firmware_images():
    return _catalogue(firmware.list_firmware_images(principal()))


@app.route("/admin/firmware_images", methods=["POST"])
def create_firmware_image():
    req = app.current_request
    body = parse_body(req, FirmwareImageCreate)
    return run_once(req, principal(), lambda: respond(firmware.create_firmware_image(principal(), body), 201))


@app.route("/admin/tokens", methods=["GET"])
def list_tokens():
    return _catalogue(tokens.list_tokens(principal()))


@app.route("/admin/tokens", methods=["POST"])
def create_token():
    req = app.current_request
    body = parse_body(req, TokenCreate)
    return run_once(req, principal(), lambda: respond(tokens.create_token(principal(), body), 201))


@app.route("/admin/tokens/{token_id}", methods=["DELETE"])
def revoke_token(token_id):
    tokens.revoke_token(principal(), parse_id(token_id, "token"))
    return no_content()
