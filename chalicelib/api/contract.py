"""What each route of app.py takes and answers, by (METHOD, path): the registry the OpenAPI document is
generated from (chalicelib/api/openapi.py).

An entry names models, never schemas: the query model a route gives parse_query, the body model it gives
parse_body (for the ingest routes, the typed mirror of what they validate record by record), and the model of
each answer. Error answers follow from what a route takes (openapi.
error_statuses); `errors` adds the ones its use case raises besides. tests/openapi fails when app.py has a
route without an entry here, or an entry without a route.
"""
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field

from chalicelib.analytics.models import AnalyticsQuery, SubscriberQuery
from chalicelib.analytics.summary_models import SummaryQuery
from chalicelib.api import record_schemas as records
from chalicelib.api import report_schemas as reports
from chalicelib.api import schemas
from chalicelib.api.pagination import PageQuery
from chalicelib.api.reference import DocsQuery
from chalicelib.api.schemas import page_of
from chalicelib.audit.models import AuditQuery
from chalicelib.bulk.models import (
    BulkDevice,
    BulkDeviceListQuery,
    BulkDryRun,
    BulkOperation,
    BulkOperationCreate,
    BulkOperationListQuery,
)
from chalicelib.device_types.models import DeviceType, DeviceTypeCreate
from chalicelib.devices.models import DeviceCreate, DeviceListQuery, DevicePatch, DeviceQuery, DeviceReplace
from chalicelib.diagnostics.models import DiagnosticCreate, DiagnosticListQuery
from chalicelib.drivers.simulator import SimulatorBehaviour
from chalicelib.firmware.models import FirmwareImage, FirmwareImageCreate
from chalicelib.operations.models import OperationListQuery
from chalicelib.organizations.models import Organization, OrganizationCreate
from chalicelib.telemetry.models import HistoryQuery, HistoryRequest
from chalicelib.tokens.models import Token, TokenCreate

VERSION = "1.0.0"
DESCRIPTION = ("Fleetline's HTTP API (API.md), generated from its routes and their pydantic models. Every path "
               "also answers with a trailing slash. Lists take `limit`, `offset` and the opaque `cursor` found in "
               "`next`.")

Id = Annotated[int, Field(ge=1, le=9_999_999_999, description="A numeric id; anything else names nothing (404).")]


class PathParameters(BaseModel):
    """The path parameters of app.py's routes, by name."""
    device_id: Id
    operation_id: Id
    token_id: Id
    bulk_operation_id: Id
    physical_id: Annotated[str, Field(min_length=1, max_length=64,
                                      description="A device identifier: ICCID, EUI or IMEI (the seed's physicalId).")]


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    responses: dict[int, type[BaseModel] | None]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    idempotent: bool = False         # takes Idempotency-Key (api/idempotency.run_once)
    if_match: bool = False           # takes If-Match (api/conditional)
    if_none_match: bool = False      # takes If-None-Match (a 304 when it names the current ETag)
    etag: bool = False               # answers with an ETag
    description: str = ""
    answer: str = "Done."


def _catalogue(summary: str, model: type[BaseModel]) -> Op:
    return Op(summary, "administration", {200: page_of(model)}, query=PageQuery, answer="A page, ordered by id.")


def _created(summary: str, body: type[BaseModel], model: type[BaseModel], *errors: int) -> Op:
    return Op(summary, "administration", {201: model}, body=body, idempotent=True, errors=errors,
              answer="Created.")


def _ingest(summary: str, batch: type[BaseModel]) -> Op:
    # The route parses telemetry.models.IngestRequest and validates each record on its own; the body described
    # is its typed mirror (api/record_schemas.py), so that generated clients build typed records.
    return Op(summary, "telemetry", {202: reports.IngestResult}, body=batch, idempotent=True,
              description="Records are validated one by one: a bad one is answered in `rejected` with its index, "
                          "the others are stored.", answer="Accepted: figures per record.")


def _analytics(summary: str, model: type[BaseModel], subscriber: bool = False) -> Op:
    return Op(summary, "analytics", {200: model}, query=SubscriberQuery if subscriber else AnalyticsQuery,
              errors=(404,) if subscriber else (),
              description="Hour buckets; startDate and endDate are ISO 8601 with an offset, at most 366 days apart.")


_DEVICE = "/inventory_device/{device_id}"
_OPERATION = _DEVICE + "/operations/{operation_id}"
_BULK = "/bulk_operations/{bulk_operation_id}"

OPERATIONS: dict[tuple[str, str], Op] = {
    # devices (API.md §2)
    ("GET", "/inventory_device"): Op("List devices", "devices", {200: page_of(schemas.Device)}, query=DeviceListQuery,
                                     answer="A page of devices by id."),
    ("POST", "/inventory_device"): Op("Create a device", "devices", {201: schemas.Device}, body=DeviceCreate,
                                      idempotent=True, etag=True, errors=(409,), answer="Created."),
    ("GET", _DEVICE): Op("Get a device", "devices", {200: schemas.Device}, query=DeviceQuery, etag=True),
    ("PUT", _DEVICE): Op("Replace a device", "devices", {200: schemas.Device}, body=DeviceReplace, if_match=True,
                         etag=True, errors=(409, 412)),
    ("PATCH", _DEVICE): Op("Update a device, or request remote operations", "devices", {200: schemas.Device},
                           body=DevicePatch, idempotent=True, if_match=True, etag=True, errors=(409, 412),
                           description="Flags reboot, factory, device_factory, sync, reconf, debug and "
                                       "firmware_image_is_pending queue operations (they need devices:operate)."),
    ("DELETE", _DEVICE): Op("Delete a device and all its data", "devices", {204: None}, errors=(409, 412),
                            answer="Deleted."),
    # operations (API.md §3)
    ("GET", _DEVICE + "/operations"): Op("List a device's operations", "operations",
                                         {200: page_of(schemas.Operation)}, query=OperationListQuery,
                                         answer="A page, newest first."),
    ("GET", _OPERATION): Op("Get an operation", "operations", {200: schemas.Operation}),
    ("DELETE", _OPERATION): Op("Cancel a queued operation", "operations", {200: schemas.Operation}, errors=(409,),
                               answer="The cancelled operation."),
    ("GET", "/audit_log"): Op("List the audit trail", "devices", {200: page_of(schemas.AuditEntry)}, query=AuditQuery,
                              answer="A page, newest first."),
    # bulk operations (API.md §11)
    ("POST", "/bulk_operations"): Op("Start a bulk operation (or count its target: dry_run)", "bulk operations",
                                     {202: BulkOperation, 200: BulkDryRun}, body=BulkOperationCreate, idempotent=True,
                                     answer="Accepted: expanded and paced in the background (200: the dry run).",
                                     description="Needs devices:operate. `confirm: true` for factory and "
                                                 "device_factory; a platform token names organization_id or sets "
                                                 "all_organizations."),
    ("GET", "/bulk_operations"): Op("List bulk operations", "bulk operations", {200: page_of(BulkOperation)},
                                    query=BulkOperationListQuery, answer="A page, newest first."),
    ("GET", _BULK): Op("Get a bulk operation", "bulk operations", {200: BulkOperation}),
    ("GET", _BULK + "/devices"): Op("A bulk operation's devices", "bulk operations", {200: page_of(BulkDevice)},
                                    query=BulkDeviceListQuery, answer="A page, by device id."),
    **{("POST", f"{_BULK}/{action}"): Op(f"{action.title()} a bulk operation", "bulk operations",
                                         {200: BulkOperation}, idempotent=True, errors=(409,),
                                         answer=f"The bulk operation, {state}.")
       for action, state in (("pause", "paused"), ("resume", "running again"), ("cancel", "cancelled"))},
    # diagnostics (API.md §4)
    ("GET", "/inventory_device_diags"): Op("List diagnostic entries", "diagnostics",
                                           {200: page_of(reports.DiagnosticEntry)}, query=DiagnosticListQuery,
                                           errors=(404,), answer="A page, newest first."),
    ("POST", "/inventory_device_diags"): Op("Record a diagnostic entry", "diagnostics",
                                            {201: reports.DiagnosticEntry}, body=DiagnosticCreate, idempotent=True,
                                            errors=(404,), answer="Stored."),
    # telemetry and connection history (API.md §5, §6)
    ("POST", "/telemetry/connection_events"): _ingest("Ingest connection events", records.ConnectionEventBatch),
    ("POST", "/telemetry/app_sessions"): _ingest("Ingest app sessions", records.AppSessionBatch),
    ("POST", "/telemetry/usage"): _ingest("Ingest usage records", records.UsageRecordBatch),
    ("POST", "/devices/connections/actions/list"): Op("A device's connection history, by identifier", "telemetry",
                                                      {200: reports.ConnectionHistory}, body=HistoryRequest,
                                                      errors=(404,),
                                                      description="Every problem of the body is a 400 (its query)."),
    ("GET", _DEVICE + "/connection_history"): Op("A device's connection history", "telemetry",
                                                 {200: reports.DeviceConnectionHistory}, query=HistoryQuery),
    # connection summary and rollups (API.md §7, §9)
    ("GET", "/device_app_connection_summary"): Op("Device App Connection Summary", "reports",
                                                  {200: reports.DeviceAppConnectionSummary, 304: None},
                                                  query=SummaryQuery, if_none_match=True, etag=True,
                                                  answer="Precomputed figures; 304 when If-None-Match names them."),
    ("POST", "/admin/rollups"): Op("Run the rollups now", "administration", {200: reports.RollupRun}, idempotent=True,
                                   errors=(409,), answer="Done: what the run did."),
    # analytics (API.md §8)
    ("GET", "/analytics/data-usage"): _analytics("Company data usage", reports.DataUsage),
    ("GET", "/analytics/data-usage-by-subscriber"): _analytics("Company data usage by subscriber",
                                                               reports.DataUsageBySubscriber),
    ("GET", "/analytics/data-usage/{physical_id}"): _analytics("Subscriber data usage", reports.DataUsage, True),
    ("GET", "/analytics/session-count"): _analytics("Company session count", reports.FormattedCompanySessionCount),
    ("GET", "/analytics/session-count/{physical_id}"): _analytics("Subscriber session count",
                                                                  reports.SubscriberSessionCount, True),
    ("GET", "/analytics/data-usage-network-protocol"): _analytics("Company data usage by network protocol",
                                                                  reports.FormattedDataUsageByNetworkProtocol),
    ("GET", "/analytics/data-usage-ip-address"): _analytics("Company data usage by IP address",
                                                            reports.DataUsageByIpAddress),
    ("GET", "/analytics/data-usage-ip-address/{physical_id}"): _analytics("Subscriber data usage by IP address",
                                                                          reports.DataUsageByIpAddress, True),
    # administration (API.md §9)
    ("GET", "/admin/organizations"): _catalogue("List organizations", Organization),
    ("POST", "/admin/organizations"): _created("Create an organization", OrganizationCreate, Organization, 409),
    ("GET", "/admin/device_types"): _catalogue("List device types", DeviceType),
    ("POST", "/admin/device_types"): _created("Create a device type", DeviceTypeCreate, DeviceType, 409),
    ("GET", "/admin/firmware_images"): _catalogue("List firmware images", FirmwareImage),
    ("POST", "/admin/firmware_images"): _created("Add a firmware image", FirmwareImageCreate, FirmwareImage),
    ("GET", "/admin/tokens"): _catalogue("List tokens (never their secrets)", Token),
    ("POST", "/admin/tokens"): _created("Create a token (its secret is shown this once)", TokenCreate,
                                        schemas.CreatedToken),
    ("DELETE", "/admin/tokens/{token_id}"): Op("Revoke a token", "administration", {204: None}, answer="Revoked."),
    ("PUT", "/admin/simulator/{device_id}"): Op("Set how the simulated device behaves", "administration",
                                                {200: schemas.SimulatorSettings}, body=SimulatorBehaviour,
                                                description="Only while the simulated driver is in use (else 404)."),
    ("GET", "/admin/simulator/{device_id}"): Op("How the simulated device behaves", "administration",
                                                {200: schemas.SimulatorSettings}),
    # this document
    ("GET", "/openapi.json"): Op("This API description (OpenAPI 3.1)", "meta", {200: schemas.ApiDescription},
                                 answer="The document; no token needed."),
    ("GET", "/docs"): Op("The interactive reference of this document (Swagger UI)", "meta", {200: None},
                         query=DocsQuery, errors=(400,),
                         description="Open it in a browser; Authorize takes a bearer token for Try it out.",
                         answer="The page (text/html), or the asset named (JavaScript, CSS); no token needed."),
}
