"""Audit trail entries (API.md §2 Audit trail)."""
from datetime import datetime
from typing import Literal

from pydantic import Field

from chalicelib.api.pagination import PageQuery

Action = Literal["create", "update", "delete", "operation_requested", "operation_finished"]
SECRET_MASK = "***"


class AuditQuery(PageQuery):
    device_id: int | None = Field(default=None, ge=1)
    action: Action | None = None
    actor: str | None = Field(default=None, min_length=1, max_length=100,
                              description="A token id, or a token name")
    since: datetime | None = None
