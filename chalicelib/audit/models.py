"""Audit trail entries (API.md §2 Audit trail)."""
from datetime import datetime
from typing import Literal

from pydantic import Field

from chalicelib.api.pagination import PageQuery

Action = Literal["create", "update", "delete", "operation_requested", "operation_finished",
                 "bulk_operation_created", "bulk_operation_started", "bulk_operation_paused",
                 "bulk_operation_resumed", "bulk_operation_cancelled", "bulk_operation_aborted",
                 "bulk_operation_completed"]
SECRET_MASK = "***"


class AuditQuery(PageQuery):
    device_id: int | None = Field(default=None, ge=1)
    action: Action | None = None
    actor: str | None = Field(default=None, min_length=1, max_length=100,
                              description="A token id, or a token name")
    since: datetime | None = None
