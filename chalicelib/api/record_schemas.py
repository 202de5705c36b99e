"""The three telemetry records as the OpenAPI description shows them (API.md §5), so that generated clients build
typed records: documentation only, imported by GET /openapi.json alone.

The ingest routes do not parse these. They parse the envelope (telemetry.models.IngestRequest) and then validate
each record on its own (telemetry.models.validate_record), so that one bad record is rejected with its index
while the rest are accepted: a JSON Schema cannot say "a bad item is answered, not refused". The real models also
check what a schema cannot (a time within the last 90 days, an address that parses), with validators that
pydantic cannot describe, hence this mirror. tests/openapi/test_ingest_records.py keeps the two equal: the same
fields, the same required ones, every example accepted by the real validation, and records that break a
described constraint rejected by it.
"""
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from chalicelib.devices.models import LOOKUP_KINDS
from chalicelib.telemetry.models import (
    MAX_ATTRIBUTES,
    MAX_COUNT,
    MAX_EXTENDED_ATTRIBUTES,
    MAX_KEY_LENGTH,
    MAX_RECORDS,
    MAX_VALUE_LENGTH,
)

EXAMPLE_TIME = "2026-12-01T09:30:00Z"

RecordTime = Annotated[AwareDatetime, Field(
    description="ISO 8601 with an offset or Z; at most 90 days old and at most 5 minutes ahead of the server's "
                "clock (else the record is rejected).")]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Measure = Annotated[float, Field(ge=0, le=MAX_COUNT, description="Kept to thousandths.")]
AttributeKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH)]
AttributeValue = Annotated[str, Field(max_length=MAX_VALUE_LENGTH)]


def _text(longest: int, description: str | None = None):
    return Annotated[str, Field(min_length=1, max_length=longest, description=description)]


class RecordDeviceIdentifier(BaseModel):
    """A device named by its serial number (kind `serial`) or one of its identifiers."""
    model_config = ConfigDict(extra="forbid")

    kind: Literal[LOOKUP_KINDS]
    id: _text(64)


class Record(BaseModel):
    """What every record has."""
    model_config = ConfigDict(extra="forbid")

    event_id: Annotated[str, Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
        description="Your id of the record, unique within your organization and the record's kind: a record "
                    "whose id was seen before counts as a duplicate and changes no figure.")]
    device_id: Annotated[
        Annotated[int, Field(ge=1, le=9_999_999_999)] | RecordDeviceIdentifier,
        Field(description="The device: its inventory id, or {\"kind\", \"id\"} naming it by serial number or "
                          "identifier.")]


class ConnectionEventRecord(Record):
    """A connection event (RADIUS accounting style)."""
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "event_id": "radius-7f3a-0001", "device_id": 1, "occurred_at": EXAMPLE_TIME, "event": "Start",
        "attributes": {"FramedIpAddress": "10.20.0.7", "InputBytes": "0", "OutputBytes": "0"}}]})

    occurred_at: RecordTime
    event: Literal["Start", "Stop", "Interim"]
    attributes: Annotated[dict[AttributeKey, AttributeValue], Field(
        max_length=MAX_ATTRIBUTES, description="Key/value strings: BytesUsed, InputBytes, OutputBytes, "
                                               "FramedIpAddress, ...; an `Event` key, if any, equals `event`.")] = {}
    extended_attributes: Annotated[dict[AttributeKey, AttributeValue], Field(max_length=MAX_EXTENDED_ATTRIBUTES)] = {}


class AppSessionRecord(Record):
    """An app session: one attempt of the device to connect to an application."""
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "event_id": "session-2291", "device_id": {"kind": "imei", "id": "356938035643809"},
        "started_at": EXAMPLE_TIME, "app_id": "maps", "app_name": "Maps", "app_category": "navigation",
        "success": True, "response_time_ms": 120, "duration_s": 3.5, "bytes": 20480}]})

    started_at: RecordTime
    app_id: _text(128)
    app_name: _text(256)
    app_category: _text(64)
    success: bool
    response_time_ms: Measure
    duration_s: Measure
    bytes: Count


class UsageRecord(Record):
    """A usage record: bytes the device sent (mo) and received (mt) over one protocol to one address."""
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "event_id": "usage-88120", "device_id": 1, "occurred_at": EXAMPLE_TIME, "mo_bytes": 1200,
        "mt_bytes": 58000, "protocol": "TCP", "destination_ip": "93.184.216.34"}]})

    occurred_at: RecordTime
    mo_bytes: Count
    mt_bytes: Count
    protocol: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9-]*[A-Za-z0-9][A-Za-z0-9-]*$",
                                   description="TCP, UDP, ICMP, ...: letters, digits or -, answered upper-case.")]
    destination_ip: Annotated[str, WithJsonSchema({"anyOf": [{"type": "string", "format": "ipv4"},
                                                             {"type": "string", "format": "ipv6"}],
                                                   "description": "An IPv4 or IPv6 address."})]


_BATCH_TEXT = (f"At most {MAX_RECORDS:,} records, validated one by one: a bad record is answered in `rejected` "
               "with its index and the others are stored (202). Only a body that is not {\"records\": [...]} is "
               "refused whole (400 or 422).")


class ConnectionEventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: Annotated[list[ConnectionEventRecord], Field(max_length=MAX_RECORDS, description=_BATCH_TEXT)]


class AppSessionBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: Annotated[list[AppSessionRecord], Field(max_length=MAX_RECORDS, description=_BATCH_TEXT)]


class UsageRecordBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: Annotated[list[UsageRecord], Field(max_length=MAX_RECORDS, description=_BATCH_TEXT)]


# The route of each record kind (telemetry.models.RECORD_MODELS' keys), and its documentation.
BATCHES: dict[str, tuple[str, type[BaseModel], type[Record]]] = {
    "connection_event": ("connection_events", ConnectionEventBatch, ConnectionEventRecord),
    "app_session": ("app_sessions", AppSessionBatch, AppSessionRecord),
    "usage": ("usage", UsageRecordBatch, UsageRecord),
}
