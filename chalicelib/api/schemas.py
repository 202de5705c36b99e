"""Pydantic models of what the API answers, for the OpenAPI description (chalicelib/api/openapi.py) only.

The routes build their answers from stored items (each capability's `to_view` and PUBLIC_FIELDS), not from
these models: they describe those answers, and tests/openapi checks their fields against the PUBLIC_FIELDS
they describe, while tests/fuzz checks real answers against them. Imported only by GET /openapi.json.
Capabilities that have their own public models (organizations, device types, firmware images, tokens) are
described by those.
"""
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from chalicelib.audit.models import Action
from chalicelib.drivers.protocol import OperationName
from chalicelib.drivers.simulator import SimulatorBehaviour
from chalicelib.tokens.models import Token

Count = Annotated[int, Field(ge=0)]
Url = Annotated[str, Field(description="An absolute URL")]


class View(BaseModel):
    """An answer object: keys the model does not name are allowed (new fields do not break clients)."""
    model_config = ConfigDict(extra="allow")


# --- envelopes (API.md §1) -------------------------------------------------------------------------

class FieldProblem(View):
    field: str
    problem: str


class ErrorDetail(View):
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="UPPER_SNAKE")]
    message: Annotated[str, Field(min_length=1)]
    details: list[FieldProblem] = Field(default=None, description="Per-field problems, when there are some")


class ErrorBody(BaseModel):
    """Every error answer: {"error": {"code", "message", "details"?}}."""
    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


@cache
def page_of(model: type[BaseModel]) -> type[BaseModel]:
    """{"count", "next", "previous", "results"} of `model`, named `<Model>Page`."""
    return create_model(f"{model.__name__}Page", __base__=View, __doc__=f"A page of {model.__name__} items.",
                        count=(Count, Field(description="Items matching the filters, on every page")),
                        next=(Url | None, Field(description="The next page (with a cursor), or null")),
                        previous=(Url | None, Field(description="The previous page, or null")),
                        results=(list[model], ...))


# --- devices (API.md §2) ---------------------------------------------------------------------------

class Actor(View):
    token_id: int | None
    name: str


class PendingOperation(View):
    id: int
    operation: OperationName
    state: Literal["queued", "dispatched"]
    created: datetime


class DeviceIdentifiers(View):
    imei: str = None
    iccid: str = None
    imsi: str = None
    meid: str = None
    esn: str = None
    mdn: str = None
    msisdn: str = None
    eid: str = None
    eui: str = None


class Device(View):
    """The public view of a device (devices/db.py PUBLIC_FIELDS); never the password."""
    id: int
    uuid: str
    name: str
    customer_id: str | None
    is_active: bool
    status: Literal["Up", "Down"]
    status_change: datetime | None
    type: int
    type_short_name: str | None
    software_version: str | None
    hardware_version: str | None
    manufacturer: str | None
    unique_identifier: str | None
    product_class: str | None
    serial_number: str
    serial_number_alt: str | None
    description: str | None
    organization_id: int
    firmware_image: int | None
    firmware_image_is_pending: bool | None
    location: int | None
    location_name: str | None
    location_short_name: str | None
    latitude: Annotated[str, Field(description="Decimal degrees")] | None
    longitude: Annotated[str, Field(description="Decimal degrees")] | None
    address: str | None
    mac_address: str | None
    identifiers: DeviceIdentifiers | None
    username: str | None
    update_frequency: int | None
    debug: bool | None
    last_connection: datetime | None
    last_configuration: datetime | None
    last_change: datetime | None
    created: datetime | None
    pending_settings: Annotated[str, Field(description="<operation>:<state>, comma-separated")] | None
    pending_details: list[PendingOperation] = Field(default=None, description="Only with pending=true")


# --- operations (API.md §3) ------------------------------------------------------------------------

class OperationError(View):
    code: str
    message: str
    attempt: int


class Operation(View):
    id: int
    device_id: int
    operation: OperationName
    parameters: dict[str, Any] | None
    state: Literal["queued", "dispatched", "succeeded", "failed", "timed_out", "cancelled"]
    attempts: int
    error: OperationError | None
    requested_by: Actor | None
    created: datetime
    updated: datetime | None
    finished: datetime | None
    bulk_operation_id: int | None = Field(description="The bulk operation that requested it, if one did")


# --- audit trail (API.md §2) -----------------------------------------------------------------------

class AuditEntry(View):
    id: str
    device_id: int | None = Field(description="null for an entry of a bulk operation")
    organization_id: int | None = Field(description="null for a bulk operation over all organizations")
    action: Action
    changes: dict[str, Any]
    actor: Actor
    at: datetime


# --- administration (API.md §9) --------------------------------------------------------------------

class CreatedToken(Token):
    """The create answer: the only one that shows the secret. A retry with the same Idempotency-Key answers the
    same token with `token` null and `secret_withheld` saying why: the secret is stored nowhere."""
    token: str | None
    secret_withheld: str = Field(default=None, description="Only on a repeated create: why `token` is null")


class SimulatorSettings(SimulatorBehaviour):
    device_id: int


class ApiDescription(View):
    """This document (GET /openapi.json)."""
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
