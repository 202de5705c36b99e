"""Organization items, with a guard that keeps names unique (case-insensitively)."""
from boto3.dynamodb.conditions import Key

from chalicelib.errors import Conflict, field_problem
from chalicelib.organizations.models import Organization
from chalicelib.store import dynamo, schema, sequences


def create(organization: Organization) -> int:
    """Raises: Conflict when the name is taken."""
    def actions(new_id: int) -> list[dict]:
        return [
            {"Put": {"Item": {**schema.organization_key(new_id), **schema.organization_list_keys(new_id),
                              "entity": "Organization", **organization.model_dump(), "id": new_id},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"Item": {**schema.organization_name_guard_key(organization.name), "entity": "Guard",
                              "organization_id": new_id},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
    try:
        return sequences.create_with_new_id("ORG", actions)
    except dynamo.Cancelled:
        raise Conflict(f"An organization named {organization.name!r} exists.", code="DUPLICATE_NAME",
                       details=[field_problem("name", "already used")]) from None


def get(organization_id: int) -> Organization | None:
    item = dynamo.get(schema.organization_key(organization_id))
    return from_item(item) if item else None


# Organizations are never deleted, so a warm Lambda keeps the ids it has seen exist: a device write checks its
# organization without a read, and without a ConditionCheck on the organization's item in its transaction,
# which would make that item one that every device create of the organization contends for.
_known: set[int] = set()


def exists(organization_id: int) -> bool:
    if organization_id not in _known:
        if dynamo.get(schema.organization_key(organization_id)) is None:
            return False     # not remembered: it may be created in a moment
        _known.add(organization_id)
    return True


def forget_known() -> None:
    _known.clear()


def find_by_name(name: str) -> int | None:
    """The id of the organization named `name` (any case), from its name guard."""
    guard = dynamo.get(schema.organization_name_guard_key(name))
    return int(guard["organization_id"]) if guard else None


def list_all() -> list[Organization]:
    items = dynamo.query_all(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(schema.ORGANIZATIONS_PK))
    return [from_item(i) for i in items]


def from_item(item: dict) -> Organization:
    return Organization(id=int(item["id"]), name=item["name"], created=item["created"])
