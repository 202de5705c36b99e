"""API tokens, their permissions and the Principal a request acts as."""
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.errors import Forbidden
from chalicelib.ids import Id, whole

Permission = Literal[
    "devices:read", "devices:write", "devices:operate", "diagnostics:read", "diagnostics:write",
    "reports:read", "analytics:overview", "analytics:subscriber", "telemetry:write", "admin",
]
PERMISSIONS: tuple[str, ...] = Permission.__args__
MAX_RATE_LIMIT = 100_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token of one organization, or a platform token (organization_id None)."""
    token_id: int
    name: str
    organization_id: int | None
    permissions: frozenset[str]
    rate_limit_per_minute: int

    @property
    def is_platform(self) -> bool:
        return self.organization_id is None

    def can_see(self, organization_id: int) -> bool:
        return self.is_platform or self.organization_id == organization_id

    def require(self, permission: str) -> None:
        """Raises: Forbidden when the token lacks the permission."""
        if permission not in self.permissions:
            raise Forbidden(f"This token lacks the '{permission}' permission.", code="PERMISSION_DENIED")

    def require_any(self, permissions: tuple[str, ...]) -> None:
        """Raises: Forbidden when the token holds none of `permissions` (fail closed: none listed, none held)."""
        if not self.permissions.intersection(permissions):
            needed = permissions[0] if permissions else "a declared"
            raise Forbidden(f"This token lacks the '{needed}' permission.", code="PERMISSION_DENIED")

    def organization_scope(self, requested: int | None) -> int | None:
        """The organization a query is limited to; None means every organization (platform only).

        Raises:
            Forbidden: an explicit organization outside the token's scope.
        """
        if requested is not None and not self.can_see(requested):
            raise Forbidden(f"Organization {requested} is outside this token's scope.",
                            code="ORGANIZATION_FORBIDDEN")
        return requested if requested is not None else self.organization_id

    def actor(self) -> dict:
        return {"token_id": self.token_id, "name": self.name}


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    organization_id: Id | None = None
    permissions: list[Permission] = Field(min_length=1, max_length=len(PERMISSIONS))
    rate_limit_per_minute: whole(1, MAX_RATE_LIMIT) | None = None

    @field_validator("permissions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class Token(BaseModel):
    """Public view: never the secret, which only the create response carries."""
    id: int
    name: str
    organization_id: int | None
    permissions: list[str]
    rate_limit_per_minute: int
    created: str
    revoked: str | None = None
    created_by: dict | None = None
