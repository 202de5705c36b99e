"""Telemetry records (API.md §5) and connection-history queries (API.md §6), validated at the edge.

A request body is parsed once as IngestRequest (the envelope); each record is then validated on its own
(`validate_record`), so one bad record is rejected with its index while the others are accepted.
Limits are documented in docs/telemetry.md; they keep a raw item far below DynamoDB's 400 KB.
"""
import ipaddress
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib import clock
from chalicelib.devices.models import LOOKUP_KINDS
from chalicelib.errors import BadRequest, field_problem
from chalicelib.ids import whole
from chalicelib.paging import MAX_LIMIT

MAX_RECORDS = 1000
MAX_ATTRIBUTES = 64               # connection event `attributes` (the seed's RADIUS example has 42)
MAX_EXTENDED_ATTRIBUTES = 32
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 256
MAX_AGE = timedelta(days=90)      # API.md §5: records up to 90 days old are accepted
MAX_AHEAD = timedelta(minutes=5)  # clock skew allowed to a device reporting "now"
MAX_COUNT = 10**15                # bytes and durations: a petabyte, far beyond any one record
HISTORY_PAGE = 500                # API.md §6


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", message)


def _utc(value: Any, naive_is_utc: bool) -> datetime:
    if not isinstance(value, str):
        raise _invalid("an ISO 8601 timestamp string is expected")
    text = value.strip()
    if " " in text and "T" in text:
        text = text.replace(" ", "+")  # a "+01:00" offset put in a query string unencoded arrives as a space
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid("not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise _invalid("an ISO 8601 timestamp with a UTC offset or Z is expected")
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:   # year 1 or 9999 with an offset that moves it out of range
        raise _invalid("out of range") from None


def _recent(value: Any) -> datetime:
    moment = _utc(value, naive_is_utc=False)
    now = clock.now()
    if moment > now + MAX_AHEAD:
        raise _invalid("more than 5 minutes in the future")
    if moment < now - MAX_AGE:
        raise _invalid("older than 90 days")
    return moment


RecordTime = Annotated[datetime, PlainValidator(_recent)]
"""When a record happened: ISO 8601 with an offset, not over 5 minutes ahead nor over 90 days old."""

QueryTime = Annotated[datetime, PlainValidator(lambda value: _utc(value, naive_is_utc=True),
                                                json_schema_input_type=datetime)]
"""A history bound: ISO 8601, any offset; without one, UTC (as the device list's `last_status_change_from`)."""


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("a whole number is expected")
    if not 0 <= value <= MAX_COUNT:
        raise _invalid(f"between 0 and {MAX_COUNT}")
    return value


def _measure(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid("a number is expected")
    if not (math.isfinite(value) and 0 <= value <= MAX_COUNT):
        raise _invalid(f"between 0 and {MAX_COUNT}")
    # Thousandths are plenty for milliseconds and seconds, and keep 1e-300 out of DynamoDB (no number below 1e-130).
    return round(value, 3) if isinstance(value, float) else value


Count = Annotated[int, PlainValidator(_count)]
Measure = Annotated[float, PlainValidator(_measure)]

EventId = Annotated[StrictStr, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
"""The client's id of a record, unique within its organization and kind: 1-128 of A-Z a-z 0-9 . _ : -"""

Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
ShortText = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
AttributeKey = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)]
AttributeValue = Annotated[StrictStr, StringConstraints(max_length=MAX_VALUE_LENGTH)]
Attributes = Annotated[dict[AttributeKey, AttributeValue], Field(max_length=MAX_ATTRIBUTES)]
ExtendedAttributes = Annotated[dict[AttributeKey, AttributeValue], Field(max_length=MAX_EXTENDED_ATTRIBUTES)]


def _lookup_kind(value: Any) -> str:
    kind = value.strip().lower() if isinstance(value, str) else None
    if kind not in LOOKUP_KINDS:
        raise _invalid(f"unknown identifier kind {value!r} (one of {', '.join(LOOKUP_KINDS)})")
    return kind


class DeviceIdentifier(BaseModel):
    """A device named by its serial number (kind "serial") or one of its identifiers (API.md §2)."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Annotated[str, PlainValidator(_lookup_kind, json_schema_input_type=str),
                    Field(description=f"One of {', '.join(LOOKUP_KINDS)} (any case).")]
    id: Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


DeviceNumber = Annotated[StrictInt, Field(ge=1, le=9_999_999_999)]
# A record's device_id is the inventory id, or an identifier object (as §6's deviceId). The tags only steer
# validation; problems() drops them from the field names it reports.
_DEVICE_TAGS = ("number", "identifier")
DeviceReference = Annotated[
    Annotated[DeviceNumber, Tag("number")] | Annotated[DeviceIdentifier, Tag("identifier")],
    Discriminator(lambda value: "identifier" if isinstance(value, dict | DeviceIdentifier) else "number"),
]


class TelemetryRecord(BaseModel):
    """What every record has; `kind` names its partition suffix and its timestamp field."""
    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str]
    time_field: ClassVar[str]

    event_id: EventId
    device_id: DeviceReference

    @property
    def at(self) -> datetime:
        return getattr(self, self.time_field)

    def fields(self) -> dict:
        """The record's own fields as stored (numbers as given: telemetry/db.py turns floats into Decimals)."""
        return self.model_dump(exclude={"event_id", "device_id", self.time_field})


class ConnectionEvent(TelemetryRecord):
    kind: ClassVar[str] = "connection_event"
    time_field: ClassVar[str] = "occurred_at"

    occurred_at: RecordTime
    event: Literal["Start", "Stop", "Interim"]
    attributes: Attributes = Field(default_factory=dict)
    extended_attributes: ExtendedAttributes = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_event(self):
        # History answers `event` as the seed's "Event" attribute: a different one in the map would contradict it.
        sent = self.attributes.get("Event")
        if sent is not None and sent != self.event:
            raise _invalid("attributes.Event differs from event")
        return self


class AppSession(TelemetryRecord):
    kind: ClassVar[str] = "app_session"
    time_field: ClassVar[str] = "started_at"

    started_at: RecordTime
    app_id: ShortText
    app_name: Text
    app_category: Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    success: StrictBool
    response_time_ms: Measure
    duration_s: Measure
    bytes: Count


def _protocol(value: Any) -> str:
    if not (isinstance(value, str) and 1 <= len(value.strip()) <= 16 and value.strip().replace("-", "").isalnum()
            and value.isascii()):
        raise _invalid("a protocol name such as TCP, UDP or ICMP (1-16 letters, digits or -)")
    return value.strip().upper()


def _ip(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("an IPv4 or IPv6 address is expected")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise _invalid("not an IPv4 or IPv6 address") from None


class UsageRecord(TelemetryRecord):
    kind: ClassVar[str] = "usage"
    time_field: ClassVar[str] = "occurred_at"

    occurred_at: RecordTime
    mo_bytes: Count
    mt_bytes: Count
    protocol: Annotated[str, PlainValidator(_protocol)]
    destination_ip: Annotated[str, PlainValidator(_ip)]


RECORD_MODELS: dict[str, type[TelemetryRecord]] = {m.kind: m for m in (ConnectionEvent, AppSession, UsageRecord)}


class IngestRequest(BaseModel):
    """The envelope only: records are validated one by one (validate_record), not here."""
    model_config = ConfigDict(extra="forbid")

    records: list[Any] = Field(max_length=MAX_RECORDS)


_PROBLEMS = {"extra_forbidden": "unknown field", "missing": "required", "model_type": "a record is a JSON object",
             "dict_type": "a JSON object is expected"}


def problems(error: ValidationError) -> list[dict]:
    """Every problem of a record as {"field", "problem"}."""
    details = []
    for e in error.errors(include_url=False):
        loc = [str(part) for part in e["loc"]]
        if loc[:1] == ["device_id"] and loc[1:2] and loc[1] in _DEVICE_TAGS:
            del loc[1]
        problem = _PROBLEMS.get(e["type"], e["msg"]).removeprefix("Value error, ")
        if loc[-1:] == ["[key]"]:   # a bad key of a map: name the map, not the (maybe very long) key
            loc, problem = loc[:-2], f"key: {problem}"
        details.append(field_problem(".".join(loc) or "(record)", problem))
    return details


def validate_record(kind: str, raw: Any) -> TelemetryRecord:
    """Raises: ValidationError (see problems())."""
    return RECORD_MODELS[kind].model_validate(raw)


class Window(BaseModel):
    earliest: QueryTime
    latest: QueryTime

    def check(self) -> None:
        """Raises: BadRequest INVALID_QUERY when earliest is after latest (both bounds are inclusive)."""
        if self.earliest > self.latest:
            raise BadRequest("earliest is after latest.", code="INVALID_QUERY",
                             details=[field_problem("earliest", "after latest")])


class HistoryRequest(Window):
    """POST /devices/connections/actions/list (API.md §6): the seed's camelCase names."""
    model_config = ConfigDict(extra="forbid")

    deviceId: DeviceIdentifier


class HistoryQuery(Window):
    """GET /inventory_device/{id}/connection_history/ query parameters."""
    model_config = ConfigDict(extra="forbid")

    limit: whole(1, MAX_LIMIT) | None = None

    def page_size(self) -> int:
        return min(self.limit or HISTORY_PAGE, HISTORY_PAGE)  # above the maximum is clamped (API.md §1)
