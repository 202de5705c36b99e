"""Per-token rate limit (API.md §1 Rate limit): headers on every answer, 429 with Retry-After."""
import time

import pytest

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def fresh_minute():
    """Wait out the end of a minute window, so that a test's requests all fall in one."""
    if 60 - time.time() % 60 < 3:
        time.sleep(60 - time.time() % 60 + 0.05)


def _limited_admin(api, limit: int) -> str:
    return api.token(None, permissions=("admin",), rate_limit_per_minute=limit)


def test_every_authenticated_response_carries_the_rate_limit_headers(api, fresh_minute):
    token = _limited_admin(api, 50)
    ok = api.get("/admin/organizations/", token=token)
    not_found = api.delete("/admin/tokens/999/", token=token)
    invalid = api.post("/admin/organizations/", {}, token=token)
    wrong_method = api.put("/admin/organizations/", {}, token=token)
    responses = [ok, not_found, invalid, wrong_method]
    assert [r.status_code for r in responses] == [200, 404, 422, 405]
    for response in responses:
        assert all(name in response.headers for name in HEADERS), response.headers
        assert response.headers["X-RateLimit-Limit"] == "50"
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses] == [49, 48, 47, 46]
    reset = int(ok.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 60


def test_default_limit_is_100_per_minute(api):
    response = api.get("/admin/organizations/", token=api.token(None, permissions=("admin",)))
    assert response.headers["X-RateLimit-Limit"] == "100"


def test_request_over_the_limit_is_429_with_retry_after_naming_the_limit(api, refused, fresh_minute):
    token = _limited_admin(api, 3)
    for remaining in (2, 1, 0):
        response = api.get("/admin/organizations/", token=token)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
    response = api.get("/admin/organizations/", token=token)
    error = refused(response, 429, "RATE_LIMITED")
    assert "3 requests per minute" in error["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_write_refused_by_the_rate_limit_changes_nothing(api, refused, stored, fresh_minute):
    token = _limited_admin(api, 1)
    assert api.get("/admin/organizations/", token=token).status_code == 200
    before = stored()
    refused(api.post("/admin/organizations/", {"name": "too-late"}, token=token), 429, "RATE_LIMITED")
    assert stored() == before


def test_another_token_is_unaffected_by_a_limited_one(api, refused, fresh_minute):
    limited, other = _limited_admin(api, 1), _limited_admin(api, 1)
    assert api.get("/admin/organizations/", token=limited).status_code == 200
    refused(api.get("/admin/organizations/", token=limited), 429, "RATE_LIMITED")
    response = api.get("/admin/organizations/", token=other)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "0"
