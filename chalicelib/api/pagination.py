"""limit/offset/cursor on the wire, and the {"count","next","previous","results"} page (API.md §1).

A cursor is `<payload>.<signature>`: the payload says where the next page starts (a sort-key position and the
offset it stands for), the signature is an HMAC (signing.py) over the payload, the list it was issued for (the
route and its path parameters) and the query's filters. An edited cursor, or one issued for another list or
other filters, fails the signature: 400 INVALID_CURSOR, never a page of something else, and never a position
that would build an inverted key condition (DynamoDB's ValidationException, a 500).
"""
import base64
import binascii
import hmac
import json
from urllib.parse import urlencode

from chalicelib import signing
from chalicelib.errors import BadRequest
from chalicelib.paging import MAX_OFFSET, PAGING_PARAMS, PageQuery, Paging

MAX_POSITION = 256
SIGNATURE_BYTES = 16


def paging(request, query: PageQuery, default: int, maximum: int) -> Paging:
    """Where the page `query` asks for starts: a cursor wins over offset. Raises: BadRequest INVALID_CURSOR."""
    limit, filters = query.page_size(default, maximum), query.filters()
    if not query.cursor:
        return Paging(limit, query.offset, None, filters)
    after, offset = decode_cursor(query.cursor, _list_of(request), filters)
    return Paging(limit, offset, after, filters)


def _list_of(request) -> str:
    """The list a request reads: its route and the values of its path parameters."""
    resource = request.context.get("resourcePath") or request.path
    return json.dumps([resource, sorted((request.uri_params or {}).items())], separators=(",", ":"))


def _signature(payload: str, list_name: str, filters: dict) -> bytes:
    signed = json.dumps([payload, list_name, filters], sort_keys=True, separators=(",", ":"))
    return signing.sign(signing.CURSOR, signed)[:SIGNATURE_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(after: str, offset: int, list_name: str, filters: dict) -> str:
    payload = _b64(json.dumps({"a": after, "o": offset}, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_signature(payload, list_name, filters))}"


def decode_cursor(cursor: str, list_name: str, filters: dict) -> tuple[str, int]:
    """(position after which the page starts, offset of the page).

    Raises:
        BadRequest: a cursor that does not decode, was edited, or was issued for another list or other filters.
    """
    invalid = BadRequest("The cursor is not valid for this list and these filters.", code="INVALID_CURSOR")
    payload, _, signature = cursor.partition(".")
    try:
        expected = _signature(payload, list_name, filters)
        if not hmac.compare_digest(_unb64(signature), expected):
            raise invalid
        data = json.loads(_unb64(payload))
        after, offset = data["a"], data["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid from None
    # Signed by us, so well formed; checked all the same, as the position becomes a key condition.
    if not (isinstance(after, str) and 0 < len(after) <= MAX_POSITION and type(offset) is int
            and 0 <= offset <= MAX_OFFSET):
        raise invalid
    return after, offset


def page_body(request, paging: Paging, count: int | None, results: list, last_sort: str | None,
              more: bool) -> dict:
    base = _base_url(request)
    params = {k: v for k, v in (request.query_params or {}).items() if k not in PAGING_PARAMS}
    next_url = previous_url = None
    if more and last_sort is not None:
        next_offset = min(paging.offset + paging.limit, MAX_OFFSET)
        cursor = encode_cursor(last_sort, next_offset, _list_of(request), paging.filters)
        next_url = base + "?" + urlencode({**params, "limit": paging.limit, "offset": next_offset, "cursor": cursor})
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
        if not paging.after.isascii() or not paging.after.isdigit():
            raise BadRequest("The cursor is not valid for this list and these filters.", code="INVALID_CURSOR")
        items = [item for item in items if item["id"] > int(paging.after)]
    window = items[paging.skip:paging.skip + paging.limit + 1]
    page = window[:paging.limit]
    return page, len(window) > paging.limit, str(page[-1]["id"]) if page else None
