"""What a list asks for, below both the HTTP edge and the domain: the paging parameters every list query model
shares, and where a page starts. The edge makes a Paging from the query (api/pagination.py checks the cursor's
signature); services read limit, skip and after, and never see a cursor or a URL.
"""
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.ids import whole

PAGING_PARAMS = ("limit", "offset", "cursor")
MAX_OFFSET = 1_000_000
MAX_LIMIT = 100_000     # any larger limit is clamped to the list's maximum all the same


class PageQuery(BaseModel):
    """Paging parameters shared by every list; subclasses add their filters."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    limit: whole(1, MAX_LIMIT) | None = None
    offset: whole(0, MAX_OFFSET) = 0
    cursor: str | None = Field(default=None, max_length=512)

    def page_size(self, default: int, maximum: int) -> int:
        return min(self.limit or default, maximum)

    def filters(self) -> dict:
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in PAGING_PARAMS and v is not None}


@dataclass(frozen=True)
class Paging:
    """Where a page starts: after a position (a cursor's), else `offset` items in; and how many it holds."""
    limit: int
    offset: int = 0
    after: str | None = None
    filters: dict = field(default_factory=dict)

    @property
    def skip(self) -> int:
        """Items to skip after the start: none when a cursor placed us."""
        return 0 if self.after is not None else self.offset
