"""limit/offset/cursor pagination and the {"count","next","previous","results"} page (API.md §1)."""
import base64
import hashlib
import json
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.errors import BadRequest

PAGING_PARAMS = ("limit", "offset", "cursor")
MAX_OFFSET = 1_000_000
MAX_POSITION = 256


class PageQuery(BaseModel):
    """Paging parameters shared by every list; subclasses add their filters."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    cursor: str | None = Field(default=None, max_length=512)

    def page_size(self, default: int, maximum: int) -> int:
        return min(self.limit or default, maximum)

    def filters(self) -> dict:
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in PAGING_PARAMS and v is not None}


def _fingerprint(filters: dict) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]


def encode_cursor(after: str, offset: int, filters: dict) -> str:
    raw = json.dumps({"a": after, "o": offset, "f": _fingerprint(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, filters: dict) -> tuple[str, int]:
    """(position after which the page starts, offset of the page).

    Raises:
        BadRequest: a cursor that does not decode, or was made for other filters.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, offset, fingerprint = data["a"], data["o"], data["f"]
    except (ValueError, KeyError, TypeError):
        raise BadRequest("The cursor is not valid.", code="INVALID_CURSOR") from None
    # The position becomes a key condition: an empty or odd one would be a DynamoDB
    # ValidationException (a 500), not the 400 an edited cursor deserves.
    if not (isinstance(after, str) and 0 < len(after) <= MAX_POSITION and type(offset) is int
            and 0 <= offset <= MAX_OFFSET):
        raise BadRequest("The cursor is not valid.", code="INVALID_CURSOR")
    if fingerprint != _fingerprint(filters):
        raise BadRequest("The cursor was made for other filters.", code="INVALID_CURSOR")
    return after, offset


class Paging:
    """Where a page starts, from the query: a cursor wins over offset."""

    def __init__(self, query: PageQuery, default: int, maximum: int):
        self.limit = query.page_size(default, maximum)
        self.filters = query.filters()
        self.after = None
        self.offset = query.offset
        if query.cursor:
            self.after, self.offset = decode_cursor(query.cursor, self.filters)

    @property
    def skip(self) -> int:
        """Items to skip after the start: none when a cursor placed us."""
        return 0 if self.after is not None else self.offset


def page_body(request, paging: Paging, count: int | None, results: list, last_sort: str | None,
              more: bool) -> dict:
    base = _base_url(request)
    params = {k: v for k, v in (request.query_params or {}).items() if k not in PAGING_PARAMS}
    next_url = previous_url = None
    if more and last_sort is not None:
        next_offset = paging.offset + paging.limit
        next_url = base + "?" + urlencode({**params, "limit": paging.limit, "offset": next_offset,
                                           "cursor": encode_cursor(last_sort, next_offset, paging.filters)})
    if paging.offset > 0:
        previous_url = base + "?" + urlencode({**params, "limit": paging.limit,
                                               "offset": max(0, paging.offset - paging.limit)})
    return {"count": count, "next": next_url, "previous": previous_url, "results": results}


def _base_url(request) -> str:
    headers = request.headers
    proto = headers.get("x-forwarded-proto", "http")
    host = headers.get("host", "localhost")
    path = request.context.get("path") or request.path
    return f"{proto}://{host}{path}"


def slice_in_memory(items: list[dict], paging: Paging) -> tuple[list[dict], bool, str | None]:
    """Paging over a small catalogue read whole (organizations, types, tokens), ordered by id."""
    if paging.after is not None:
        if not paging.after.isdigit():
            raise BadRequest("The cursor is not valid.", code="INVALID_CURSOR")
        items = [item for item in items if item["id"] > int(paging.after)]
    window = items[paging.skip:paging.skip + paging.limit + 1]
    page = window[:paging.limit]
    return page, len(window) > paging.limit, str(page[-1]["id"]) if page else None
