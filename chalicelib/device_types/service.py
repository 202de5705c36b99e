"""Device type catalogue: shared by all organizations, written by platform admins."""
from chalicelib import clock
from chalicelib.device_types import db
from chalicelib.device_types.models import DeviceType, DeviceTypeCreate
from chalicelib.errors import Forbidden
from chalicelib.tokens.models import Principal


def create_device_type(principal: Principal, request: DeviceTypeCreate) -> dict:
    """Raises: Forbidden unless a platform admin; Conflict on a taken short name."""
    principal.require("admin")
    if not principal.is_platform:
        raise Forbidden("Only a platform token can add device types.", code="PLATFORM_ONLY")
    device_type = DeviceType(id=0, created=clock.iso(clock.now()), **request.model_dump())
    device_type.id = db.create(device_type)
    return device_type.model_dump()


def list_device_types(principal: Principal) -> list[dict]:
    principal.require("admin")
    return [t.model_dump() for t in db.list_all()]
