"""ETag / If-Match (API.md §1 Concurrency): a device's ETag is its id and write version."""
from chalicelib.errors import PreconditionFailed


def etag(resource_id: int, version: int) -> str:
    return f'"{resource_id}-{version}"'


def check_if_match(if_match: str | None, current: str) -> None:
    """Raises: PreconditionFailed when If-Match names none of the current ETag."""
    if if_match is None:
        return
    candidates = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" not in candidates and current not in candidates:
        raise PreconditionFailed("The device changed since the ETag in If-Match was read.",
                                 code="ETAG_MISMATCH")
