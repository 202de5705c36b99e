"""Fleetline's route table: every HTTP route, queue consumer and schedule, each handed to chalicelib.

Each route is declared once, by `route(method, path, access, summary, tag, **contract)` (chalicelib/api/routes.py):
the middleware checks its access, its wrapper hands the view its path ids as ints and the query and body its
contract names, parsed, and the OpenAPI document and the tests read the same declaration. A route declared with
plain @app.route makes the last line of this file refuse to start.

Capabilities are imported as packages whose modules load on first use (`devices.service`), so the
agent and schedule Lambdas, which import this file too, do not pay for the HTTP models.
"""
import os
from dataclasses import astuple

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware, Rate

from chalicelib import (
    analytics,
    api,
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
    snapstart,
    telemetry,
    tokens,
)
from chalicelib.api import routes
from chalicelib.api.auth import principal
from chalicelib.api.conditional import cached_answer
from chalicelib.api.envelope import http_middleware
from chalicelib.api.idempotency import run_once
from chalicelib.api.pagination import page_body, paging, slice_in_memory
from chalicelib.api.respond import no_content, respond
from chalicelib.api.routes import PUBLIC, any_of, needs
from chalicelib.observability import logger, metrics

app = Chalice(app_name="fleetline")
app.register_middleware(ConvertToMiddleware(
    logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_middleware(http_middleware, "http")
route = routes.Routes(app)
snapstart.register()    # SnapStart's hooks (API and agent Lambdas); nothing outside Lambda

DEVICE_PAGE = (20, 100)
AUDIT_PAGE = (50, 200)
OPERATION_PAGE = (20, 100)
ADMIN_PAGE = (50, 200)
BULK_PAGE = (20, 100)
BULK_DEVICE_PAGE = (100, 500)
DIAGNOSTIC_PAGE = (20, 100)
DEVICE = "/inventory_device/{device_id}"
OPERATION = DEVICE + "/operations/{operation_id}"


def _device(result: tuple[dict, str], status: int = 200):
    body, etag = result
    return respond(body, status, {"ETag": etag})


def _catalogue(query, items: list[dict]):
    req = app.current_request
    page_at = paging(req, query, *ADMIN_PAGE)
    page, more, last = slice_in_memory(items, page_at)
    return page_body(req, page_at, len(items), page, last, more)


def _listed(query, limits: tuple[int, int], list_page):
    """A page of a list: list_page(paging) gives (results, more, count, last sort value)."""
    req = app.current_request
    page_at = paging(req, query, *limits)
    results, more, count, last = list_page(page_at)
    return page_body(req, page_at, count, results, last, more)


# --- inventory devices (API.md §2) ----------------------------------------------------------------

@route("GET", "/inventory_device", "devices:read", "List devices", "devices", query="devices.models.DeviceListQuery",
       answers={200: "DevicePage"}, answer="A page of devices by id.")
def list_inventory_devices(query):
    return _listed(query, DEVICE_PAGE, lambda page_at: devices.service.list_devices(
        principal(), query, page_at.limit, page_at.skip, page_at.after))


@route("POST", "/inventory_device", "devices:write", "Create a device", "devices", body="devices.models.DeviceCreate",
       answers={201: "Device"}, idempotent=True, etag=True, errors=(409,), answer="Created.")
def create_inventory_device(body):
    return run_once(app.current_request, principal(),
                    lambda: _device(devices.service.create_device(principal(), body), 201))


@route("GET", DEVICE, "devices:read", "Get a device", "devices", query="devices.models.DeviceQuery",
       answers={200: "Device"}, etag=True)
def get_inventory_device(device_id, query):
    return _device(devices.service.get_device(principal(), device_id, pending=query.pending,
                                              update_status=query.update_status))


@route("PUT", DEVICE, "devices:write", "Replace a device", "devices", body="devices.models.DeviceReplace",
       answers={200: "Device"}, if_match=True, etag=True, errors=(409, 412))
def replace_inventory_device(device_id, body):
    if_match = app.current_request.headers.get("if-match")
    return _device(devices.service.replace_device(principal(), device_id, body, if_match))


@route("PATCH", DEVICE, any_of("devices:write", "devices:operate"), "Update a device, or request remote operations",
       "devices", body="devices.models.DevicePatch", answers={200: "Device"}, idempotent=True, if_match=True,
       etag=True, errors=(409, 412),
       description="Flags reboot, factory, device_factory, sync, reconf, debug and firmware_image_is_pending queue "
                   "operations (they need devices:operate).")
def patch_inventory_device(device_id, body):
    req = app.current_request
    return run_once(req, principal(), lambda: _device(
        devices.service.patch_device(principal(), device_id, body, req.headers.get("if-match"))))


@route("DELETE", DEVICE, "devices:write", "Delete a device and all its data", "devices", answers={204: None},
       errors=(409, 412), answer="Deleted.")
def delete_inventory_device(device_id):
    devices.service.delete_device(principal(), device_id)
    return no_content()


@route("GET", DEVICE + "/operations", "devices:read", "List a device's operations", "operations",
       query="operations.models.OperationListQuery", answers={200: "OperationPage"}, answer="A page, newest first.")
def list_device_operations(device_id, query):
    return _listed(query, OPERATION_PAGE, lambda page_at: operations.service.list_operations(
        principal(), device_id, page_at.limit, page_at.skip, page_at.after))


@route("GET", OPERATION, "devices:read", "Get an operation", "operations", answers={200: "Operation"})
def get_device_operation(device_id, operation_id):
    return operations.service.get_operation(principal(), device_id, operation_id)


@route("DELETE", OPERATION, "devices:operate", "Cancel a queued operation", "operations", answers={200: "Operation"},
       errors=(409,), answer="The cancelled operation.")
def cancel_device_operation(device_id, operation_id):
    answer = operations.service.cancel_operation(principal(), device_id, operation_id)
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


@route("GET", "/audit_log", "devices:read", "List the audit trail", "devices", query="audit.models.AuditQuery",
       answers={200: "AuditEntryPage"}, answer="A page, newest first.")
def list_audit_log(query):
    return _listed(query, AUDIT_PAGE, lambda page_at: audit.service.list_audit_entries(principal(), query, page_at))


# --- bulk operations (API.md §11) -------------------------------------------------------------------

BULK = "/bulk_operations/{bulk_operation_id}"


@route("POST", "/bulk_operations", "devices:operate", "Start a bulk operation (or count its target: dry_run)",
       "bulk operations", body="bulk.models.BulkOperationCreate",
       answers={202: "bulk.models.BulkOperation", 200: "bulk.models.BulkDryRun"}, idempotent=True,
       answer="Accepted: expanded and paced in the background (200: the dry run).",
       description="`confirm: true` for factory and device_factory; a platform token names organization_id or sets "
                   "all_organizations.")
def create_bulk_operation(body):
    return run_once(app.current_request, principal(),
                    lambda: _answered(*bulk.service.create_bulk_operation(principal(), body)))


def _answered(status: int, body: dict):
    return respond(body, status)


@route("GET", "/bulk_operations", "devices:read", "List bulk operations", "bulk operations",
       query="bulk.models.BulkOperationListQuery", answers={200: "bulk.models.BulkOperationPage"},
       answer="A page, newest first.")
def list_bulk_operations(query):
    return _listed(query, BULK_PAGE, lambda page_at: bulk.service.list_bulk_operations(
        principal(), query.state, page_at.limit, page_at.skip, page_at.after))


@route("GET", BULK, "devices:read", "Get a bulk operation", "bulk operations",
       answers={200: "bulk.models.BulkOperation"})
def get_bulk_operation(bulk_operation_id):
    return bulk.service.get_bulk_operation(principal(), bulk_operation_id)


@route("GET", BULK + "/devices", "devices:read", "A bulk operation's devices", "bulk operations",
       query="bulk.models.BulkDeviceListQuery", answers={200: "bulk.models.BulkDevicePage"},
       answer="A page, by device id.")
def list_bulk_operation_devices(bulk_operation_id, query):
    return _listed(query, BULK_DEVICE_PAGE, lambda page_at: bulk.service.list_devices(
        principal(), bulk_operation_id, query.state, page_at.limit, page_at.skip, page_at.after))


def _bulk_action(action: str, state: str):
    return route("POST", f"{BULK}/{action}", "devices:operate", f"{action.title()} a bulk operation",
                 "bulk operations", answers={200: "bulk.models.BulkOperation"}, idempotent=True, errors=(409,),
                 answer=f"The bulk operation, {state}.")


@_bulk_action("pause", "paused")
def pause_bulk_operation(bulk_operation_id):
    return run_once(app.current_request, principal(),
                    lambda: respond(bulk.service.pause(principal(), bulk_operation_id)))


@_bulk_action("resume", "running again")
def resume_bulk_operation(bulk_operation_id):
    return run_once(app.current_request, principal(),
                    lambda: respond(bulk.service.resume(principal(), bulk_operation_id)))


@_bulk_action("cancel", "cancelled")
def cancel_bulk_operation(bulk_operation_id):
    return run_once(app.current_request, principal(),
                    lambda: respond(bulk.service.cancel(principal(), bulk_operation_id)))


@app.on_sqs_message(queue=os.environ.get("BULK_QUEUE_NAME", "fleetline-bulk.fifo"), batch_size=1)
def bulk_operations_worker(event):
    answer = bulk.worker.handle_batch(event.to_dict(), event.context)
    _settle_bulk_progress()
    return answer


@app.schedule(Rate(1, unit=Rate.MINUTES))
def revive_bulk_operations(event):
    bulk.worker.revive()


# --- diagnostics (API.md §4) ----------------------------------------------------------------------

@route("GET", "/inventory_device_diags", "diagnostics:read", "List diagnostic entries", "diagnostics",
       query="diagnostics.models.DiagnosticListQuery", answers={200: "DiagnosticEntryPage"}, errors=(404,),
       answer="A page, newest first.")
def list_inventory_device_diags(query):
    return _listed(query, DIAGNOSTIC_PAGE, lambda page_at: diagnostics.service.list_entries(principal(), query,
                                                                                             page_at))


@route("POST", "/inventory_device_diags", "diagnostics:write", "Record a diagnostic entry", "diagnostics",
       body="diagnostics.models.DiagnosticCreate", answers={201: "DiagnosticEntry"}, idempotent=True, errors=(404,),
       answer="Stored.")
def create_inventory_device_diag(body):
    return run_once(app.current_request, principal(),
                    lambda: respond(diagnostics.service.create_entry(principal(), body), 201))


@app.schedule(Rate(5, unit=Rate.MINUTES))
def run_health_checks(event):
    diagnostics.checks.run_due()


# --- telemetry ingestion and connection history (API.md §5, §6) --------------------------------------

def _ingest_route(records: str, summary: str, batch: str):
    # Parsed loosely (telemetry.models.IngestRequest) and validated record by record; described as typed records.
    return route("POST", f"/telemetry/{records}", "telemetry:write", summary, "telemetry",
                 body="telemetry.models.IngestRequest", described_body=f"api.record_schemas.{batch}",
                 answers={202: "IngestResult"}, idempotent=True,
                 description="Records are validated one by one: a bad one is answered in `rejected` with its index, "
                             "the others are stored.", answer="Accepted: figures per record.")


def _ingest(kind: str, body):
    return run_once(app.current_request, principal(),
                    lambda: respond(telemetry.ingest.ingest(principal(), kind, body), 202))


@_ingest_route("connection_events", "Ingest connection events", "ConnectionEventBatch")
def ingest_connection_events(body):
    return _ingest("connection_event", body)


@_ingest_route("app_sessions", "Ingest app sessions", "AppSessionBatch")
def ingest_app_sessions(body):
    return _ingest("app_session", body)


@_ingest_route("usage", "Ingest usage records", "UsageRecordBatch")
def ingest_usage_records(body):
    return _ingest("usage", body)


# Parsed by the view (api.connection_history.parse_history_request): every problem of this body is a 400 (its query).
@route("POST", "/devices/connections/actions/list", "devices:read", "A device's connection history, by identifier",
       "telemetry", body="telemetry.models.HistoryRequest", answers={200: "ConnectionHistory"}, errors=(404,),
       description="Every problem of the body is a 400 (its query).")
def list_device_connections():
    req = app.current_request
    return api.connection_history.list_connections(req, principal(), api.connection_history.parse_history_request(req))


@route("GET", DEVICE + "/connection_history", "devices:read", "A device's connection history", "telemetry",
       query="telemetry.models.HistoryQuery", answers={200: "DeviceConnectionHistory"})
def get_connection_history(device_id, query):
    return api.connection_history.connection_history(app.current_request, principal(), device_id, query)


# --- connection summary, analytics and their rollups (API.md §7, §8) ---------------------------------

@route("GET", "/device_app_connection_summary", "reports:read", "Device App Connection Summary", "reports",
       query="analytics.summary_models.SummaryQuery", answers={200: "DeviceAppConnectionSummary", 304: None},
       if_none_match=True, etag=True, answer="Precomputed figures; 304 when If-None-Match names them.")
def get_device_app_connection_summary(query):
    req = app.current_request
    page_at = paging(req, query, *analytics.summary_models.SUMMARY_PAGE)
    page = analytics.summary.connection_summary(principal(), query, page_at)
    body = page.body(page_body(req, page_at, page.count, page.results, page.last, page.more))
    return cached_answer(req, body, analytics.summary.MAX_AGE_SECONDS)


@route("POST", "/admin/rollups", needs("admin", platform_only=True), "Run the rollups now", "administration",
       answers={200: "RollupRun", 202: "RollupRun"}, idempotent=True,
       answer="Every record acknowledged before the request is in the figures (200); a backlog larger than one request "
              "is 202 with Retry-After, and a repeat carries on.")
def run_rollups():
    return run_once(app.current_request, principal(),
                    lambda: respond(*astuple(rollups.service.run_now(principal()))))


@app.schedule(Rate(2, unit=Rate.MINUTES))
def roll_up_telemetry(event):
    rollups.service.run_scheduled(event.context)


@app.on_sqs_message(queue=os.environ.get("ROLLUP_QUEUE_NAME", "fleetline-rollups.fifo"), batch_size=10)
def aggregate_telemetry(event):
    return rollups.worker.handle_batch(event.to_dict(), event.context)


OVERVIEW = "analytics:overview"
SUBSCRIBER = needs(OVERVIEW, "analytics:subscriber")


def _range(sliced: bool) -> str:
    return ("Hour buckets; startDate and endDate are ISO 8601 with an offset, at most 366 days apart. An answer over "
            "5 MB is 400 RESPONSE_TOO_LARGE" + (" unless limit and offset ask for a slice of its map (the answer then "
                                                "adds `count`)." if sliced else "."))


def _company(path: str, summary: str, answer: str, query: str = "AnalyticsQuery"):
    return route("GET", path, OVERVIEW, summary, "analytics", query=f"analytics.models.{query}",
                 answers={200: answer}, description=_range(query == "MapQuery"))


def _subscriber(path: str, summary: str, answer: str, query: str = "SubscriberQuery"):
    return route("GET", path, SUBSCRIBER, summary, "analytics", query=f"analytics.models.{query}",
                 answers={200: answer}, errors=(404,), description=_range(query == "SubscriberMapQuery"))


@_company("/analytics/data-usage", "Company data usage", "DataUsage")
def get_company_data_usage(query):
    return analytics.service.company_data_usage(principal(), query)


@_company("/analytics/data-usage-by-subscriber", "Company data usage by subscriber", "DataUsageBySubscriber",
          "MapQuery")
def get_company_data_usage_by_subscriber(query):
    return analytics.service.company_usage_by_subscriber(principal(), query)


@_subscriber("/analytics/data-usage/{physical_id}", "Subscriber data usage", "DataUsage")
def get_subscriber_data_usage(physical_id, query):
    return analytics.service.subscriber_data_usage(analytics.service.subscriber_caller(principal()), physical_id,
                                                   query)


@_company("/analytics/session-count", "Company session count", "FormattedCompanySessionCount")
def get_company_session_count(query):
    return analytics.service.company_session_count(principal(), query)


@_subscriber("/analytics/session-count/{physical_id}", "Subscriber session count", "SubscriberSessionCount")
def get_subscriber_session_count(physical_id, query):
    return analytics.service.subscriber_session_count(analytics.service.subscriber_caller(principal()), physical_id,
                                                      query)


@_company("/analytics/data-usage-network-protocol", "Company data usage by network protocol",
          "FormattedDataUsageByNetworkProtocol")
def get_company_data_usage_by_protocol(query):
    return analytics.service.company_usage_by_protocol(principal(), query)


@_company("/analytics/data-usage-ip-address", "Company data usage by IP address", "DataUsageByIpAddress", "MapQuery")
def get_company_data_usage_by_ip(query):
    return analytics.service.company_usage_by_ip(principal(), query)


@_subscriber("/analytics/data-usage-ip-address/{physical_id}", "Subscriber data usage by IP address",
             "DataUsageByIpAddress", "SubscriberMapQuery")
def get_subscriber_data_usage_by_ip(physical_id, query):
    return analytics.service.subscriber_usage_by_ip(analytics.service.subscriber_caller(principal()), physical_id,
                                                    query)


# --- administration (API.md §9) -------------------------------------------------------------------

def _admin_list(path: str, summary: str, model: str):
    return route("GET", path, "admin", summary, "administration", query="paging.PageQuery",
                 answers={200: model + "Page"}, answer="A page, ordered by id.")


def _admin_create(path: str, summary: str, body: str, model: str, *errors: int):
    return route("POST", path, "admin", summary, "administration", body=body, answers={201: model},
                 idempotent=True, errors=errors, answer="Created.")


@_admin_list("/admin/organizations", "List organizations", "organizations.models.Organization")
def list_organizations(query):
    return _catalogue(query, organizations.service.list_organizations(principal()))


@_admin_create("/admin/organizations", "Create an organization", "organizations.models.OrganizationCreate",
               "organizations.models.Organization", 409)
def create_organization(body):
    return run_once(app.current_request, principal(),
                    lambda: respond(organizations.service.create_organization(principal(), body), 201))


@_admin_list("/admin/device_types", "List device types", "device_types.models.DeviceType")
def list_device_types(query):
    return _catalogue(query, device_types.service.list_device_types(principal()))


@_admin_create("/admin/device_types", "Create a device type", "device_types.models.DeviceTypeCreate",
               "device_types.models.DeviceType", 409)
def create_device_type(body):
    return run_once(app.current_request, principal(),
                    lambda: respond(device_types.service.create_device_type(principal(), body), 201))


@_admin_list("/admin/firmware_images", "List firmware images", "firmware.models.FirmwareImage")
def list_firmware_images(query):
    return _catalogue(query, firmware.service.list_firmware_images(principal()))


@_admin_create("/admin/firmware_images", "Add a firmware image", "firmware.models.FirmwareImageCreate",
               "firmware.models.FirmwareImage")
def create_firmware_image(body):
    return run_once(app.current_request, principal(),
                    lambda: respond(firmware.service.create_firmware_image(principal(), body), 201))


@_admin_list("/admin/tokens", "List tokens (never their secrets)", "tokens.models.Token")
def list_tokens(query):
    return _catalogue(query, tokens.service.list_tokens(principal()))


# A retry with the same Idempotency-Key answers the token without its secret, which is stored nowhere.
@_admin_create("/admin/tokens", "Create a token (its secret is shown this once)", "tokens.models.TokenCreate",
               "CreatedToken")
def create_token(body):
    return run_once(app.current_request, principal(),
                    lambda: respond(tokens.service.create_token(principal(), body), 201),
                    replay=tokens.service.replayed_answer)


@route("DELETE", "/admin/tokens/{token_id}", "admin", "Revoke a token", "administration", answers={204: None},
       answer="Revoked.")
def revoke_token(token_id):
    tokens.service.revoke_token(principal(), token_id)
    return no_content()


@route("PUT", "/admin/simulator/{device_id}", "admin", "Set how the simulated device behaves", "administration",
       body="drivers.simulator.SimulatorBehaviour", answers={200: "SimulatorSettings"},
       description="Only while the simulated driver is in use (else 404).")
def set_simulator_behaviour(device_id, body):
    drivers.simulator_settings.require_enabled()   # the route exists only while the simulated driver is in use
    return drivers.simulator_settings.set_behaviour(principal(), device_id, body)


@route("GET", "/admin/simulator/{device_id}", "admin", "How the simulated device behaves", "administration",
       answers={200: "SimulatorSettings"})
def get_simulator_behaviour(device_id):
    drivers.simulator_settings.require_enabled()
    return drivers.simulator_settings.get_behaviour(principal(), device_id)


# --- API description ----------------------------------------------------------------------------------

@route("GET", "/openapi.json", PUBLIC, "This API description (OpenAPI 3.1)", "meta", answers={200: "ApiDescription"},
       answer="The document; no token needed.")
def get_openapi_description():
    from chalicelib.api import openapi  # every model of the API: loaded by this route only (cold start)
    return openapi.document(app.routes, openapi.server_url(app.current_request))


@route("GET", "/docs", PUBLIC, "The interactive reference of this document (Swagger UI)", "meta", answers={200: None},
       query="api.reference.DocsQuery", errors=(400,),
       description="Open it in a browser; Authorize takes a bearer token for Try it out.",
       answer="The page (text/html), or the asset named (JavaScript, CSS); no token needed.")
def get_api_reference(query):
    from chalicelib.api import reference  # Swagger UI's files: loaded by this route only (cold start)
    return reference.answer(app.current_request, query)


routes.verify(app)
