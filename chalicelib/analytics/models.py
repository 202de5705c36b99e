"""The analytics query (API.md §8): the seed's startDate/endDate, their rules, and the hour buckets they select."""
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from chalicelib.errors import BadRequest, field_problem

MAX_RANGE = timedelta(days=366)
# The seed's YYYY-MM-DDTHH:MM:SS+/-HH:MM, with Z and fractions of a second accepted too.
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
# An unencoded "+" in a query string arrives as a space (form decoding); the seed's own examples
# (`+00:00`) are easy to paste unencoded, and a space there can mean nothing else.
_PLUS_AS_SPACE = re.compile(r"(T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?) ([0-9]{2}:[0-9]{2})$")


def _moment(value) -> datetime:
    if not isinstance(value, str):
        raise PydanticCustomError("moment", "a date and time in ISO 8601 with an offset is expected")
    text = _PLUS_AS_SPACE.sub(r"\1+\2", value.strip())
    if not _MOMENT.fullmatch(text):
        raise PydanticCustomError("moment", "expected YYYY-MM-DDTHH:MM:SS+HH:MM (or Z)")
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):   # Feb 30, hour 25, offset 24:00, or out of datetime's range once in UTC
        raise PydanticCustomError("moment", "not a valid date, time and offset") from None


Moment = Annotated[datetime, BeforeValidator(_moment)]
"""An instant from the query string, in UTC; the caller's offset is any offset."""


@dataclass(frozen=True)
class HourRange:
    """The buckets a query selects: every hour whose start lies in [first, last] (both are hour starts)."""
    first: datetime
    last: datetime


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class AnalyticsQuery(BaseModel):
    """The query of every analytics path; field names are the seed's parameters."""
    model_config = ConfigDict(extra="forbid")

    startDate: Moment  # noqa: N815 (the seed's names)
    endDate: Moment  # noqa: N815

    @field_validator("endDate")
    @classmethod
    def _within_range(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("startDate")
        if start is None:   # already refused on its own
            return end
        if end < start:
            raise PydanticCustomError("date_range", "endDate is before startDate")
        if end - start > MAX_RANGE:
            raise PydanticCustomError("date_range", "the range from startDate to endDate is longer than 366 days")
        return end

    def hours(self) -> HourRange:
        """A bucket is included when its start lies in [floor_hour(startDate), endDate]: the hour startDate falls
        in counts whole, and so does the hour endDate falls in, since its start is not after endDate."""
        return HourRange(floor_hour(self.startDate), floor_hour(self.endDate))


MAP_SLICE = 10_000   # keys per slice at most (above is clamped): a few hundred KB, far below the 5 MB an answer carries


class MapQuery(AnalyticsQuery):
    """The by-subscriber and by-IP paths (an extension of the seed, API.md §8): without limit and offset the whole map;
    with either, the slice of its keys in ascending order, and the answer adds `count`."""
    limit: Annotated[int, Field(ge=1)] | None = None
    offset: Annotated[int, Field(ge=0, le=10_000_000)] | None = None

    def sliced(self) -> bool:
        return self.limit is not None or self.offset is not None

    def window(self) -> tuple[int, int]:
        """(offset, limit) of the slice."""
        return self.offset or 0, min(self.limit or MAP_SLICE, MAP_SLICE)


class SubscriberQuery(AnalyticsQuery):
    """The subscriber paths' query: the seed also lists physicalId among their query parameters (marked required,
    beside the path parameter), so a client that repeats it there is served; the path names the subscriber."""
    physicalId: str | None = Field(default=None, max_length=64)  # noqa: N815

    def check_physical_id(self, in_path: str) -> None:
        """Raises: BadRequest INVALID_QUERY when the query's physicalId is not the path's."""
        if self.physicalId is not None and self.physicalId.strip().casefold() != in_path.strip().casefold():
            raise BadRequest("The physicalId query parameter differs from the path's.", code="INVALID_QUERY",
                             details=[field_problem("physicalId", "differs from the path's physicalId")])


class SubscriberMapQuery(SubscriberQuery, MapQuery):
    """The subscriber by-IP path: a physicalId and a slice."""
