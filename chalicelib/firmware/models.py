"""Firmware images: versions that device types can be updated to (API.md §9)."""
from typing import Annotated

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, StringConstraints, UrlConstraints, field_validator

Checksum = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                            pattern=r"^(sha256:)?[0-9a-f]{64}$")]
"""A SHA-256 digest, optionally prefixed `sha256:`."""


class FirmwareImageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: str = Field(min_length=1, max_length=64)
    url: Annotated[AnyUrl, UrlConstraints(allowed_schemes=["http", "https"], max_length=2048)]
    checksum: Checksum
    device_types: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=100)

    @field_validator("device_types")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        return sorted(set(value))


class FirmwareImage(BaseModel):
    id: int
    version: str
    url: str
    checksum: str
    device_types: list[int]
    created: str
