"""Firmware images: versions that device types can be updated to (API.md §9)."""
from typing import Annotated

from pydantic import AnyUrl, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, UrlConstraints

from chalicelib.device_types.models import lowercase
from chalicelib.ids import Id

Checksum = Annotated[str, BeforeValidator(lowercase), StringConstraints(pattern=r"^(sha256:)?[0-9a-f]{64}$")]
"""A SHA-256 digest in hex of any case (stored lowercase), optionally prefixed `sha256:`."""


class FirmwareImageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: str = Field(min_length=1, max_length=64)
    url: Annotated[AnyUrl, UrlConstraints(allowed_schemes=["http", "https"], max_length=2048)]
    checksum: Checksum
    # Kept in the order sent, so that a 422 can name an unknown type by its position in the body.
    device_types: list[Id] = Field(min_length=1, max_length=100)


class FirmwareImage(BaseModel):
    id: int
    version: str
    url: str
    checksum: str
    device_types: list[int]
    created: str
