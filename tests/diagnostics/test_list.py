"""GET /inventory_device_diags/ (API.md §4): filters, order, pages, counts, 404s and organizations kept apart."""
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import clock
from chalicelib.devices import db as devices_db
from chalicelib.diagnostics import db
from chalicelib.store import schema


def ids(page: dict) -> list[str]:
    return [entry["id"] for entry in page["results"]]


@pytest.fixture
def history(diags):
    """Two devices with entries of several types and statuses, oldest first."""
    first, second = diags.device(), diags.device()
    made = [diags.create(first["id"], diagnostic_type="maintenance", status="completed"),
            diags.create(second["id"], diagnostic_type="issue_report", status="open"),
            diags.create(first["id"], diagnostic_type="issue_report", status="open"),
            diags.create(first["id"], diagnostic_type="issue_report", status="resolved"),
            diags.create(second["id"], diagnostic_type="health_check", status="warning")]
    return first, second, made


def test_entries_come_newest_first_with_the_page_shape(diags, history):
    _, _, made = history
    page = diags.page()
    assert set(page) == {"count", "next", "previous", "results"}
    assert (page["count"], page["next"], page["previous"]) == (5, None, None)
    assert ids(page) == [entry["id"] for entry in reversed(made)]
    assert page["results"][0] == made[-1]


FILTERS = [
    ("?id={first}", [3, 2, 0]),
    ("?id={second}", [4, 1]),
    ("?diagnostic_type=issue_report", [3, 2, 1]),
    ("?status=open", [2, 1]),
    ("?diagnostic_type=issue_report&status=resolved", [3]),
    ("?id={first}&diagnostic_type=issue_report", [3, 2]),
    ("?id={first}&status=open", [2]),
    ("?id={second}&diagnostic_type=issue_report&status=open", [1]),
    ("?id={second}&status=completed", []),
    ("?diagnostic_type=calibration", []),
]


def test_each_filter_and_its_count(diags, history, subtests):
    first, second, made = history
    for query, expected in FILTERS:
        with subtests.test(query=query):
            page = diags.page(query.format(first=first["id"], second=second["id"]))
            assert ids(page) == [made[i]["id"] for i in expected]
            assert page["count"] == len(expected)


def test_device_id_may_be_sent_with_spaces_and_filters_in_any_case(diags, history):
    first, _, _ = history
    assert diags.page(f"?id=%20{first['id']}%20&diagnostic_type=Issue_Report")["count"] == 2


def test_pages_follow_next_by_cursor_and_offset(diags, history):
    _, _, made = history
    newest_first = [entry["id"] for entry in reversed(made)]
    first = diags.page("?limit=2")
    assert (ids(first), first["count"], first["previous"]) == (newest_first[:2], 5, None)
    next_query = urlsplit(first["next"]).query
    assert parse_qs(next_query)["offset"] == ["2"] and "cursor" in parse_qs(next_query)
    second = diags.page("?" + next_query)
    assert ids(second) == newest_first[2:4] and second["previous"] is not None
    third = diags.page("?" + urlsplit(second["next"]).query)
    assert (ids(third), third["next"]) == (newest_first[4:], None)
    assert ids(diags.page("?limit=2&offset=2")) == newest_first[2:4]
    # With a filter, the pages of the filtered list.
    filtered = diags.page("?diagnostic_type=issue_report&limit=1")
    assert ids(diags.page("?" + urlsplit(filtered["next"]).query)) == [made[2]["id"]]


def test_limit_is_clamped_and_defaults_to_20(diags):
    device = devices_db.get(diags.device()["id"])
    for _ in range(21):   # stored directly: the POSTs are tested elsewhere, and 21 of them cost seconds
        assert db.put_entry(db.new_entry(device, {"diagnostic_type": "maintenance", "status": None}, clock.now()))
    assert len(diags.page()["results"]) == 20
    assert len(diags.page("?limit=1000")["results"]) == 21


def test_bad_query_parameters_are_400(diags, refused, subtests):
    for query in ("?limit=-1", "?limit=many", "?offset=-2", "?status=broken", "?diagnostic_type=two%20words",
                  "?update_status=maybe", "?colour=red", "?cursor=not-a-cursor", f"?id={'9' * 65}"):
        with subtests.test(query=query):
            refused(diags.get(query), 400, "INVALID_CURSOR" if "cursor" in query else "INVALID_QUERY")


def test_a_cursor_made_for_other_filters_is_400(diags, history, refused):
    first, _, _ = history
    page = diags.page("?limit=1")
    cursor = parse_qs(urlsplit(page["next"]).query)["cursor"][0]
    refused(diags.get(f"?id={first['id']}&cursor={cursor}"), 400, "INVALID_CURSOR")


def test_unknown_device_is_404(diags, refused):
    for device_id in ("999999", "device-12345", "abc"):
        refused(diags.get(f"?id={device_id}"), 404, "DEVICE_NOT_FOUND")
        refused(diags.get(f"?id={device_id}&update_status=true"), 404, "DEVICE_NOT_FOUND")
    for device_id in ("0", "%C2%B2", "9" * 40):   # a number that is no id: bad input (API.md §1)
        refused(diags.get(f"?id={device_id}"), 400, "INVALID_QUERY")


def test_an_organization_never_sees_another_organizations_entries(api, diags, refused):
    ours = diags.device()
    other = api.organization()
    theirs = api.device(other, diags.type)
    mine = diags.create(ours["id"], diagnostic_type="issue_report", status="open")
    foreign = diags.create(theirs["id"], diagnostic_type="issue_report", status="open")
    token = api.token(diags.organization, permissions=("diagnostics:read",))

    page = diags.page(token=token)
    assert (ids(page), page["count"]) == ([mine["id"]], 1)
    filtered = diags.page("?status=open&diagnostic_type=issue_report", token=token)
    assert (ids(filtered), filtered["count"]) == ([mine["id"]], 1)
    refused(diags.get(f"?id={theirs['id']}", token=token), 404, "DEVICE_NOT_FOUND")
    refused(diags.get(f"?id={theirs['id']}&update_status=true", token=token), 404, "DEVICE_NOT_FOUND")
    # The platform token sees the fleet.
    everything = diags.page()
    assert (ids(everything), everything["count"]) == ([foreign["id"], mine["id"]], 2)


def test_token_without_diagnostics_read_is_403(api, diags, refused):
    token = api.token(diags.organization, permissions=("devices:read", "diagnostics:write"))
    refused(diags.get(token=token), 403, "PERMISSION_DENIED")


def test_deleting_a_device_removes_its_entries_state_and_counts(api, diags, history, stored, refused):
    first, second, made = history
    assert {item["SK"] for item in stored() if item["PK"] == schema.device_partition(first["id"])} >= {"HEALTH"}

    assert api.delete(f"/inventory_device/{first['id']}/").status_code == 204

    assert [item for item in stored() if item["PK"] == schema.device_partition(first["id"])] == []
    page = diags.page()
    assert (ids(page), page["count"]) == ([made[4]["id"], made[1]["id"]], 2)
    assert diags.page("?status=open")["count"] == 1
    assert diags.page("?diagnostic_type=issue_report&status=resolved")["count"] == 0
    refused(diags.get(f"?id={first['id']}"), 404, "DEVICE_NOT_FOUND")
    assert diags.page(f"?id={second['id']}")["count"] == 2
