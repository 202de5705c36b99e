"""The contract's errors (API.md §1) as one hierarchy, mapped to HTTP by api/envelope.py.

The base derives from ChaliceUnhandledError because only those reach @app.middleware('http')
(STYLE fact 1); the domain never raises Chalice's own view errors.
"""
from chalice import ChaliceUnhandledError


class FleetlineError(ChaliceUnhandledError):
    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None, details: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(FleetlineError):
    status, code = 400, "BAD_REQUEST"


class Unauthenticated(FleetlineError):
    status, code = 401, "UNAUTHENTICATED"

    def __init__(self, message: str, **kwargs):
        super().__init__(message, **kwargs)
        # RFC 6750 §3: a 401 tells the client which scheme to authenticate with.
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="fleetline"')


class Forbidden(FleetlineError):
    status, code = 403, "FORBIDDEN"


class NotFound(FleetlineError):
    status, code = 404, "NOT_FOUND"


class Conflict(FleetlineError):
    status, code = 409, "CONFLICT"


class PreconditionFailed(FleetlineError):
    status, code = 412, "PRECONDITION_FAILED"


class ValidationFailed(FleetlineError):
    status, code = 422, "VALIDATION_FAILED"


class RateLimited(FleetlineError):
    status, code = 429, "RATE_LIMITED"


class ServiceUnavailable(FleetlineError):
    """A dependency (DynamoDB, SQS, KMS) is overloaded or unreachable after our retries: nothing was
    half-written, and the same request may be sent again after Retry-After (API.md §1)."""
    status, code = 503, "SERVICE_UNAVAILABLE"

    def __init__(self, message: str = "A dependency is unavailable; retry later.", *, retry_after: int = 2,
                 **kwargs):
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after))


def field_problem(field: str, problem: str) -> dict:
    return {"field": field, "problem": problem}
