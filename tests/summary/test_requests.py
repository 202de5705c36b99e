"""Bad input, scope and permissions, caching headers, and what a request reads (API.md §1, §7)."""
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from chalicelib import aws

BAD_QUERIES = [
    {"time_range": "2h"}, {"time_range": "24H"}, {"time_range": ""}, {"time_range": "365d"},
    {"status": "broken"}, {"status": "ACTIVE"},
    {"device_type": "not a word!"}, {"device_type": ""},
    {"organization_id": "abc"}, {"organization_id": "0"}, {"organization_id": "-1"}, {"organization": " "},
    {"app_category": "x" * 65}, {"app_category": ""},
    {"limit": "-1"}, {"limit": "0"}, {"limit": "ten"}, {"offset": "-1"}, {"offset": "abc"},
    {"window": "24h"},
]


@pytest.mark.parametrize("params", BAD_QUERIES, ids=lambda p: urlencode(p))
def test_each_bad_parameter_is_a_400_naming_it(summarized, refused, params):
    error = refused(summarized.summary("?" + urlencode(params)), 400, "INVALID_QUERY")
    assert {detail["field"] for detail in error["details"]} == set(params)


def test_a_tampered_cursor_or_one_made_for_other_filters_is_a_400(summarized, refused):
    refused(summarized.summary("?cursor=not-a-cursor"), 400, "INVALID_CURSOR")
    next_url = summarized.summary("?time_range=7d&limit=1").json_body["next"]
    other = parse_qs(urlsplit(next_url).query)["cursor"][0]
    assert summarized.summary(f"?time_range=7d&limit=1&cursor={other}").status_code == 200
    refused(summarized.summary(f"?time_range=24h&limit=1&cursor={other}"), 400, "INVALID_CURSOR")


def test_organization_and_organization_id_naming_two_organizations_is_a_400(summarized, refused):
    query = f"?organization={summarized.acme}&organization_id={summarized.globex}"
    error = refused(summarized.summary(query), 400, "INVALID_QUERY")
    assert {detail["field"] for detail in error["details"]} == {"organization", "organization_id"}
    same = summarized.summary(f"?organization=Acme%20Corp&organization_id={summarized.acme}")
    assert same.status_code == 200 and same.json_body["count"] == 3


def test_an_organization_outside_the_tokens_scope_is_a_403(summarized, refused):
    token = summarized.tokens["acme"]
    for query in (f"?organization={summarized.globex}", f"?organization_id={summarized.globex}",
                  "?organization=Globex", "?organization=No%20Such%20Org", "?organization=0"):
        refused(summarized.summary(query, token=token), 403, "ORGANIZATION_FORBIDDEN")


def test_a_platform_token_asking_for_an_unknown_organization_gets_an_empty_summary(summarized):
    for query in ("?organization=No%20Such%20Org", "?organization=999", "?organization_id=999", "?organization=0",
                  "?organization=12345678901", "?organization=%23%2A%C3%A9"):
        body = summarized.summary(query).json_body
        assert body["count"] == 0 and body["results"] == [] and body["summary"]["total_devices"] == 0


def test_the_report_needs_reports_read_and_a_token(summarized, refused):
    reader = summarized.api.token(summarized.acme, ("devices:read", "analytics:overview"))
    refused(summarized.summary(token=reader), 403, "PERMISSION_DENIED")
    refused(summarized.api.get("/device_app_connection_summary/", token=None), 401, "MISSING_TOKEN")


def test_answers_are_cacheable_for_a_minute_and_revalidate_by_etag(summarized):
    response = summarized.summary("?time_range=7d")
    assert response.headers["Cache-Control"] == "max-age=60"
    tag = response.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert summarized.summary("?time_range=7d").headers["ETag"] == tag     # same figures, same tag
    assert summarized.summary("?time_range=30d").headers["ETag"] != tag
    again = summarized.summary("?time_range=7d", headers={"If-None-Match": f'W/{tag}, "other"'})
    assert again.status_code == 304 and again.body == b""
    assert again.headers["ETag"] == tag and again.headers["Cache-Control"] == "max-age=60"
    stale = summarized.summary("?time_range=7d", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.json_body["count"] == 4


QUERIES = ["", "?time_range=90d", "?time_range=1h&status=active", "?device_type=sensor&status=failed",
           "?device_type=gateway", "?app_category=security", "?app_category=security&status=inactive",
           "?app_category=navigation&device_type=gateway&status=active", "?organization=Acme%20Corp&limit=1",
           "?organization_id=1&time_range=30d&app_category=gardening", "?limit=200&offset=2"]


def test_a_request_reads_a_few_precomputed_items_and_never_a_telemetry_record(summarized):
    calls = []

    def record(params, model, **_):
        calls.append((model.name, params))
    client = aws.dynamodb()
    client.meta.events.register("provide-client-params.dynamodb", record)
    try:
        for query in QUERIES:
            calls.clear()
            assert summarized.summary(query).status_code == 200
            route = [(name, params) for name, params in calls if name != "UpdateItem"]   # the rate limit's
            assert len(route) <= 6, (query, [name for name, _ in route])
            assert {name for name, _ in route} <= {"GetItem", "Query", "BatchGetItem"}
            for _, params in route:
                text = repr(params)
                assert not any(kind in text for kind in ("#CONN", "#APP'", "#USE", "CHANGES#", "AGG#ORG")), text
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", record)
