"""Diagnostic entries (API.md §4): the POST body, the list query, and the values an entry may hold."""
import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, StringConstraints

from chalicelib.device_types.models import Word
from chalicelib.devices.models import Flag
from chalicelib.ids import MAX_ID, parse_digits
from chalicelib.paging import PageQuery

# The seed's statuses (health: healthy/warning/critical/online/offline; work: scheduled, open, in_progress,
# completed, resolved, closed) plus failed and cancelled. Helpers write healthy, warning, critical, offline
# and failed (chalicelib/diagnostics/health.py).
EntryStatus = Literal["healthy", "warning", "critical", "online", "offline", "failed", "scheduled", "open",
                      "in_progress", "completed", "resolved", "closed", "cancelled"]
STATUSES: tuple[str, ...] = EntryStatus.__args__
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = Severity.__args__
Priority = Severity

MAX_DETAILS_BYTES = 64 * 1024
MAX_DETAILS_DEPTH = 16
MAX_DEVICE_REFERENCE = 64
# DynamoDB numbers: 38 significant digits, magnitudes from 1E-130 to below 1E+126. Beyond them a write
# fails (a 500), so they are refused at the edge.
_LARGEST, _SMALLEST = 1e125, 1e-129


def _details_problem(value, depth: int = 1) -> str | None:
    if depth > MAX_DETAILS_DEPTH:
        return f"nested deeper than {MAX_DETAILS_DEPTH} levels"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int):
        return None if abs(value) < 10 ** 38 else "holds an integer of more than 38 digits"
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > _LARGEST or 0 < abs(value) < _SMALLEST:
            return "holds a number out of range (NaN, infinity, or beyond 1e125)"
        return None
    if isinstance(value, dict):
        for key, inner in value.items():
            if not 1 <= len(key) <= 255:
                return "holds a key that is empty or longer than 255 characters"
            problem = _details_problem(inner, depth + 1)
            if problem:
                return problem
        return None
    for inner in value:   # a list
        problem = _details_problem(inner, depth + 1)
        if problem:
            return problem
    return None


def _check_details(value: dict) -> dict:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_DETAILS_BYTES:
        raise ValueError(f"must be at most {MAX_DETAILS_BYTES} bytes as JSON (is {size})")
    problem = _details_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Details = Annotated[dict[str, JsonValue], AfterValidator(_check_details)]
"""A JSON object of at most 64 KiB that DynamoDB can store as it is."""

IssueCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
"""UPPER_SNAKE, like the error codes of the API (`DISK_LOW`)."""


def _device_reference(value):
    # Integer ids, and ASCII-digit strings as the seed's clients send them, from 1 to MAX_ID (API.md §1: anything
    # else that looks like a number is bad input); any other string names no device (404 from the service,
    # after every other field has been checked).
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a device id (an integer)")
    if isinstance(value, str):
        value = value.strip()
        if not 1 <= len(value) <= MAX_DEVICE_REFERENCE:
            raise ValueError(f"must be a device id (1 to {MAX_DEVICE_REFERENCE} characters)")
        number = parse_digits(value)
        if number is None and value.lstrip("+-").isdigit():   # a number, but not an id: ², ١٢, -5, 0, 40 digits
            raise ValueError(f"a device id is 1 to {MAX_ID} in ASCII digits (0-9)")
        return value if number is None else number
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"a device id is 1 to {MAX_ID}")
    return value


DeviceReference = Annotated[int | str, BeforeValidator(_device_reference)]


def device_number(reference: int | str | None) -> int | None:
    """The device id a reference can be; None when it can be none (the device is unknown)."""
    if isinstance(reference, int) and 0 < reference < 10 ** 10:
        return reference
    return None


def _utc(value: datetime | None) -> datetime | None:
    # A time without an offset is UTC, as in the device list (API.md §1: inputs accept any offset).
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


Moment = Annotated[datetime, AfterValidator(_utc)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Person = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]


class Issue(BaseModel):
    """One problem an entry records: `{severity, message, code}`."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    severity: Severity
    message: str = Field(min_length=1, max_length=500)
    code: IssueCode


SERVER_SET = Field(default=None, json_schema_extra={"readOnly": True}, description="Set by the server; ignored.")


class DiagnosticCreate(BaseModel):
    """POST /inventory_device_diags/: the entry itself (the seed's `data` is the JSON body)."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    device_id: DeviceReference
    diagnostic_type: Word
    status: EntryStatus | None = None
    last_check: Moment | None = None
    next_check_due: Moment | None = None
    details: Details = Field(default_factory=dict)
    issues: list[Issue] = Field(default_factory=list, max_length=50)
    notes: Text | None = None
    performed_by: Person | None = None
    reported_by: Person | None = None
    priority: Priority | None = None
    # Set by the server: a POST may carry them (an entry read back, the seed's health-check example), and
    # they are ignored.
    id: Any = SERVER_SET
    device_name: Any = SERVER_SET
    device_serial: Any = SERVER_SET
    created_at: Any = SERVER_SET
    updated_at: Any = SERVER_SET


class DiagnosticListQuery(PageQuery):
    # Checked as the service will read it (device_reference), so that a bad id is this query's 400.
    id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DEVICE_REFERENCE),
                  AfterValidator(lambda value: _device_reference(value) and value)] | None = None
    diagnostic_type: Word | None = None
    status: EntryStatus | None = None
    update_status: Flag = False

    def filters(self) -> dict:
        # A cursor stays valid whether or not the next page refreshes its devices first.
        return {k: v for k, v in super().filters().items() if k != "update_status"}

    def device_reference(self) -> int | str | None:
        return _device_reference(self.id) if self.id is not None else None
