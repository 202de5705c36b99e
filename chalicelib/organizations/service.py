"""Organization use cases (API.md §9)."""
from chalicelib import clock
from chalicelib.errors import BadRequest, Forbidden, field_problem
from chalicelib.ids import parse_digits
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


NO_SUCH_ORGANIZATION = 0   # what a platform token's filter by an unknown name selects: a scope with no items


def filter_scope(principal: Principal, organization: str | None, organization_id: int | None) -> int | None:
    """The organization a query's filters select (`organization`: an id or a name, any case; `organization_id`),
    None for every organization the token sees.

    A name is resolved only within the token's scope: an organization token compares it with its own
    organization's name and never looks other names up, so an unknown name and another tenant's answer the
    same 403 with the same message (names cannot be probed, ids do not leak). A platform token's unknown name
    selects NO_SUCH_ORGANIZATION: nothing.

    Raises:
        Forbidden: ORGANIZATION_FORBIDDEN, an organization outside the token's scope or unknown to it.
        BadRequest: INVALID_QUERY, organization and organization_id naming two organizations.
    """
    requested = None
    if organization is not None:
        requested = parse_digits(organization)
        if requested is None:
            requested = _named(principal, organization)
    if organization_id is not None:
        if requested is not None and requested != organization_id:
            raise BadRequest("organization and organization_id name different organizations.", code="INVALID_QUERY",
                             details=[field_problem("organization", "differs from organization_id"),
                                      field_problem("organization_id", "differs from organization")])
        requested = organization_id
    if requested == NO_SUCH_ORGANIZATION and principal.is_platform:
        return requested
    if requested is not None and not principal.can_see(requested):
        raise _outside_scope()
    return requested if requested is not None else principal.organization_id


def _named(principal: Principal, name: str) -> int:
    if principal.is_platform:
        found = db.find_by_name(name)
        return NO_SUCH_ORGANIZATION if found is None else found
    own = db.get(principal.organization_id)
    if own is None or own.name.strip().lower() != name.strip().lower():
        raise _outside_scope()
    return own.id


def _outside_scope() -> Forbidden:
    # One sentence whatever was asked and whether it exists: nothing to tell an unknown name from another tenant's.
    return Forbidden("The organization filter names no organization in this token's scope.",
                     code="ORGANIZATION_FORBIDDEN")
