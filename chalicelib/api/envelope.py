"""The one HTTP middleware: authentication, rate limit, and every error in the contract's envelope.

Routes raise FleetlineErrors (ChaliceUnhandledError subclasses, so they reach this middleware);
Chalice's own {"Code", "Message"} answers (405, 415, 500, ...) are rewritten into the same shape.
"""
from chalice import Response

from chalicelib.api import auth, ratelimit
from chalicelib.errors import FleetlineError
from chalicelib.observability import logger

PUBLIC_ROUTES = frozenset({"/openapi.json", "/docs"})
# Checked here, before a route parses its body, so that a caller without the permission learns nothing
# but 403. Every route under ADMIN_PREFIX needs `admin` (API.md §9); the others need any one of the
# permissions listed. Services check again, and finer (a PATCH with operation flags needs devices:operate).
ADMIN_PREFIX = "/admin/"
_DEVICE = "/inventory_device/{device_id}"
ROUTE_PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/inventory_device"): ("devices:read",),
    ("POST", "/inventory_device"): ("devices:write",),
    ("GET", _DEVICE): ("devices:read",),
    ("PUT", _DEVICE): ("devices:write",),
    ("PATCH", _DEVICE): ("devices:write", "devices:operate"),
    ("DELETE", _DEVICE): ("devices:write",),
    ("GET", _DEVICE + "/operations"): ("devices:read",),
    ("GET", _DEVICE + "/operations/{operation_id}"): ("devices:read",),
    ("DELETE", _DEVICE + "/operations/{operation_id}"): ("devices:operate",),
    ("GET", "/audit_log"): ("devices:read",),
    ("POST", "/bulk_operations"): ("devices:operate",),
    ("GET", "/bulk_operations"): ("devices:read",),
    ("GET", "/bulk_operations/{bulk_operation_id}"): ("devices:read",),
    ("GET", "/bulk_operations/{bulk_operation_id}/devices"): ("devices:read",),
    **{("POST", f"/bulk_operations/{{bulk_operation_id}}/{action}"): ("devices:operate",)
       for action in ("pause", "resume", "cancel")},
    ("GET", "/inventory_device_diags"): ("diagnostics:read",),
    ("POST", "/inventory_device_diags"): ("diagnostics:write",),
    ("POST", "/telemetry/connection_events"): ("telemetry:write",),
    ("POST", "/telemetry/app_sessions"): ("telemetry:write",),
    ("POST", "/telemetry/usage"): ("telemetry:write",),
    ("POST", "/devices/connections/actions/list"): ("devices:read",),
    ("GET", _DEVICE + "/connection_history"): ("devices:read",),
    ("GET", "/device_app_connection_summary"): ("reports:read",),
    # Subscriber paths also need analytics:subscriber, checked by the service (API.md §8).
    **{("GET", path): ("analytics:overview",) for path in (
        "/analytics/data-usage", "/analytics/data-usage-by-subscriber", "/analytics/data-usage/{physical_id}",
        "/analytics/session-count", "/analytics/session-count/{physical_id}",
        "/analytics/data-usage-network-protocol", "/analytics/data-usage-ip-address",
        "/analytics/data-usage-ip-address/{physical_id}")},
}
INTERNAL_ERROR_MESSAGE = "An internal error occurred; it has been logged."

_CHALICE_CODES = {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                  413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 500: "INTERNAL_ERROR",
                  502: "BAD_GATEWAY", 504: "GATEWAY_TIMEOUT"}


def http_middleware(event, get_response):
    headers: dict[str, str] = {}
    auth.clear()
    resource = event.context.get("resourcePath") or ""
    try:
        if resource not in PUBLIC_ROUTES:
            principal = auth.authenticate_request(event)
            headers = ratelimit.count_request(principal)
            if resource.startswith(ADMIN_PREFIX):
                principal.require("admin")
            else:
                principal.require_any(ROUTE_PERMISSIONS.get((event.method, resource), ()))
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
