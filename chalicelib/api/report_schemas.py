"""Pydantic models of the answers of the data capabilities (diagnostics, telemetry, connection history,
analytics), for the OpenAPI description only; see chalicelib/api/schemas.py for why they are not used to
build the answers. The analytics names are the original Analytics API's, so that its clients recognise them.
"""
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.schemas import Count, FieldProblem, Url, View, page_of
from chalicelib.diagnostics.models import EntryStatus, Severity

Digits = Annotated[str, Field(pattern=r"^[0-9]+$", description="A whole number, as a string (the seed's style)")]
HourFigures = Annotated[dict[str, Digits], Field(description="Keyed by the start of the hour, UTC with +00:00")]


# --- diagnostics (API.md §4) -----------------------------------------------------------------------

class DiagnosticIssue(View):
    severity: Severity
    message: str
    code: str


class DiagnosticEntry(View):
    """The public view of a diagnostic entry (diagnostics/db.py PUBLIC_FIELDS)."""
    id: str
    device_id: int
    device_name: str | None
    device_serial: str | None
    diagnostic_type: str
    status: EntryStatus | None
    last_check: datetime | None
    details: dict[str, Any] | None
    issues: list[DiagnosticIssue] | None
    notes: str | None
    performed_by: str | None
    reported_by: str | None
    priority: Severity | None
    created_at: datetime
    updated_at: datetime
    next_check_due: datetime | None


# --- telemetry ingestion (API.md §5) ---------------------------------------------------------------

class RejectedRecord(View):
    index: Count
    code: str
    error: str
    details: list[FieldProblem] = None


class IngestResult(View):
    accepted: Count
    duplicates: Count
    rejected: list[RejectedRecord]


# --- connection history (API.md §6) ----------------------------------------------------------------

class Attribute(View):
    key: str
    value: str


class NamedDevice(View):
    kind: str
    id: str


class ConnectionEvent(View):
    occurredAt: datetime  # noqa: N815 (the seed's names)
    connectionEventAttributes: list[Attribute]  # noqa: N815
    extendedAttributes: list[Attribute]  # noqa: N815


class ConnectionHistory(View):
    """POST /devices/connections/actions/list: the seed's camelCase shape."""
    deviceId: NamedDevice  # noqa: N815
    connectionHistory: list[ConnectionEvent]  # noqa: N815
    isComplete: bool  # noqa: N815


class DeviceConnectionEvent(View):
    occurred_at: datetime
    connection_event_attributes: list[Attribute]
    extended_attributes: list[Attribute]


class DeviceConnectionHistory(View):
    """GET /inventory_device/{id}/connection_history/."""
    device_id: int
    connection_history: list[DeviceConnectionEvent]
    is_complete: bool
    next: Url | None


# --- connection summary and its rollups (API.md §7, §9) -------------------------------------------

Percent = Annotated[float, Field(ge=0, le=100)]
Milliseconds = Annotated[float, Field(ge=0)]


class SummaryPeriod(View):
    start_date: datetime
    end_date: datetime
    time_range: str


class SummaryFigures(View):
    total_devices: Count
    active_devices: Count
    total_applications: Count
    active_connections: Count
    success_rate: Percent | None
    average_response_time: Milliseconds | None
    time_range: str
    last_updated: datetime | None


class DeviceConnectionSummary(View):
    device_id: int
    device_name: str | None
    device_type: str | None
    organization: str | None
    total_attempts: Count
    successful_connections: Count
    failed_connections: Count
    success_rate: Percent | None
    average_response_time: Milliseconds | None
    last_successful_connection: datetime | None
    status: Literal["active", "inactive", "failed"]
    connection_quality: Literal["excellent", "good", "fair", "poor"] | None


class TopApplication(View):
    app_name: str
    connection_count: Count
    unique_devices: Count


class ConnectionTrends(View):
    daily_average: Annotated[float, Field(ge=0)]
    peak_day: date | None
    peak_connections: Count


class AggregatedInsights(View):
    top_applications: list[TopApplication]
    device_type_breakdown: dict[str, Percent]
    connection_trends: ConnectionTrends


class DeviceAppConnectionSummary(page_of(DeviceConnectionSummary)):
    """The page of devices, with the summary of every device the filters select."""
    summary_period: SummaryPeriod
    summary: SummaryFigures
    aggregated_insights: AggregatedInsights


class RollupRun(View):
    """What one POST /admin/rollups/ did: caught up (200), or the lanes still behind (202, Retry-After)."""
    caught_up: bool
    lanes: Count
    lanes_behind: list[Count]
    units: Count
    devices: Count
    duration_ms: Count
    records_read: Count
    items_read: Count
    items_written: Count
    requests: Count
    last_updated: datetime | None


# --- analytics (API.md §8, the seed's schemas) -----------------------------------------------------

class FormattedDataUsageByDirection(View):
    mobileTerminated: HourFigures  # noqa: N815
    mobileOriginated: HourFigures  # noqa: N815


class DataUsage(View):
    content: list[FormattedDataUsageByDirection]


class FormattedCompanySessionCount(View):
    content: HourFigures


class SubscriberSessionCount(View):
    content: list[FormattedCompanySessionCount]


class FormattedDataUsageBySubscriber(View):
    subscriberDataUsage: dict[str, dict[str, Digits]]  # noqa: N815 (physicalId -> {lastSeen: bytes})
    totalDataUsage: Count  # noqa: N815


class DataUsageBySubscriber(View):
    content: FormattedDataUsageBySubscriber
    count: Count | None = None
    """With limit or offset: how many subscribers the whole map has."""


class FormattedDataUsageByNetworkProtocol(View):
    content: dict[str, HourFigures]


class IpAddressUsage(View):
    lastSeen: datetime  # noqa: N815
    bytes: Digits


class FormattedDataUsageByIpAddress(View):
    dataUsageByIp: dict[str, IpAddressUsage]  # noqa: N815
    totalData: Count  # noqa: N815


class DataUsageByIpAddress(View):
    content: list[FormattedDataUsageByIpAddress]
    count: Count | None = None
    """With limit or offset: how many addresses the whole map has."""
