"""Conditional answers: ETag and Cache-Control on a read, 304 when If-None-Match names the ETag (RFC 9110)."""
from chalice import Response

from chalicelib.api.respond import respond
from chalicelib.etags import content_etag, matches


def cached_answer(request, body: dict, max_age_seconds: int) -> Response:
    """200 with the body, its ETag and Cache-Control; 304 without a body when If-None-Match names the ETag."""
    tag = content_etag(body)
    headers = {"ETag": tag, "Cache-Control": f"max-age={max_age_seconds}"}
    if matches(request.headers.get("if-none-match"), tag):
        return respond(None, 304, headers)
    return respond(body, 200, headers)
