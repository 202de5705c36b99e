"""Audit trail entries (API.md §2 Audit trail)."""
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from chalicelib.ids import MAX_ID, Id, parse_digits
from chalicelib.paging import PageQuery

Action = Literal["create", "update", "delete", "operation_requested", "operation_finished",
                 "bulk_operation_created", "bulk_operation_started", "bulk_operation_paused",
                 "bulk_operation_resumed", "bulk_operation_cancelled", "bulk_operation_aborted",
                 "bulk_operation_completed"]
# What the audit trail shows instead of a secret (bandit B105 reads the name as a password).
SECRET_MASK = "***"  # nosec B105


def _actor(value: str) -> str:
    # All digits is a token id (audit/db.py): ASCII and within the store's range, or bad input, not a fault.
    if value.isdigit() and parse_digits(value) is None:
        raise ValueError(f"a token id is 1 to {MAX_ID} in ASCII digits (0-9)")
    return value


class AuditQuery(PageQuery):
    device_id: Id | None = None
    action: Action | None = None
    actor: Annotated[str, AfterValidator(_actor)] | None = Field(default=None, min_length=1, max_length=100,
                                                                 description="A token id, or a token name")
    since: datetime | None = None
