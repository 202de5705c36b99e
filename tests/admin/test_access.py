"""What every admin route shares: the `admin` permission, and paths with or without the trailing slash."""
from chalicelib.tokens.models import PERMISSIONS

ROUTES = ("organizations", "device_types", "firmware_images", "tokens")


def _bodies(api) -> dict[str, dict]:
    """A valid create body for each admin list."""
    return {
        "organizations": {"name": "new-org"},
        "device_types": {"short_name": "new", "name": "New", "category": "router"},
        "firmware_images": {"version": "1", "url": "https://x.example/fw.bin", "checksum": "a" * 64,
                            "device_types": [api.device_type()]},
        "tokens": {"name": "new", "organization_id": None, "permissions": ["devices:read"]},
    }


def test_token_without_admin_is_403_permission_denied_on_every_admin_route(api, refused, stored):
    # GIVEN a platform token and an organization token holding every permission but `admin`
    bodies = _bodies(api)
    org = api.organization()
    others = [p for p in PERMISSIONS if p != "admin"]
    tokens = (api.token(None, permissions=others), api.token(org, permissions=others))
    victim = api.post("/admin/tokens/", bodies["tokens"]).json_body
    before = stored()
    for token in tokens:
        # WHEN they call each admin route, with a valid body, an invalid one, or none that parses
        for route in ROUTES:
            refused(api.get(f"/admin/{route}/", token=token), 403, "PERMISSION_DENIED")
            for body in (bodies[route], {"bogus": True}):
                refused(api.post(f"/admin/{route}/", body, token=token), 403, "PERMISSION_DENIED")
            refused(api.post(f"/admin/{route}/", raw=b"{oops", token=token), 403, "PERMISSION_DENIED")
        refused(api.delete(f"/admin/tokens/{victim['id']}/", token=token), 403, "PERMISSION_DENIED")
    # THEN nothing changed, and the token they tried to revoke still works
    assert stored() == before
    assert api.get("/inventory_device/", token=victim["token"]).status_code == 200


def test_list_and_create_answer_the_same_with_or_without_the_trailing_slash(api):
    bodies = _bodies(api)
    for route in ROUTES:
        created = api.post(f"/admin/{route}", bodies[route])
        assert created.status_code == 201, created.body
        with_slash, without = api.get(f"/admin/{route}/"), api.get(f"/admin/{route}")
        assert with_slash.status_code == without.status_code == 200
        assert with_slash.json_body == without.json_body
        assert created.json_body["id"] in [item["id"] for item in without.json_body["results"]]


def test_revoke_answers_the_same_with_or_without_the_trailing_slash(api, refused):
    for path in ("/admin/tokens/{id}", "/admin/tokens/{id}/"):
        created = api.post("/admin/tokens/", {"name": "t", "organization_id": None, "permissions": ["admin"]})
        assert api.delete(path.format(id=created.json_body["id"])).status_code == 204
        refused(api.get("/admin/tokens/", token=created.json_body["token"]), 401, "INVALID_TOKEN")
