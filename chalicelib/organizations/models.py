"""Organizations: the tenants that own devices and tokens."""
from pydantic import BaseModel, ConfigDict, Field


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)


class Organization(BaseModel):
    id: int
    name: str
    created: str
