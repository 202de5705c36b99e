"""Diagnostics use cases (API.md §4): list a device's or the organization's entries, record one."""
from chalicelib import clock
from chalicelib.devices import service as devices_service
from chalicelib.diagnostics import db, health
from chalicelib.diagnostics.models import DiagnosticCreate, DiagnosticListQuery, device_number
from chalicelib.errors import NotFound
from chalicelib.observability import DIAGNOSTIC_ENTRIES_CREATED, metrics
from chalicelib.paging import Paging
from chalicelib.tokens.models import Principal

# The status of an entry posted without one.
DEFAULT_STATUS = {"issue_report": "open", "maintenance": "completed"}


def _visible_device(principal: Principal, reference) -> dict:
    """Raises: NotFound (DEVICE_NOT_FOUND) for an unknown device, another organization's, or a reference
    that is no device id."""
    number = device_number(reference)
    if number is None:
        raise NotFound(f"No device with id {reference!r}.", code="DEVICE_NOT_FOUND")
    return devices_service.get_visible(principal, number)


def list_entries(principal: Principal, query: DiagnosticListQuery,
                 paging: Paging) -> tuple[list[dict], bool, int, str | None]:
    """Newest first: (entries, more, count, sort value of the last); with update_status, fresh
    health_check entries of the device (`id`), or of the page's devices, are stored first.

    Raises:
        NotFound: `id` names no device the token may see.
    """
    principal.require("diagnostics:read")
    device = _visible_device(principal, query.device_reference()) if query.id is not None else None
    device_id = int(device["id"]) if device else None
    organization_id = principal.organization_id

    def page():
        return db.read_page(device_id, organization_id, query.diagnostic_type, query.status, paging.limit,
                            paging.skip, paging.after)

    if query.update_status:
        from chalicelib.diagnostics import checks  # the driver is loaded only by requests that ask for it

        targets = [device] if device else list(dict.fromkeys(int(item["device_id"]) for item in page()[0]))
        checks.refresh(targets, principal.can_see, principal.name)
    items, more, last = page()
    count = db.count(device_id, organization_id, query.diagnostic_type, query.status)
    return [db.to_view(item) for item in items], more, count, last


def create_entry(principal: Principal, body: DiagnosticCreate) -> dict:
    """Record an entry for a device.

    Raises:
        NotFound: DEVICE_NOT_FOUND (unknown, another organization's, or deleted meanwhile); nothing is written.
    """
    principal.require("diagnostics:write")
    device = _visible_device(principal, body.device_id)
    issues = [issue.model_dump() for issue in body.issues]
    fields = {
        "diagnostic_type": body.diagnostic_type, "status": body.status or _default_status(body.diagnostic_type, issues),
        "last_check": _iso(body.last_check), "next_check_due": _iso(body.next_check_due), "details": body.details,
        "issues": issues, "notes": body.notes, "performed_by": body.performed_by, "reported_by": body.reported_by,
        "priority": body.priority,
    }
    item = db.new_entry(device, fields, clock.now())
    if not db.put_entry(item):
        raise NotFound(f"No device with id {device['id']}.", code="DEVICE_NOT_FOUND")
    metrics.add_metric(name=DIAGNOSTIC_ENTRIES_CREATED, unit="Count", value=1)
    return db.to_view(item)


def _default_status(diagnostic_type: str, issues: list[dict]) -> str | None:
    """A health check's status follows its worst issue, as a helper's does; see DEFAULT_STATUS for others."""
    if diagnostic_type == "health_check":
        return health.status_of(issues)
    return DEFAULT_STATUS.get(diagnostic_type)


def _iso(moment) -> str | None:
    return clock.iso(moment) if moment is not None else None
