"""ETags and the one rule that matches them (RFC 9110 §13.1): below both the HTTP edge and the domain.

A device's ETag is its id and write version (devices check If-Match inside their conditional write); an answer
built from precomputed figures has the digest of its body as ETag (api/conditional.py, If-None-Match).
"""
import hashlib
import json

from chalicelib.errors import PreconditionFailed


def etag(resource_id: int, version: int) -> str:
    return f'"{resource_id}-{version}"'


def content_etag(body: dict) -> str:
    """The ETag of an answer's body: the same body, the same tag."""
    return '"' + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32] + '"'


def matches(header: str | None, current: str) -> bool:
    """Whether an If-Match / If-None-Match header names `current` (weak comparison: W/ is ignored), or is "*"."""
    if not header:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or current in candidates


def check_if_match(if_match: str | None, current: str) -> None:
    """Raises: PreconditionFailed when If-Match is given and names none of the current ETag."""
    if if_match is not None and not matches(if_match, current):
        raise PreconditionFailed("The device changed since the ETag in If-Match was read.", code="ETAG_MISMATCH")
