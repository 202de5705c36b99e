"""Organization use cases (API.md §9)."""
from chalicelib import clock
from chalicelib.errors import Forbidden
from chalicelib.organizations import db
from chalicelib.organizations.models import Organization, OrganizationCreate
from chalicelib.tokens.models import Principal


def create_organization(principal: Principal, request: OrganizationCreate) -> dict:
    """Raises: Forbidden unless a platform admin; Conflict on a taken name."""
    principal.require("admin")
    if not principal.is_platform:
        raise Forbidden("Only a platform token can create organizations.", code="PLATFORM_ONLY")
    organization = Organization(id=0, name=request.name, created=clock.iso(clock.now()))
    organization.id = db.create(organization)
    return organization.model_dump()


def list_organizations(principal: Principal) -> list[dict]:
    principal.require("admin")
    if principal.is_platform:
        return [o.model_dump() for o in db.list_all()]
    own = db.get(principal.organization_id)
    return [own.model_dump()] if own else []
