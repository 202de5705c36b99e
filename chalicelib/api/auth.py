"""Bearer-token authentication for every route, run once by the HTTP middleware."""
from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from chalicelib import tokens
from chalicelib.errors import Unauthenticated

if TYPE_CHECKING:
    from chalicelib.tokens.models import Principal

_current: ContextVar[Principal | None] = ContextVar("principal", default=None)


def authenticate_request(request) -> Principal:
    """Raises: Unauthenticated when the header is missing, malformed, unknown or revoked."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("An 'Authorization: Bearer <token>' header is required.", code="MISSING_TOKEN")
    principal = tokens.service.authenticate(secret.strip())
    _current.set(principal)
    return principal


def principal() -> Principal:
    """The caller of the current request (set by the middleware before any route runs)."""
    current = _current.get()
    if current is None:
        raise Unauthenticated("The request is not authenticated.", code="MISSING_TOKEN")
    return current


def clear() -> None:
    _current.set(None)
