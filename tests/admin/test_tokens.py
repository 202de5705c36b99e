"""POST/GET /admin/tokens/ and DELETE /admin/tokens/{id}/ (API.md §9)."""
TOKENS = "/admin/tokens/"


def _create(api, organization_id, permissions=("devices:read",), token=..., **extra):
    body = {"name": "svc", "organization_id": organization_id, "permissions": list(permissions)} | extra
    return api.post(TOKENS, body, token=token)


def _ids(api, token=...) -> list[int]:
    return [t["id"] for t in api.get(TOKENS, token=token).json_body["results"]]


def test_create_is_201_with_id_and_the_secret(api):
    org = api.organization()
    response = _create(api, org, ["devices:write", "devices:read", "devices:read"], rate_limit_per_minute=30)
    assert response.status_code == 201
    body = response.json_body
    assert isinstance(body["id"], int)
    assert body["token"].startswith("flt_")
    assert body["organization_id"] == org
    assert body["permissions"] == ["devices:read", "devices:write"]
    assert body["rate_limit_per_minute"] == 30
    assert body["revoked"] is None
    assert body["created"].endswith("Z")
    assert api.get("/inventory_device/", token=body["token"]).status_code == 200
    assert _create(api, org).json_body["rate_limit_per_minute"] == 100  # the default


def test_null_organization_makes_a_platform_token_that_sees_every_organization(api):
    one, two = api.organization(), api.organization()
    platform = _create(api, None, ["admin"]).json_body
    assert platform["organization_id"] is None
    listing = api.get("/admin/organizations/", token=platform["token"]).json_body
    assert [o["id"] for o in listing["results"]] == [one, two]


def test_organization_admin_creates_tokens_only_for_its_own_organization(api, refused, stored):
    mine, other = api.organization(), api.organization()
    admin = api.token(mine, permissions=("admin", "devices:read"))
    before = stored()
    refused(_create(api, other, token=admin), 403, "ORGANIZATION_FORBIDDEN")
    refused(_create(api, None, token=admin), 403, "ORGANIZATION_FORBIDDEN")  # a platform token
    assert stored() == before
    response = _create(api, mine, token=admin)
    assert response.status_code == 201
    assert response.json_body["organization_id"] == mine
    assert response.json_body["created_by"]["name"]


def test_organization_admin_cannot_grant_a_permission_it_lacks(api, refused, stored):
    org = api.organization()
    admin = api.token(org, permissions=("admin", "devices:read"))
    before = stored()
    error = refused(_create(api, org, ["devices:read", "devices:write"], token=admin), 403, "PERMISSION_DENIED")
    assert "devices:write" in error["message"]
    assert stored() == before


def test_unknown_organization_is_422_naming_it_and_creates_nothing(api, refused, stored):
    before = stored()
    error = refused(_create(api, 999), 422, "VALIDATION_FAILED")
    assert [d["field"] for d in error["details"]] == ["organization_id"]
    assert stored() == before


def test_bad_field_is_422_naming_it_and_creates_nothing(api, refused, stored):
    before = stored()
    base = {"name": "svc", "organization_id": None, "permissions": ["devices:read"]}
    for body, field in (({"permissions": ["devices:fly"]}, "permissions.0"), ({"permissions": []}, "permissions"),
                        ({"permissions": "admin"}, "permissions"), ({"name": ""}, "name"),
                        ({"organization_id": 0}, "organization_id"), ({"organization_id": "one"}, "organization_id"),
                        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"), ({"token": "flt_mine"}, "token")):
        error = refused(api.post(TOKENS, base | body), 422, "VALIDATION_FAILED")
        assert [d["field"] for d in error["details"]] == [field], body
    assert stored() == before


def test_list_shows_every_token_without_secrets(api):
    org = api.organization()
    created = [_create(api, org).json_body, _create(api, None).json_body]
    body = api.get(TOKENS).json_body
    assert body["count"] == 3  # with the fixture's own platform token
    listed = {t["id"]: t for t in body["results"]}
    for token in created:
        assert listed[token["id"]] == {k: v for k, v in token.items() if k != "token"}
    text = api.get(TOKENS).body.decode()
    assert all(token["token"] not in text for token in created)
    assert api.platform not in text


def test_organization_admin_lists_only_its_organizations_tokens(api):
    mine, other = api.organization(), api.organization()
    admin = _create(api, mine, ["admin"]).json_body
    viewer = _create(api, mine).json_body
    _create(api, other)
    assert _ids(api, token=admin["token"]) == [admin["id"], viewer["id"]]


def test_revoke_is_204_and_the_token_is_refused_and_listed_as_revoked(api, refused):
    created = _create(api, api.organization()).json_body
    response = api.delete(f"{TOKENS}{created['id']}/")
    assert response.status_code == 204
    assert response.body == b""
    refused(api.get("/inventory_device/", token=created["token"]), 401, "INVALID_TOKEN")
    revoked = {t["id"]: t for t in api.get(TOKENS).json_body["results"]}[created["id"]]["revoked"]
    assert revoked.endswith("Z")
    # Revoking again changes nothing.
    assert api.delete(f"{TOKENS}{created['id']}/").status_code == 204
    assert {t["id"]: t for t in api.get(TOKENS).json_body["results"]}[created["id"]]["revoked"] == revoked


def test_revoking_an_unknown_token_is_404(api, refused, stored):
    before = stored()
    refused(api.delete(f"{TOKENS}999/"), 404, "TOKEN_NOT_FOUND")
    assert stored() == before


def test_organization_admin_revokes_only_its_own_organizations_tokens(api, refused, stored):
    mine, other = api.organization(), api.organization()
    admin = api.token(mine, permissions=("admin",))
    foreign, platform = _create(api, other).json_body, _create(api, None, ["admin"]).json_body
    own = _create(api, mine).json_body
    before = stored()
    for victim in (foreign, platform):
        refused(api.delete(f"{TOKENS}{victim['id']}/", token=admin), 404, "TOKEN_NOT_FOUND")
    assert stored() == before
    assert api.get("/inventory_device/", token=foreign["token"]).status_code == 200
    assert api.get("/admin/organizations/", token=platform["token"]).status_code == 200
    assert api.delete(f"{TOKENS}{own['id']}/", token=admin).status_code == 204
    refused(api.get("/inventory_device/", token=own["token"]), 401, "INVALID_TOKEN")
