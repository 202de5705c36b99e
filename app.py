"""Fleetline's route table: every HTTP route, queue consumer and schedule, each handed to chalicelib.

Capabilities are imported as packages whose modules load on first use (`devices.service`), so the
agent and schedule Lambdas, which import this file too, do not pay for the HTTP models.
"""
import os

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware, Rate

from chalicelib import (
    analytics,
    audit,
    bulk,
    device_types,
    devices,
    diagnostics,
    drivers,
    firmware,
    operations,
    organizations,
    rollups,
    telemetry,
    tokens,
)
from chalicelib.api.auth import principal
from chalicelib.api.envelope import http_middleware
from chalicelib.api.idempotency import run_once
from chalicelib.api.pagination import PageQuery, Paging, page_body, slice_in_memory
from chalicelib.api.parsing import parse_body, parse_id, parse_query
from chalicelib.api.respond import no_content, respond
from chalicelib.observability import logger, metrics

app = Chalice(app_name="fleetline")
app.register_middleware(ConvertToMiddleware(
    logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_middleware(http_middleware, "http")

DEVICE_PAGE = (20, 100)
AUDIT_PAGE = (50, 200)
OPERATION_PAGE = (20, 100)
ADMIN_PAGE = (50, 200)
BULK_PAGE = (20, 100)
BULK_DEVICE_PAGE = (100, 500)


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
    query = parse_query(req, devices.models.DeviceListQuery)
    paging = Paging(query, *DEVICE_PAGE)
    results, more, count, last = devices.service.list_devices(principal(), query, paging.limit, paging.skip,
                                                              paging.after)
    return page_body(req, paging, count, results, last, more)


@app.route("/inventory_device", methods=["POST"])
def create_inventory_device():
    req = app.current_request
    body = parse_body(req, devices.models.DeviceCreate)
    return run_once(req, principal(), lambda: _device(devices.service.create_device(principal(), body), 201))


@app.route("/inventory_device/{device_id}", methods=["GET"])
def get_inventory_device(device_id):
    query = parse_query(app.current_request, devices.models.DeviceQuery)
    return _device(devices.service.get_device(principal(), parse_id(device_id, "device"), pending=query.pending,
                                              update_status=query.update_status))


@app.route("/inventory_device/{device_id}", methods=["PUT"])
def replace_inventory_device(device_id):
    req = app.current_request
    body = parse_body(req, devices.models.DeviceReplace)
    return _device(devices.service.replace_device(principal(), parse_id(device_id, "device"), body,
                                          req.headers.get("if-match")))


@app.route("/inventory_device/{device_id}", methods=["PATCH"])
def patch_inventory_device(device_id):
    req = app.current_request
    body = parse_body(req, devices.models.DevicePatch)
    return run_once(req, principal(), lambda: _device(
        devices.service.patch_device(principal(), parse_id(device_id, "device"), body, req.headers.get("if-match"))))


@app.route("/inventory_device/{device_id}", methods=["DELETE"])
def delete_inventory_device(device_id):
    devices.service.delete_device(principal(), parse_id(device_id, "device"))
    return no_content()


@app.route("/inventory_device/{device_id}/operations", methods=["GET"])
def list_device_operations(device_id):
    req = app.current_request
    paging = Paging(parse_query(req, operations.models.OperationListQuery), *OPERATION_PAGE)
    results, more, count, last = operations.service.list_operations(principal(), parse_id(device_id, "device"),
                                                            paging.limit, paging.skip, paging.after)
    return page_body(req, paging, count, results, last, more)


@app.route("/inventory_device/{device_id}/operations/{operation_id}", methods=["GET"])
def get_device_operation(device_id, operation_id):
    return operations.service.get_operation(principal(), parse_id(device_id, "device"),
                                            parse_id(operation_id, "operation"))


@app.route("/inventory_device/{device_id}/operations/{operation_id}", methods=["DELETE"])
def cancel_device_operation(device_id, operation_id):
    answer = operations.service.cancel_operation(principal(), parse_id(device_id, "device"),
                                                 parse_id(operation_id, "operation"))
    _settle_bulk_progress()
    return answer


@app.on_sqs_message(queue=os.environ.get("OPERATIONS_QUEUE_NAME", "fleetline-operations.fifo"), batch_size=10)
def operations_agent_handler(event):
    answer = operations.agent.handle_batch(event.to_dict(), event.context)
    _settle_bulk_progress()   # the batch's results into their bulk operations' progress, and abort checks
    return answer


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_overdue_operations(event):
    operations.sweep.run(context=event.context)
    _settle_bulk_progress()


def _settle_bulk_progress():
    """Transitions of bulk operations' device operations, recorded as they committed, handed to bulk operations
    (operations never import them: docs/operations.md, "Layers")."""
    if moved := operations.transitions.drain():
        bulk.progress.settle(moved)


@app.route("/audit_log", methods=["GET"])
def list_audit_log():
    req = app.current_request
    query = parse_query(req, audit.models.AuditQuery)
    paging = Paging(query, *AUDIT_PAGE)
    results, more, count, last = audit.service.list_audit_entries(principal(), query, paging)
    return page_body(req, paging, count, results, last, more)


# --- bulk operations (API.md §11) -------------------------------------------------------------------

@app.route("/bulk_operations", methods=["POST"])
def create_bulk_operation():
    req = app.current_request
    body = parse_body(req, bulk.models.BulkOperationCreate)
    return run_once(req, principal(), lambda: _answered(*bulk.service.create_bulk_operation(principal(), body)))


def _answered(status: int, body: dict):
    return respond(body, status)


@app.route("/bulk_operations", methods=["GET"])
def list_bulk_operations():
    req = app.current_request
    query = parse_query(req, bulk.models.BulkOperationListQuery)
    paging = Paging(query, *BULK_PAGE)
    results, more, count, last = bulk.service.list_bulk_operations(principal(), query.state, paging.limit,
                                                                   paging.skip, paging.after)
    return page_body(req, paging, count, results, last, more)


@app.route("/bulk_operations/{bulk_operation_id}", methods=["GET"])
def get_bulk_operation(bulk_operation_id):
    return bulk.service.get_bulk_operation(principal(), parse_id(bulk_operation_id, "bulk_operation"))


@app.route("/bulk_operations/{bulk_operation_id}/devices", methods=["GET"])
def list_bulk_operation_devices(bulk_operation_id):
    req = app.current_request
    query = parse_query(req, bulk.models.BulkDeviceListQuery)
    paging = Paging(query, *BULK_DEVICE_PAGE)
    results, more, count, last = bulk.service.list_devices(principal(), parse_id(bulk_operation_id, "bulk_operation"),
                                                           query.state, paging.limit, paging.skip, paging.after)
    return page_body(req, paging, count, results, last, more)


@app.route("/bulk_operations/{bulk_operation_id}/pause", methods=["POST"])
def pause_bulk_operation(bulk_operation_id):
    req = app.current_request
    return run_once(req, principal(), lambda: respond(
        bulk.service.pause(principal(), parse_id(bulk_operation_id, "bulk_operation"))))


@app.route("/bulk_operations/{bulk_operation_id}/resume", methods=["POST"])
def resume_bulk_operation(bulk_operation_id):
    req = app.current_request
    return run_once(req, principal(), lambda: respond(
        bulk.service.resume(principal(), parse_id(bulk_operation_id, "bulk_operation"))))


@app.route("/bulk_operations/{bulk_operation_id}/cancel", methods=["POST"])
def cancel_bulk_operation(bulk_operation_id):
    req = app.current_request
    return run_once(req, principal(), lambda: respond(
        bulk.service.cancel(principal(), parse_id(bulk_operation_id, "bulk_operation"))))


@app.on_sqs_message(queue=os.environ.get("BULK_QUEUE_NAME", "fleetline-bulk.fifo"), batch_size=1)
def bulk_operations_worker(event):
    answer = bulk.worker.handle_batch(event.to_dict(), event.context)
    _settle_bulk_progress()
    return answer


@app.schedule(Rate(1, unit=Rate.MINUTES))
def revive_bulk_operations(event):
    bulk.worker.revive()


# --- diagnostics (API.md §4) ----------------------------------------------------------------------

DIAGNOSTIC_PAGE = (20, 100)


@app.route("/inventory_device_diags", methods=["GET"])
def list_inventory_device_diags():
    req = app.current_request
    query = parse_query(req, diagnostics.models.DiagnosticListQuery)
    paging = Paging(query, *DIAGNOSTIC_PAGE)
    results, more, count, last = diagnostics.service.list_entries(principal(), query, paging)
    return page_body(req, paging, count, results, last, more)


@app.route("/inventory_device_diags", methods=["POST"])
def create_inventory_device_diag():
    req = app.current_request
    body = parse_body(req, diagnostics.models.DiagnosticCreate)
    return run_once(req, principal(), lambda: respond(diagnostics.service.create_entry(principal(), body), 201))


@app.schedule(Rate(5, unit=Rate.MINUTES))
def run_health_checks(event):
    diagnostics.checks.run_due()


# --- telemetry ingestion and connection history (API.md §5, §6) --------------------------------------

def _ingest(kind: str):
    req = app.current_request
    body = parse_body(req, telemetry.models.IngestRequest)
    return run_once(req, principal(), lambda: respond(telemetry.ingest.ingest(principal(), kind, body), 202))


@app.route("/telemetry/connection_events", methods=["POST"])
def ingest_connection_events():
    return _ingest("connection_event")


@app.route("/telemetry/app_sessions", methods=["POST"])
def ingest_app_sessions():
    return _ingest("app_session")


@app.route("/telemetry/usage", methods=["POST"])
def ingest_usage_records():
    return _ingest("usage")


@app.route("/devices/connections/actions/list", methods=["POST"])
def list_device_connections():
    req = app.current_request
    return telemetry.views.list_connections(req, principal(), telemetry.models.parse_history_request(req))


@app.route("/inventory_device/{device_id}/connection_history", methods=["GET"])
def get_connection_history(device_id):
    req = app.current_request
    return telemetry.views.connection_history(req, principal(), parse_id(device_id, "device"),
                                              parse_query(req, telemetry.models.HistoryQuery))


# --- connection summary, analytics and their rollups (API.md §7, §8) ---------------------------------

@app.route("/device_app_connection_summary", methods=["GET"])
def get_device_app_connection_summary():
    req = app.current_request
    query = parse_query(req, analytics.summary_models.SummaryQuery)
    paging = Paging(query, *analytics.summary_models.SUMMARY_PAGE)
    page = analytics.summary.connection_summary(principal(), query, paging)
    return _cached(page.body(page_body(req, paging, page.count, page.results, page.last, page.more)))


def _cached(body: dict):
    """Cache-Control and ETag; 304 without a body when If-None-Match names the ETag."""
    tag = analytics.summary.etag(body)
    headers = analytics.summary.cache_headers(tag)
    if analytics.summary.not_modified(app.current_request.headers.get("if-none-match"), tag):
        return respond(None, 304, headers)
    return respond(body, 200, headers)


@app.route("/admin/rollups", methods=["POST"])
def run_rollups():
    req = app.current_request
    return run_once(req, principal(), lambda: respond(rollups.service.run_now(principal())))


@app.schedule(Rate(5, unit=Rate.MINUTES))
def roll_up_telemetry(event):
    rollups.service.run_scheduled(event.context)


def _analytics_query(subscriber: bool = False):
    model = analytics.models.SubscriberQuery if subscriber else analytics.models.AnalyticsQuery
    return parse_query(app.current_request, model)


@app.route("/analytics/data-usage", methods=["GET"])
def get_company_data_usage():
    return analytics.service.company_data_usage(principal(), _analytics_query())


@app.route("/analytics/data-usage-by-subscriber", methods=["GET"])
def get_company_data_usage_by_subscriber():
    return analytics.service.company_usage_by_subscriber(principal(), _analytics_query())


@app.route("/analytics/data-usage/{physical_id}", methods=["GET"])
def get_subscriber_data_usage(physical_id):
    caller = analytics.service.subscriber_caller(principal())   # 403 before the query's 400
    return analytics.service.subscriber_data_usage(caller, physical_id, _analytics_query(subscriber=True))


@app.route("/analytics/session-count", methods=["GET"])
def get_company_session_count():
    return analytics.service.company_session_count(principal(), _analytics_query())


@app.route("/analytics/session-count/{physical_id}", methods=["GET"])
def get_subscriber_session_count(physical_id):
    caller = analytics.service.subscriber_caller(principal())
    return analytics.service.subscriber_session_count(caller, physical_id, _analytics_query(subscriber=True))


@app.route("/analytics/data-usage-network-protocol", methods=["GET"])
def get_company_data_usage_by_protocol():
    return analytics.service.company_usage_by_protocol(principal(), _analytics_query())


@app.route("/analytics/data-usage-ip-address", methods=["GET"])
def get_company_data_usage_by_ip():
    return analytics.service.company_usage_by_ip(principal(), _analytics_query())


@app.route("/analytics/data-usage-ip-address/{physical_id}", methods=["GET"])
def get_subscriber_data_usage_by_ip(physical_id):
    caller = analytics.service.subscriber_caller(principal())
    return analytics.service.subscriber_usage_by_ip(caller, physical_id, _analytics_query(subscriber=True))


# --- administration (API.md §9) -------------------------------------------------------------------

@app.route("/admin/organizations", methods=["GET"])
def list_organizations():
    return _catalogue(organizations.service.list_organizations(principal()))


@app.route("/admin/organizations", methods=["POST"])
def create_organization():
    req = app.current_request
    body = parse_body(req, organizations.models.OrganizationCreate)
    return run_once(req, principal(),
                    lambda: respond(organizations.service.create_organization(principal(), body), 201))


@app.route("/admin/device_types", methods=["GET"])
def list_device_types():
    return _catalogue(device_types.service.list_device_types(principal()))


@app.route("/admin/device_types", methods=["POST"])
def create_device_type():
    req = app.current_request
    body = parse_body(req, device_types.models.DeviceTypeCreate)
    return run_once(req, principal(), lambda: respond(device_types.service.create_device_type(principal(), body), 201))


@app.route("/admin/firmware_images", methods=["GET"])
def list_firmware_images():
    return _catalogue(firmware.service.list_firmware_images(principal()))


@app.route("/admin/firmware_images", methods=["POST"])
def create_firmware_image():
    req = app.current_request
    body = parse_body(req, firmware.models.FirmwareImageCreate)
    return run_once(req, principal(), lambda: respond(firmware.service.create_firmware_image(principal(), body), 201))


@app.route("/admin/tokens", methods=["GET"])
def list_tokens():
    return _catalogue(tokens.service.list_tokens(principal()))


@app.route("/admin/tokens", methods=["POST"])
def create_token():
    req = app.current_request
    body = parse_body(req, tokens.models.TokenCreate)
    return run_once(req, principal(), lambda: respond(tokens.service.create_token(principal(), body), 201))


@app.route("/admin/tokens/{token_id}", methods=["DELETE"])
def revoke_token(token_id):
    tokens.service.revoke_token(principal(), parse_id(token_id, "token"))
    return no_content()


@app.route("/admin/simulator/{device_id}", methods=["PUT"])
def set_simulator_behaviour(device_id):
    drivers.simulator_settings.require_enabled()   # the route exists only while the simulated driver is in use
    return drivers.simulator_settings.set_behaviour(
        principal(), parse_id(device_id, "device"),
        parse_body(app.current_request, drivers.simulator.SimulatorBehaviour))


@app.route("/admin/simulator/{device_id}", methods=["GET"])
def get_simulator_behaviour(device_id):
    drivers.simulator_settings.require_enabled()
    return drivers.simulator_settings.get_behaviour(principal(), parse_id(device_id, "device"))


# --- API description ----------------------------------------------------------------------------------

@app.route("/openapi.json", methods=["GET"])
def get_openapi_description():
    from chalicelib.api import openapi  # every model of the API: loaded by this route only (cold start)
    return openapi.document(app.routes, openapi.server_url(app.current_request))


@app.route("/docs", methods=["GET"])
def get_api_reference():
    from chalicelib.api import reference  # Swagger UI's files: loaded by this route only (cold start)
    return reference.answer(app.current_request, parse_query(app.current_request, reference.DocsQuery))
