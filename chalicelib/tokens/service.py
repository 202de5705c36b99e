"""Token use cases: create (secret shown once), list, revoke."""
import secrets
import time

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed, field_problem
from chalicelib.organizations import db as organizations_db
from chalicelib.tokens import db
from chalicelib.tokens.models import PERMISSIONS, Principal, Token, TokenCreate

# What every token's secret starts with, so that scanners can spot a leaked one (bandit B105: not a secret).
SECRET_PREFIX = "flt_"  # nosec B105
REPLAY_NOTE = ("A repeat of an earlier create (same Idempotency-Key and body): the token exists, but its secret was "
               "shown only in the first answer and is stored nowhere. If it was lost, revoke this token and create "
               "another.")

# token PK -> (Principal or None when refused, when looked up): saves a read per request.
_cache: dict[str, tuple[Principal | None, float]] = {}
# Refusals are cached too, so requests with made-up tokens must not grow a warm Lambda's memory forever.
CACHE_ENTRIES = 1000


def authenticate(secret: str) -> Principal:
    """The Principal of a bearer secret.

    Raises:
        Unauthenticated: unknown or revoked token.
    """
    token_hash = db.hash_secret(secret)
    key = db.token_pk(token_hash)
    cached = _cache.get(key)
    if cached and time.monotonic() - cached[1] < get_settings().token_cache_seconds:
        principal = cached[0]
    else:
        item = db.get_by_hash(token_hash)
        principal = principal_from_item(item) if item and not item.get("revoked") else None
        if len(_cache) >= CACHE_ENTRIES:
            _cache.clear()
        _cache[key] = (principal, time.monotonic())
    if principal is None:
        raise Unauthenticated("The bearer token is unknown or revoked.", code="INVALID_TOKEN")
    return principal


def forget_cached_tokens() -> None:
    _cache.clear()


def create_token(principal: Principal | None, request: TokenCreate) -> dict:
    """Create a token; the answer holds the secret, which is never stored nor shown again.

    principal None is the bootstrap CLI, which runs with AWS credentials instead of a token.

    Raises:
        Forbidden: an organization token asking for a platform token or another organization's, a token
            granting a permission it does not hold itself, or a rate limit above its own.
        ValidationFailed: unknown organization.
    """
    if principal is not None:
        principal.require("admin")
        if request.organization_id is None and not principal.is_platform:
            raise Forbidden("Only a platform token can create platform tokens.", code="ORGANIZATION_FORBIDDEN")
        principal.organization_scope(request.organization_id)
        # `admin` alone must not mint, say, devices:write: a token grants at most what it holds.
        for permission in request.permissions:
            principal.require(permission)
        if (request.rate_limit_per_minute or 0) > principal.rate_limit_per_minute:
            raise Forbidden(f"A token cannot allow more requests per minute ({request.rate_limit_per_minute}) than "
                            f"the token creating it ({principal.rate_limit_per_minute}).",
                            code="RATE_LIMIT_FORBIDDEN",
                            details=[field_problem("rate_limit_per_minute",
                                                   f"at most {principal.rate_limit_per_minute}")])
    if request.organization_id is not None and organizations_db.get(request.organization_id) is None:
        raise ValidationFailed("Unknown organization.",
                               details=[field_problem("organization_id", "no such organization")])
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    rate_limit = request.rate_limit_per_minute or get_settings().default_rate_limit_per_minute
    if principal is not None:   # the default, too, is capped by the creator's own limit
        rate_limit = min(rate_limit, principal.rate_limit_per_minute)
    token = Token(id=0, name=request.name, organization_id=request.organization_id,
                  permissions=request.permissions, rate_limit_per_minute=rate_limit,
                  created=clock.iso(clock.now()), created_by=principal.actor() if principal else None)
    token.id = db.put(token, db.hash_secret(secret))
    return {**token.model_dump(), "token": secret}


def replayed_answer(created: dict) -> dict:
    """What a retry of a create answers (and all that is stored of the first answer): the token without its
    secret, saying so."""
    answer = {name: value for name, value in created.items() if name != "token"}
    # bandit B105 reads "token": None as a password; it is the withheld secret's empty place.
    return answer | {"token": None, "secret_withheld": REPLAY_NOTE}  # nosec B105


def list_tokens(principal: Principal) -> list[dict]:
    principal.require("admin")
    return [t.model_dump() for t in db.list_tokens(principal.organization_id)]


def revoke_token(principal: Principal, token_id: int) -> None:
    """Raises: NotFound for an unknown token or one outside the caller's organization."""
    principal.require("admin")
    item = db.find_by_id(token_id)
    if item is None or not (principal.is_platform or item.get("organization_id") == principal.organization_id):
        raise NotFound(f"No token with id {token_id}.", code="TOKEN_NOT_FOUND")
    if not item.get("revoked"):
        db.mark_revoked(item, clock.iso(clock.now()))
    _cache.pop(item["PK"], None)  # this Lambda forgets it at once; warm others within the cache age


def principal_from_item(item: dict) -> Principal:
    return Principal(token_id=int(item["id"]), name=item["name"],
                     organization_id=int(item["organization_id"]) if item.get("organization_id") else None,
                     permissions=frozenset(p for p in item["permissions"] if p in PERMISSIONS),
                     rate_limit_per_minute=int(item["rate_limit_per_minute"]))
