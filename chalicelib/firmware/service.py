"""Firmware image catalogue."""
from chalicelib import clock
from chalicelib.device_types import db as device_types_db
from chalicelib.errors import Forbidden, ValidationFailed, field_problem
from chalicelib.firmware import db
from chalicelib.firmware.models import FirmwareImage, FirmwareImageCreate
from chalicelib.tokens.models import Principal


def create_firmware_image(principal: Principal, request: FirmwareImageCreate) -> dict:
    """Raises: Forbidden unless a platform admin; ValidationFailed naming unknown device types."""
    principal.require("admin")
    if not principal.is_platform:
        raise Forbidden("Only a platform token can add firmware images.", code="PLATFORM_ONLY")
    type_ids = sorted(set(request.device_types))
    known = {t for t in type_ids if device_types_db.get(t) is not None}
    unknown = [(i, t) for i, t in enumerate(request.device_types) if t not in known]
    if unknown:
        raise ValidationFailed("Unknown device types.", details=[
            field_problem(f"device_types.{i}", f"no device type {t}") for i, t in unknown])
    image = FirmwareImage(id=0, created=clock.iso(clock.now()),
                          **request.model_dump(mode="json") | {"device_types": type_ids})
    image.id = db.create(image)
    return image.model_dump()


def list_firmware_images(principal: Principal) -> list[dict]:
    principal.require("admin")
    return [i.model_dump() for i in db.list_all()]


def require_compatible(image_id: int, type_id: int) -> None:
    """Raises: ValidationFailed when the image is unknown or not made for the device type."""
    image = db.get(image_id)
    if image is None:
        raise ValidationFailed("Unknown firmware image.",
                               details=[field_problem("firmware_image", f"no firmware image {image_id}")])
    if type_id not in image.device_types:
        raise ValidationFailed("The firmware image does not fit this device type.", details=[
            field_problem("firmware_image", f"image {image_id} is not for device type {type_id}")])
