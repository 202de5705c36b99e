"""Device inventory use cases (API.md §2): create, read, list, replace, patch, delete."""
import uuid
from collections.abc import Collection
from datetime import UTC

from chalicelib import clock
from chalicelib.audit.models import SECRET_MASK
from chalicelib.device_types import db as device_types_db
from chalicelib.devices import credentials, db
from chalicelib.devices.lookup import device_etag, find_visible, get_visible  # noqa: F401 (their callers import them here)
from chalicelib.devices.models import (
    OPERATION_FLAGS,
    DeviceCreate,
    DeviceFields,
    DeviceListQuery,
    DevicePatch,
    DeviceReplace,
)
from chalicelib.errors import Conflict, Forbidden, PreconditionFailed, ValidationFailed, field_problem
from chalicelib.etags import check_if_match
from chalicelib.firmware.service import require_compatible
from chalicelib.observability import DEVICES_CREATED, DEVICES_DELETED, DEVICES_UPDATED, metrics
from chalicelib.organizations import db as organizations_db
from chalicelib.store import retries
from chalicelib.store.dynamo import plain
from chalicelib.tokens.models import Principal

WRITABLE = tuple(DeviceFields.model_fields)
# What a writable field holds when a POST or a PUT leaves it out (the others become null).
WRITABLE_DEFAULTS = {"is_active": True, "status": "Down"}
DEFAULTS = {**WRITABLE_DEFAULTS, "debug": False, "firmware_image_is_pending": False}
# Taken from the device type unless the client sends them.
INHERITED = ("manufacturer", "product_class")


def view(item: dict, pending: bool = False) -> dict:
    body = db.to_view(item)
    if pending:
        # Derived from the unfinished operations the device item holds, as pending_settings is; imported
        # here so that a plain device read does not load the operations package (cold start).
        from chalicelib.operations.db import pending_summary
        body["pending_details"] = pending_summary(item.get("pending_operations"))[1]
    return body


def get_device(principal: Principal, device_id: int, pending: bool = False,
               update_status: bool = False) -> tuple[dict, str]:
    """The device's public view and ETag; with update_status, its live status first. Raises: NotFound."""
    principal.require("devices:read")
    item = get_visible(principal, device_id)
    if update_status:
        [item] = _live([item])
    return view(item, pending), device_etag(item)


def _live(items: list[dict]) -> list[dict]:
    """The items with the driver's live status where it answered within the budget (API.md §3)."""
    from chalicelib.operations import live_status  # loaded only by requests that ask for it
    return live_status.refresh(items)


def list_devices(principal: Principal, query: DeviceListQuery, limit: int, offset: int,
                 after: str | None) -> tuple[list[dict], bool, int, str | None]:
    """A page of devices by id: (views, more, count, sort key of the last).

    Raises:
        Forbidden: an explicit organization filter outside the token's scope.
    """
    principal.require("devices:read")
    organization = principal.organization_scope(query.organization)
    since = query.last_status_change_from
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    items, more, count = db.list_page(organization, query.type, query.status,
                                      clock.iso(since) if since else None, query.pending, limit, offset, after)
    last = db.sort_value(items[-1]) if items else None
    if query.update_status:
        items = _live(items)
    return [view(i, query.pending) for i in items], more, count, last


def create_device(principal: Principal, body: DeviceCreate) -> tuple[dict, str]:
    """Store a new device. Raises: Forbidden, ValidationFailed, Conflict (duplicate serial/identifier)."""
    principal.require("devices:write")
    fields = body.changes()
    now = clock.iso(clock.now())
    record = {**{k: None for k in WRITABLE if k != "password"}, **DEFAULTS, "uuid": str(uuid.uuid4()),
              "created": now, "status_change": now, "last_change": now, "version": 1}
    record = _apply(principal, record, fields, sent=fields.keys())
    record["id"] = db.create(record, _audit_changes({}, record, fields), principal.actor())
    metrics.add_metric(name=DEVICES_CREATED, unit="Count", value=1)
    return view(record), device_etag(record)


def replace_device(principal: Principal, device_id: int, body: DeviceReplace,
                   if_match: str | None) -> tuple[dict, str]:
    """PUT: every writable field from the body, as a POST of it would set them; the stored password stays
    unless one is sent."""
    sent = body.changes()
    fields = {k: None for k in WRITABLE if k != "password"} | WRITABLE_DEFAULTS | sent
    return _update(principal, device_id, fields, if_match, sent=sent.keys())


def patch_device(principal: Principal, device_id: int, body: DevicePatch,
                 if_match: str | None) -> tuple[dict, str]:
    """PATCH: only the fields sent, and the operations its flags ask for (queued after the write)."""
    fields = {name: value for name, value in body.changes().items() if name not in OPERATION_FLAGS}
    return _update(principal, device_id, fields, if_match, sent=fields.keys(), flags=body.operation_flags())


def delete_device(principal: Principal, device_id: int) -> None:
    """Remove the device and all it owns. Raises: NotFound."""
    from chalicelib.operations.service import unfinished_dispatched

    principal.require("devices:write")
    for attempt in retries.attempts(retries.OPTIMISTIC_ATTEMPTS, "deleting this device"):
        item = get_visible(principal, device_id, consistent=attempt > 0)
        if unfinished_dispatched(item):
            raise Conflict("An operation on this device is with the device and not finished; delete it after.",
                           code="OPERATION_IN_PROGRESS")
        snapshot = {k: {"old": v, "new": None} for k, v in db.to_view(item).items()
                    if k in ("name", "serial_number", "organization_id", "type") and v is not None}
        try:
            db.delete(item, snapshot, principal.actor())
            metrics.add_metric(name=DEVICES_DELETED, unit="Count", value=1)
            return
        except db.VersionChanged:
            continue


def _update(principal: Principal, device_id: int, fields: dict, if_match: str | None,
            sent: Collection[str], flags: dict | None = None) -> tuple[dict, str]:
    from chalicelib.operations import service as operations

    # A firmware_image sent with firmware_image_is_pending names the update's target: part of the operation.
    written = set(fields) - ({"firmware_image"} if (flags or {}).get("firmware_image_is_pending") else set())
    if written or not flags:
        principal.require("devices:write")
    # Without If-Match the last write wins: a write that finds the device changed since its read reads it
    # again and re-applies the request, a bounded number of times (then 503, never 412: API.md §1).
    for attempt in retries.attempts(retries.OPTIMISTIC_ATTEMPTS, "updating this device"):
        old = get_visible(principal, device_id, consistent=attempt > 0)
        check_if_match(if_match, device_etag(old))
        current = {k: v for k, v in old.items() if k not in db.KEY_ATTRIBUTES and k != "entity"}
        new = _apply(principal, dict(current), fields, sent)
        changes = _audit_changes(current, new, fields)
        moment = clock.now()
        plan = operations.plan_operations(principal, new, flags or {}, moment)
        new |= plan.device_fields
        if not changes and not plan.operation_ids:
            return view(old), device_etag(old)
        now = clock.iso(moment)
        new |= {"version": int(old["version"]) + 1, "last_change": now}
        if new.get("status") != current.get("status"):
            new["status_change"] = now
        try:
            db.replace(old, new, changes, principal.actor(), extra=plan.actions)
        except db.VersionChanged:
            if if_match is not None:
                raise PreconditionFailed("The device changed since the ETag in If-Match was read.",
                                         code="ETAG_MISMATCH") from None
            continue
        operations.enqueue(device_id, plan.operation_ids)
        metrics.add_metric(name=DEVICES_UPDATED, unit="Count", value=1)
        return view(new), device_etag(new)
    raise AssertionError("unreachable: attempts() raises when spent")


def _apply(principal: Principal, record: dict, fields: dict, sent: Collection[str]) -> dict:
    """record with `fields` applied after the checks that need stored data; `sent` names the fields the
    client gave (a PUT clears the others, which then may be inherited from the type).

    Raises:
        Forbidden: moving a device into an organization outside the token's scope.
        ValidationFailed: unknown organization, device type or firmware image.
    """
    fields = dict(fields)
    password = fields.pop("password", None) if "password" in fields else ...
    record.update(fields)
    organization_id = record["organization_id"]
    if "organization_id" in fields:
        if not principal.can_see(organization_id):
            raise Forbidden(f"Organization {organization_id} is outside this token's scope.",
                            code="ORGANIZATION_FORBIDDEN")
        if not organizations_db.exists(organization_id):
            raise ValidationFailed("Unknown organization.",
                                   details=[field_problem("organization_id", "no such organization")])
    if "type" in fields:
        device_type = device_types_db.get_cached(record["type"])
        if device_type is None:
            raise ValidationFailed("Unknown device type.",
                                   details=[field_problem("type", f"no device type {record['type']}")])
        record["type_short_name"] = device_type.short_name
        # A device inherits its type's manufacturer and product class unless told otherwise.
        for name in INHERITED:
            if record.get(name) is None and name not in sent:
                record[name] = getattr(device_type, name)
    if record.get("firmware_image") is not None and ({"firmware_image", "type"} & fields.keys()):
        require_compatible(record["firmware_image"], record["type"])
    if password is None:
        record.pop("password_ciphertext", None)
    elif password is not ...:
        record["password_ciphertext"] = credentials.encrypt_password(password)
    return record


def _audit_changes(old: dict, new: dict, fields: Collection[str]) -> dict:
    """The written fields whose stored value changed, old and new; secrets masked.

    Compares the records rather than the request: a field a PUT clears may be refilled from the type.
    """
    changes = {}
    for name in fields:
        if name == "password":
            had, has = bool(old.get("password_ciphertext")), bool(new.get("password_ciphertext"))
            if had or has:
                changes[name] = {"old": SECRET_MASK if had else None, "new": SECRET_MASK if has else None}
            continue
        before, after = plain(old.get(name)), plain(new.get(name))
        if before != after:
            changes[name] = {"old": before, "new": after}
    return changes
