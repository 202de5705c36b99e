"""The one HTTP middleware: authentication, rate limit, and every error in the contract's envelope.

Routes raise FleetlineErrors (ChaliceUnhandledError subclasses, so they reach this middleware);
Chalice's own {"Code", "Message"} answers (405, 415, 500, ...) are rewritten into the same shape.
"""
from chalice import Response

from chalicelib.api import auth, ratelimit, routes
from chalicelib.errors import FleetlineError
from chalicelib.observability import logger

INTERNAL_ERROR_MESSAGE = "An internal error occurred; it has been logged."

_CHALICE_CODES = {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                  413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 500: "INTERNAL_ERROR",
                  502: "BAD_GATEWAY", 504: "GATEWAY_TIMEOUT"}


def http_middleware(event, get_response):
    headers: dict[str, str] = {}
    auth.clear()
    resource = event.context.get("resourcePath") or ""
    try:
        # The route's declared access is checked here, before it parses its body, so that a caller without
        # it learns nothing but 403 (api/routes.py). Services check again, and finer.
        route = routes.find(event.method, resource)
        if route is None or not route.access.public:
            principal = auth.authenticate_request(event)
            headers = ratelimit.count_request(principal)
            if route is not None:
                route.access.check(principal)
        response = get_response(event)
    except FleetlineError as error:
        logger.info("request refused", extra={"status": error.status, "code": error.code})
        response = error_response(error)
    except Exception:
        # Chalice answers a route's own exception with its 500 (rewritten below); one raised here,
        # before the route (authentication, rate limit), would otherwise escape the envelope.
        logger.exception("unhandled error")
        response = _internal_error({})
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
        return _internal_error(response.headers or {}, status)
    code = _CHALICE_CODES.get(status, "ERROR")
    return Response(body={"error": {"code": code, "message": body["Message"]}}, status_code=status,
                    headers={**(response.headers or {}), "Content-Type": "application/json"})


def _internal_error(headers: dict, status: int = 500) -> Response:
    """The same sentence for every fault: no exception text or traceback reaches the client."""
    code = _CHALICE_CODES.get(status, "INTERNAL_ERROR")
    return Response(body={"error": {"code": code, "message": INTERNAL_ERROR_MESSAGE}}, status_code=status,
                    headers={**headers, "Content-Type": "application/json"})
