"""The device lookups every capability uses: by id, by serial or identifier, and the ETag.

Below every service (devices, operations, bulk operations, diagnostics, telemetry, the simulator): it
imports only the device items (`devices/db.py`), so a capability that reads a device never imports the
device use cases, and those may import the capabilities they drive (a PATCH queues operations).
"""
from chalicelib.devices import db
from chalicelib.errors import NotFound
from chalicelib.etags import etag
from chalicelib.tokens.models import Principal


def device_etag(item: dict) -> str:
    return etag(int(item["id"]), int(item["version"]))


def get_visible(principal: Principal, device_id: int, consistent: bool = False) -> dict:
    """The stored device item if the caller may see it (`consistent`: as last written, for a write retried
    after another writer's).

    Raises:
        NotFound: unknown, or another organization's (never reveal that it exists).
    """
    item = db.get(device_id, consistent)
    if item is None or not principal.can_see(int(item["organization_id"])):
        raise NotFound(f"No device with id {device_id}.", code="DEVICE_NOT_FOUND")
    return item


def find_visible(principal: Principal, kind: str, value: str) -> dict:
    """The device a serial number (kind "serial") or identifier (any of IDENTIFIER_KINDS) names, if the caller
    may see it. The caller has checked `kind`; a value no device could hold (a bad check digit) is not found.

    Raises:
        NotFound: DEVICE_NOT_FOUND, as for an unknown id.
    """
    from pydantic import ValidationError

    from chalicelib.devices.models import Identifiers  # the request models: loaded by this lookup only

    missing = NotFound(f"No device with {kind} {value}.", code="DEVICE_NOT_FOUND")
    if kind != "serial":
        try:
            value = getattr(Identifiers.model_validate({kind: value}), kind)  # the stored, normalised form
        except ValidationError:
            raise missing from None
    device_id = db.find_id(kind, value)
    item = db.get(device_id) if device_id is not None else None
    if item is None or not principal.can_see(int(item["organization_id"])):
        raise missing
    return item
