"""Tenant edges (API.md §1, §7, §9): names resolved within the token's scope, fleet-wide runs for platform tokens,
and tokens that cannot grant more than their creator holds."""
from chalicelib import aws
from chalicelib.config import get_settings

SUMMARY = "/device_app_connection_summary/"


GET_ITEM = "provide-client-params.dynamodb.GetItem"


def test_another_tenants_name_and_an_unknown_name_answer_the_same_403(api, refused):
    mine, theirs = api.organization("Acme Corp"), api.organization("Globex")
    token = api.token(mine, ("reports:read",))
    answers = [refused(api.get(f"{SUMMARY}?organization={name}", token=token), 403, "ORGANIZATION_FORBIDDEN")
               for name in ("Globex", "globex", "No%20Such%20Org", str(theirs), "%D9%A1%D9%A2", "99999999999")]
    assert all(answer == answers[0] for answer in answers)
    assert str(theirs) not in answers[0]["message"]
    own = api.get(f"{SUMMARY}?organization=acme%20corp", token=token)
    assert own.status_code == 200


def test_an_organization_token_never_looks_another_name_up(api):
    mine = api.organization("Acme Corp")
    api.organization("Globex")
    token = api.token(mine, ("reports:read",))
    keys: list = []

    def record(params, **_):
        keys.append(params.get("Key", {}).get("PK"))

    events = aws.dynamodb().meta.events
    events.register(GET_ITEM, record)
    try:
        assert api.get(f"{SUMMARY}?organization=Globex", token=token).status_code == 403
    finally:
        events.unregister(GET_ITEM, record)
    assert keys and not any(str(pk).startswith("ORGNAME#") for pk in keys)


def test_a_platform_token_resolves_any_name(api):
    org = api.organization("Acme Corp")
    assert api.get(f"{SUMMARY}?organization=ACME%20CORP&organization_id={org}").status_code == 200


def test_running_the_rollups_needs_a_platform_token(api, refused):
    org_admin = api.token(api.organization(), ("admin",))
    refused(api.post("/admin/rollups/", token=org_admin), 403, "PLATFORM_ONLY")
    platform_admin = api.token(None, ("admin",))
    assert api.post("/admin/rollups/", token=platform_admin).status_code == 200


def test_a_token_cannot_allow_more_requests_than_its_creator(api, refused, stored):
    org = api.organization()
    creator = api.token(org, ("admin", "devices:read"), rate_limit_per_minute=50)
    before = stored()
    body = {"name": "greedy", "organization_id": org, "permissions": ["devices:read"]}
    error = refused(api.post("/admin/tokens/", body | {"rate_limit_per_minute": 51}, token=creator), 403,
                    "RATE_LIMIT_FORBIDDEN")
    assert error["details"] == [{"field": "rate_limit_per_minute", "problem": "at most 50"}]
    assert [item for item in stored() if item.get("entity") == "Token"] == \
        [item for item in before if item.get("entity") == "Token"]
    # The same limit is fine; no limit at all gets the default, capped at the creator's.
    assert api.post("/admin/tokens/", body | {"rate_limit_per_minute": 50}, token=creator).status_code == 201
    default = api.post("/admin/tokens/", body | {"name": "default"}, token=creator).json_body
    assert default["rate_limit_per_minute"] == min(50, get_settings().default_rate_limit_per_minute)
