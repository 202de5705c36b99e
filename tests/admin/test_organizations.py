"""POST/GET /admin/organizations/ (API.md §9)."""
import re

ORGS = "/admin/organizations/"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_create_is_201_with_id_name_and_created(api):
    response = api.post(ORGS, {"name": "  Acme Networks "})
    assert response.status_code == 201
    body = response.json_body
    assert set(body) == {"id", "name", "created"}
    assert isinstance(body["id"], int) and body["id"] >= 1
    assert body["name"] == "Acme Networks"
    assert ISO_Z.match(body["created"])


def test_list_gives_every_organization_by_id(api):
    created = [api.post(ORGS, {"name": name}).json_body for name in ("b-org", "a-org", "c-org")]
    body = api.get(ORGS).json_body
    assert body["count"] == 3
    assert body["results"] == created


def test_duplicate_name_in_any_case_is_409_and_creates_nothing(api, refused, stored):
    api.organization("Acme")
    before = stored()
    for duplicate in ("Acme", "ACME", "  acme  "):
        error = refused(api.post(ORGS, {"name": duplicate}), 409, "DUPLICATE_NAME")
        assert error["details"] == [{"field": "name", "problem": "already used"}]
    assert stored() == before


def test_invalid_body_is_422_naming_the_field_and_creates_nothing(api, refused, stored):
    before = stored()
    for body, field in (({}, "name"), ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "x" * 101}, "name"),
                        ({"name": 5}, "name"), ({"name": None}, "name"), ({"name": "ok", "id": 7}, "id")):
        error = refused(api.post(ORGS, body), 422, "VALIDATION_FAILED")
        assert [d["field"] for d in error["details"]] == [field], body
    assert stored() == before


def test_organization_admin_sees_only_its_own_organization(api):
    mine = api.organization("mine")
    api.organization("theirs")
    admin = api.token(mine, permissions=("admin",))
    body = api.get(ORGS, token=admin).json_body
    assert body["count"] == 1
    assert [o["id"] for o in body["results"]] == [mine]


def test_organization_admin_cannot_create_organizations(api, refused, stored):
    admin = api.token(api.organization("mine"), permissions=("admin",))
    before = stored()
    refused(api.post(ORGS, {"name": "new"}, token=admin), 403, "PLATFORM_ONLY")
    assert stored() == before
