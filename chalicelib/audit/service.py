"""Reading the audit trail; entries are written by the services whose changes they record."""
from datetime import UTC

from chalicelib import clock
from chalicelib.audit import db
from chalicelib.audit.models import AuditQuery
from chalicelib.paging import Paging
from chalicelib.tokens.models import Principal

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def list_audit_entries(principal: Principal, query: AuditQuery,
                       paging: Paging) -> tuple[list[dict], bool, int, str | None]:
    """The token's organizations only; newest first."""
    principal.require("devices:read")
    since = query.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without an offset is UTC, as in the device list
    since = clock.iso(since) if since else None
    return db.read_page(principal.organization_id, query.device_id, query.action, query.actor, since,
                        paging.limit, paging.skip, paging.after)
