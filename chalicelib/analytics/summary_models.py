"""GET /device_app_connection_summary/ query parameters (API.md §7); any other parameter is a 400."""
from typing import Annotated, Literal

from pydantic import StringConstraints, field_validator

from chalicelib.device_types.models import Word
from chalicelib.ids import Id
from chalicelib.paging import PageQuery

SUMMARY_PAGE = (50, 200)   # limit: default, maximum (above it is clamped)
TimeRange = Literal["1h", "24h", "1d", "7d", "30d", "90d"]
Status = Literal["active", "inactive", "failed", "all"]


class SummaryQuery(PageQuery):
    time_range: TimeRange = "24h"
    device_type: Word | None = None
    """A device type category (sensor, gateway, router, ...), any case."""
    organization: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    """An organization id, or its name (any case)."""
    organization_id: Id | None = None
    status: Status = "all"
    app_category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None

    @field_validator("app_category")
    @classmethod
    def _as_stored(cls, value: str | None) -> str | None:
        # Categories are grouped as the rollups store them: stripped and lower-cased.
        return value.lower() if value is not None else None
