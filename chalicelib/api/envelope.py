"""The one HTTP middleware: authentication, rate limit, and every error in the contract's envelope.

Routes raise FleetlineErrors (ChaliceUnhandledError subclasses, so they reach this middleware);
Chalice's own {"Code", "Message"} answers (405, 415, 500, ...) are rewritten into the same shape.
"""
from chalice import Response

from chalicelib.api import auth, ratelimit
from chalicelib.errors import FleetlineError
from chalicelib.observability import logger

PUBLIC_ROUTES = frozenset({"/openapi.json"})

_CHALICE_CODES = {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                  413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 500: "INTERNAL_ERROR",
                  502: "BAD_GATEWAY", 504: "GATEWAY_TIMEOUT"}


def http_middleware(event, get_response):
    headers: dict[str, str] = {}
    auth.clear()
    try:
        if event.context.get("resourcePath") not in PUBLIC_ROUTES:
            headers = ratelimit.count_request(auth.authenticate_request(event))
        response = get_response(event)
    except FleetlineError as error:
        logger.info("request refused", extra={"status": error.status, "code": error.code})
        response = error_response(error)
    response = _rewrite_framework_error(response)
    response.headers = {**headers, **(response.headers or {})}
    return response


def error_response(error: FleetlineError) -> Response:
    return Response(body=error.body(), status_code=error.status,
                    headers={"Content-Type": "application/json", **error.headers})


def _rewrite_framework_error(response: Response) -> Response:
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body and "Message" in body):
        return response
    status = response.status_code
    if status >= 500:
        logger.error("unhandled error", extra={"status": status, "chalice_code": body["Code"]})
        message = "An internal error occurred; it has been logged."
    else:
        message = body["Message"]
    code = _CHALICE_CODES.get(status, "ERROR")
    return Response(body={"error": {"code": code, "message": message}}, status_code=status,
                    headers={**(response.headers or {}), "Content-Type": "application/json"})
