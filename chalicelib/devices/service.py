"""Device inventory use cases (API.md §2): create, read, list, replace, patch, delete."""
import uuid
from datetime import UTC

from chalicelib import clock
from chalicelib.api.conditional import check_if_match, etag
from chalicelib.audit.models import SECRET_MASK
from chalicelib.device_types import db as device_types_db
from chalicelib.devices import credentials, db
from chalicelib.devices.models import DeviceCreate, DeviceFields, DeviceListQuery, DevicePatch, DeviceReplace
from chalicelib.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed, field_problem
from chalicelib.firmware.service import require_compatible
from chalicelib.observability import DEVICES_CREATED, DEVICES_DELETED, DEVICES_UPDATED, metrics
from chalicelib.organizations import db as organizations_db
from chalicelib.store.dynamo import plain
from chalicelib.tokens.models import Principal

WRITABLE = tuple(DeviceFields.model_fields)
DEFAULTS = {"is_active": True, "status": "Down", "debug": False, "firmware_image_is_pending": False}
# Optimistic-concurrency retries for writes without If-Match (last write wins, never half-applied).
WRITE_ATTEMPTS = 5


def device_etag(item: dict) -> str:
    return etag(int(item["id"]), int(item["version"]))


def get_visible(principal: Principal, device_id: int) -> dict:
    """The stored device item if the caller may see it.

    Raises:
        NotFound: unknown, or another organization's (never reveal that it exists).
    """
    item = db.get(device_id)
    if item is None or not principal.can_see(int(item["organization_id"])):
        raise NotFound(f"No device with id {device_id}.", code="DEVICE_NOT_FOUND")
    return item


def view(item: dict, pending: bool = False) -> dict:
    body = db.to_view(item)
    if pending:
        body["pending_details"] = item.get("pending_details") or []
    return body


def get_device(principal: Principal, device_id: int, pending: bool = False) -> tuple[dict, str]:
    """The device's public view and ETag. Raises: NotFound."""
    principal.require("devices:read")
    item = get_visible(principal, device_id)
    return view(item, pending), device_etag(item)


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
    return [view(i, query.pending) for i in items], more, count, last


def create_device(principal: Principal, body: DeviceCreate) -> tuple[dict, str]:
    """Store a new device. Raises: Forbidden, ValidationFailed, Conflict (duplicate serial/identifier)."""
    principal.require("devices:write")
    fields = body.changes()
    now = clock.iso(clock.now())
    record = {**DEFAULTS, **{k: None for k in WRITABLE if k != "password"}, "uuid": str(uuid.uuid4()),
              "created": now, "status_change": now, "last_change": now, "version": 1}
    record = _apply(principal, record, fields)
    record["id"] = db.create(record, _audit_changes({}, fields), principal.actor())
    metrics.add_metric(name=DEVICES_CREATED, unit="Count", value=1)
    return view(record), device_etag(record)


def replace_device(principal: Principal, device_id: int, body: DeviceReplace,
                   if_match: str | None) -> tuple[dict, str]:
    """PUT: every writable field from the body; the stored password stays unless one is sent."""
    fields = {k: None for k in WRITABLE if k != "password"} | body.changes()
    return _update(principal, device_id, fields, if_match)


def patch_device(principal: Principal, device_id: int, body: DevicePatch,
                 if_match: str | None) -> tuple[dict, str]:
    """PATCH: only the fields sent."""
    return _update(principal, device_id, body.changes(), if_match)


def delete_device(principal: Principal, device_id: int) -> None:
    """Remove the device and all it owns. Raises: NotFound."""
    principal.require("devices:write")
    for _ in range(WRITE_ATTEMPTS):
        item = get_visible(principal, device_id)
        snapshot = {k: {"old": v, "new": None} for k, v in db.to_view(item).items()
                    if k in ("name", "serial_number", "organization_id", "type") and v is not None}
        try:
            db.delete(item, snapshot, principal.actor())
            metrics.add_metric(name=DEVICES_DELETED, unit="Count", value=1)
            return
        except db.VersionChanged:
            continue
    raise PreconditionFailed("The device kept changing; try again.", code="WRITE_CONFLICT")


def _update(principal: Principal, device_id: int, fields: dict, if_match: str | None) -> tuple[dict, str]:
    principal.require("devices:write")
    for _ in range(WRITE_ATTEMPTS):
        old = get_visible(principal, device_id)
        check_if_match(if_match, device_etag(old))
        current = {k: v for k, v in old.items() if k not in db.KEY_ATTRIBUTES and k != "entity"}
        new = _apply(principal, dict(current), fields)
        changes = _audit_changes(current, fields)
        if not changes:
            return view(old), device_etag(old)
        now = clock.iso(clock.now())
        new |= {"version": int(old["version"]) + 1, "last_change": now}
        if new.get("status") != current.get("status"):
            new["status_change"] = now
        try:
            db.replace(old, new, changes, principal.actor())
        except db.VersionChanged:
            if if_match is not None:
                raise PreconditionFailed("The device changed since the ETag in If-Match was read.",
                                         code="ETAG_MISMATCH") from None
            continue
        metrics.add_metric(name=DEVICES_UPDATED, unit="Count", value=1)
        return view(new), device_etag(new)
    raise PreconditionFailed("The device kept changing; try again.", code="WRITE_CONFLICT")


def _apply(principal: Principal, record: dict, fields: dict) -> dict:
    """record with `fields` applied after the checks that need stored data.

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
        if organizations_db.get(organization_id) is None:
            raise ValidationFailed("Unknown organization.",
                                   details=[field_problem("organization_id", f"no organization {organization_id}")])
    if "type" in fields:
        device_type = device_types_db.get(record["type"])
        if device_type is None:
            raise ValidationFailed("Unknown device type.",
                                   details=[field_problem("type", f"no device type {record['type']}")])
        record["type_short_name"] = device_type.short_name
        # A device inherits its type's manufacturer and product class unless told otherwise.
        for name in ("manufacturer", "product_class"):
            if record.get(name) is None and name not in fields:
                record[name] = getattr(device_type, name)
    if record.get("firmware_image") is not None and ({"firmware_image", "type"} & fields.keys()):
        require_compatible(record["firmware_image"], record["type"])
    if password is None:
        record.pop("password_ciphertext", None)
    elif password is not ...:
        record["password_ciphertext"] = credentials.encrypt_password(password)
    return record


def _audit_changes(old: dict, fields: dict) -> dict:
    """Changed fields with old and new values; secrets masked."""
    changes = {}
    for name, new in fields.items():
        if name == "password":
            had = bool(old.get("password_ciphertext"))
            if new is not None or had:
                changes[name] = {"old": SECRET_MASK if had else None, "new": SECRET_MASK if new is not None else None}
            continue
        before = old.get(name)
        if plain(before) != plain(new):
            changes[name] = {"old": plain(before), "new": plain(new)}
    return changes
