"""limit / offset / cursor and the page shape (API.md §1 Pagination), on an admin list and the device list."""
import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

ORGS = "/admin/organizations/"


def _follow(api, url: str):
    """GET an absolute next/previous URL through the test client (which takes a path)."""
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc
    return api.get(f"{parts.path}?{parts.query}")


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _decode(cursor: str) -> dict:
    """The payload of a cursor (`<payload>.<signature>`)."""
    payload = cursor.partition(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _encode(data, like: str) -> str:
    """A payload of our own under the signature of the cursor `like`: what an edited cursor looks like."""
    payload = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{payload}.{like.partition('.')[2]}"


@pytest.fixture
def five_orgs(api) -> list[int]:
    return [api.organization(f"org-{i}") for i in range(5)]


def test_page_shape_and_count(api, five_orgs):
    body = api.get(ORGS).json_body
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 5
    assert [o["id"] for o in body["results"]] == five_orgs
    assert body["next"] is None and body["previous"] is None


def test_limit_defaults_to_50_and_is_clamped_to_200(api, five_orgs):
    # The page size in effect shows in the links (filling 201 organizations would cost seconds).
    for query, limit in (("offset=1", "50"), ("limit=100000&offset=1", "200"), ("limit=200&offset=1", "200")):
        body = api.get(f"{ORGS}?{query}").json_body
        assert [o["id"] for o in body["results"]] == five_orgs[1:]
        assert _query(body["previous"]) == {"limit": limit, "offset": "0"}, query
    body = api.get(f"{ORGS}?limit=100000&offset=1", headers={"x-forwarded-proto": "https"}).json_body
    assert body["next"] is None


def test_bad_limit_or_offset_is_400_invalid_query_naming_it(api, refused):
    for query in ("limit=0", "limit=-1", "limit=abc", "limit=", "limit=1.5", "offset=-1", "offset=abc",
                  "offset=99999999999"):
        error = refused(api.get(f"{ORGS}?{query}"), 400, "INVALID_QUERY")
        assert [d["field"] for d in error["details"]] == [query.split("=")[0]], query


def test_offset_skips_and_previous_and_next_are_absolute_urls(api, five_orgs):
    body = api.get(f"{ORGS}?limit=2&offset=2").json_body
    assert [o["id"] for o in body["results"]] == five_orgs[2:4]
    assert body["count"] == 5
    for url in (body["next"], body["previous"]):
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.netloc
        assert parts.path.rstrip("/") == ORGS.rstrip("/")
    assert _query(body["previous"]) == {"limit": "2", "offset": "0"}
    assert [o["id"] for o in _follow(api, body["previous"]).json_body["results"]] == five_orgs[:2]
    behind_a_proxy = api.get(f"{ORGS}?limit=2", headers={"host": "api.example.com", "x-forwarded-proto": "https"})
    assert behind_a_proxy.json_body["next"].startswith("https://api.example.com/")


def test_next_url_carries_a_cursor_and_walks_every_item_once(api, five_orgs):
    seen, url = [], f"{ORGS}?limit=2"
    response = api.get(url)
    while True:
        assert response.status_code == 200
        body = response.json_body
        seen += [o["id"] for o in body["results"]]
        if body["next"] is None:
            assert body["previous"] is not None
            break
        assert "cursor" in _query(body["next"])
        response = _follow(api, body["next"])
    assert seen == five_orgs


def test_tampered_cursor_is_400_invalid_cursor(api, refused, five_orgs):
    cursor = _query(api.get(f"{ORGS}?limit=2").json_body["next"])["cursor"]
    data = _decode(cursor)
    assert api.get(f"{ORGS}?cursor={cursor}").status_code == 200
    tampered = ["not-a-cursor!", cursor[:-3], cursor.partition(".")[0], _encode(["a", "list"], cursor),
                _encode({"o": 2}, cursor), _encode(data | {"a": ""}, cursor), _encode(data | {"a": "x" * 300}, cursor),
                _encode(data | {"a": "1"}, cursor), _encode(data | {"a": 2}, cursor), _encode(data | {"o": -5}, cursor),
                _encode(data | {"o": 0}, cursor), cursor + "A", "%C2%B2." + cursor.partition(".")[2], "\u0000"]
    for bad in tampered:
        refused(api.get(f"{ORGS}?cursor={bad}"), 400, "INVALID_CURSOR")


def test_a_cursor_is_tied_to_the_list_it_was_issued_for(api, refused, five_orgs):
    # GIVEN a cursor of the organizations list, and two lists of the same shape
    cursor = _query(api.get(f"{ORGS}?limit=2").json_body["next"])["cursor"]
    for _ in range(3):
        api.device_type()
    # THEN another list refuses it, though its position would make sense there
    refused(api.get(f"/admin/device_types/?cursor={cursor}"), 400, "INVALID_CURSOR")
    refused(api.get(f"/admin/tokens/?cursor={cursor}"), 400, "INVALID_CURSOR")
    # AND one list's cursor is not another device's: the path's ids are part of the list
    org, dtype = five_orgs[0], api.device_type()
    first, second = api.device(org, dtype)["id"], api.device(org, dtype)["id"]
    assert api.patch(f"/inventory_device/{first}/", {"reboot": True, "sync": True}).status_code == 200
    page = api.get(f"/inventory_device/{first}/operations/?limit=1").json_body
    assert page["next"] is not None
    other = _query(page["next"])["cursor"]
    assert _follow(api, page["next"]).status_code == 200
    refused(api.get(f"/inventory_device/{second}/operations/?cursor={other}"), 400, "INVALID_CURSOR")


def test_device_cursor_is_bound_to_its_filters_and_checked_before_it_reaches_dynamodb(api, refused):
    org, dtype, other_type = api.organization(), api.device_type(), api.device_type()
    for _ in range(3):
        api.device(org, dtype)
    body = api.get(f"/inventory_device/?type={dtype}&limit=2").json_body
    assert body["count"] == 3
    cursor = _query(body["next"])["cursor"]
    assert len(_follow(api, body["next"]).json_body["results"]) == 1
    refused(api.get(f"/inventory_device/?type={other_type}&cursor={cursor}"), 400, "INVALID_CURSOR")
    # An empty position would be an empty key condition: a DynamoDB ValidationException, not a 400.
    empty = _encode(_decode(cursor) | {"a": ""}, cursor)
    refused(api.get(f"/inventory_device/?type={dtype}&cursor={empty}"), 400, "INVALID_CURSOR")
