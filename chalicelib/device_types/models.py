"""Device types: the profiles devices are created from (API.md §9)."""
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints


def lowercase(value):
    """Strip and lowercase before the pattern runs (StringConstraints checks its pattern first)."""
    return value.strip().lower() if isinstance(value, str) else value


Word = Annotated[str, BeforeValidator(lowercase), StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
"""A word in any case, stored lowercase: categories and diagnostic helper names (`gateway`, `cwmp_basic`)."""


class DeviceTypeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    short_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    name: str = Field(min_length=1, max_length=100)
    category: Word
    manufacturer: str | None = Field(default=None, max_length=100)
    product_class: str | None = Field(default=None, max_length=64)
    diagnostic_helper: Word = "generic"


class DeviceType(DeviceTypeCreate):
    id: int
    created: str
