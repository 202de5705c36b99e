"""The two forms of connection history (API.md §6) as HTTP answers, each under the 60-s duplicate-request rule; the
history itself is telemetry/history.py's.

POST /devices/connections/actions/list answers the carrier's camelCase shape; GET
/inventory_device/{id}/connection_history/ the seeds' snake_case one, with a `next` URL.
"""
from urllib.parse import urlencode

from chalice import Response

from chalicelib import clock
from chalicelib.api.idempotency import answer_repeats
from chalicelib.api.parsing import parse_body
from chalicelib.api.respond import respond
from chalicelib.errors import BadRequest, ValidationFailed
from chalicelib.telemetry import db, history
from chalicelib.telemetry.models import HistoryQuery, HistoryRequest
from chalicelib.tokens.models import Principal


def parse_history_request(request) -> HistoryRequest:
    """The POST body as a HistoryRequest. Its body is its query: every problem is a 400 INVALID_QUERY naming the
    field (API.md §6 asks 400 for a missing bound and an unknown kind), a body that is not JSON 400 INVALID_JSON."""
    try:
        return parse_body(request, HistoryRequest)
    except ValidationFailed as failed:
        raise BadRequest(failed.message.replace("request body", "query"), code="INVALID_QUERY",
                         details=failed.details) from None


def _pairs(mapping: dict | None, first: dict | None = None) -> list[dict]:
    """Key/value pairs, sorted by key (a stored map has no order of its own)."""
    pairs = [first] if first else []
    return pairs + [{"key": key, "value": value} for key, value in sorted((mapping or {}).items())
                    if not (first and key == first["key"])]


def _event(item: dict) -> tuple[str, list[dict], list[dict]]:
    # The seed lists the event type among the attributes ("Event": "Start").
    attributes, extended = db.attributes_of(item)
    return (item["occurred_at"], _pairs(attributes, {"key": "Event", "value": item["event"]}), _pairs(extended))


def list_connections(request, principal: Principal, body: HistoryRequest) -> Response:
    """POST /devices/connections/actions/list."""
    body.check()

    def produce() -> Response:
        page = history.by_identifier(principal, body.deviceId, body)
        events = [{"occurredAt": at, "connectionEventAttributes": attributes, "extendedAttributes": extended}
                  for at, attributes, extended in map(_event, page.events)]
        return respond({"deviceId": body.deviceId.model_dump(), "connectionHistory": events,
                        "isComplete": page.complete})
    return answer_repeats(request, principal, produce)


def connection_history(request, principal: Principal, device_id: int, query: HistoryQuery) -> Response:
    """GET /inventory_device/{id}/connection_history/."""
    query.check()

    def produce() -> Response:
        size = query.page_size()
        page = history.by_device_id(principal, device_id, query, size)
        events = [{"occurred_at": at, "connection_event_attributes": attributes, "extended_attributes": extended}
                  for at, attributes, extended in map(_event, page.events)]
        next_url = None
        if page.next_earliest is not None:
            next_url = _url(request, {"earliest": clock.iso(page.next_earliest), "latest": clock.iso(query.latest),
                                      "limit": size})
        return respond({"device_id": device_id, "connection_history": events, "is_complete": page.complete,
                        "next": next_url})
    return answer_repeats(request, principal, produce)


def _url(request, params: dict) -> str:
    """This route with other query parameters, absolute, as the paginated lists' `next` (api/pagination.py)."""
    headers = request.headers
    path = request.context.get("path") or request.path
    return f"{headers.get('x-forwarded-proto', 'http')}://{headers.get('host', 'localhost')}{path}?{urlencode(params)}"
