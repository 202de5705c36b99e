"""Bearer tokens (API.md §1 Authentication, §9 revocation): who may call, and how secrets are kept."""
import json
import time

import pytest
from boto3.dynamodb.conditions import Attr
from pydantic import ValidationError

from chalicelib import aws
from chalicelib.config import get_settings


def _revoke_elsewhere(name: str) -> None:
    """What another Lambda's DELETE /admin/tokens/{id}/ leaves in the table, unseen by this one's cache."""
    table = get_settings().table_name
    items = aws.dynamodb().scan(TableName=table, FilterExpression=Attr("entity").eq("Token") & Attr("name").eq(name))
    (item,) = items["Items"]
    aws.dynamodb().update_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]},
                               UpdateExpression="SET revoked = :at", ExpressionAttributeValues={":at": "now"})


def _token_named(api, name: str, **extra) -> dict:
    response = api.post("/admin/tokens/", {"name": name, "organization_id": None, "permissions": ["admin"]} | extra)
    assert response.status_code == 201
    return response.json_body


def test_missing_or_malformed_authorization_header_is_401_missing_token(api, refused):
    response = api.get("/admin/organizations/", token=None)
    refused(response, 401, "MISSING_TOKEN")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Token abc", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "abc", api.platform):
        response = api.get("/admin/organizations/", token=None, headers={"authorization": header})
        refused(response, 401, "MISSING_TOKEN")


def test_scheme_is_case_insensitive(api):
    response = api.get("/admin/organizations/", token=None, headers={"authorization": f"bearer {api.platform}"})
    assert response.status_code == 200


def test_unknown_token_is_401_invalid_token(api, refused):
    response = api.get("/admin/organizations/", token="flt_not-a-real-token")
    refused(response, 401, "INVALID_TOKEN")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401_right_after_revocation(api, refused):
    # GIVEN a token that has been used, so this Lambda has it cached
    created = _token_named(api, "soon-revoked")
    assert api.get("/admin/organizations/", token=created["token"]).status_code == 200
    # WHEN another token revokes it
    assert api.delete(f"/admin/tokens/{created['id']}/").status_code == 204
    # THEN this Lambda refuses it at once
    refused(api.get("/admin/organizations/", token=created["token"]), 401, "INVALID_TOKEN")


def test_token_revoked_by_another_lambda_is_refused_at_once_without_cache(api, refused, monkeypatch):
    monkeypatch.setenv("TOKEN_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    created = _token_named(api, "revoked-elsewhere")
    assert api.get("/admin/organizations/", token=created["token"]).status_code == 200
    _revoke_elsewhere("revoked-elsewhere")
    refused(api.get("/admin/organizations/", token=created["token"]), 401, "INVALID_TOKEN")


def test_token_revoked_by_another_lambda_stays_valid_here_only_for_the_cache_age(api, refused, monkeypatch):
    # GIVEN a two-second cache (the contract's 60 s, shortened), and a token this Lambda has cached
    monkeypatch.setenv("TOKEN_CACHE_SECONDS", "2")
    get_settings.cache_clear()
    created = _token_named(api, "cached-elsewhere")
    assert api.get("/admin/organizations/", token=created["token"]).status_code == 200
    # WHEN another Lambda revokes it
    _revoke_elsewhere("cached-elsewhere")
    # THEN it still works here until the cache age passes, and never after
    assert api.get("/admin/organizations/", token=created["token"]).status_code == 200
    time.sleep(2.05)
    refused(api.get("/admin/organizations/", token=created["token"]), 401, "INVALID_TOKEN")


def test_token_cache_age_is_at_most_the_contracts_60_seconds(monkeypatch):
    monkeypatch.delenv("TOKEN_CACHE_SECONDS", raising=False)
    get_settings.cache_clear()
    assert get_settings().token_cache_seconds == 60
    monkeypatch.setenv("TOKEN_CACHE_SECONDS", "61")
    get_settings.cache_clear()
    with pytest.raises(ValidationError):
        get_settings()
    get_settings.cache_clear()


def test_missing_permission_is_403_permission_denied(api, refused):
    org = api.organization()
    token = api.token(org, permissions=("devices:read",))
    refused(api.get("/admin/organizations/", token=token), 403, "PERMISSION_DENIED")


def test_tokens_are_stored_only_as_a_hash(api, stored):
    created = _token_named(api, "hashed")
    secret = created["token"]
    dump = json.dumps(stored(), default=str)
    assert secret not in dump
    assert secret.removeprefix("flt_") not in dump
    assert api.get("/admin/organizations/", token=secret).status_code == 200


def test_secret_is_shown_only_in_the_create_response(api):
    created = _token_named(api, "shown-once")
    assert created["token"].startswith("flt_")
    listing = api.get("/admin/tokens/")
    assert listing.status_code == 200
    assert created["token"] not in listing.body.decode()
    (mine,) = [t for t in listing.json_body["results"] if t["id"] == created["id"]]
    assert "token" not in mine
    assert mine == {k: v for k, v in created.items() if k != "token"}
    assert len(created["token"]) >= 40
    assert _token_named(api, "another")["token"] != created["token"]
