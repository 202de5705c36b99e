"""GET /inventory_device/ (API.md §1 Pagination, §2 Endpoints): filters, counts, order, pages and scope.

One fleet of 45 devices serves the module (the tests only read it): two organizations, two types, both
statuses, and three devices whose status changed after the others were made.
"""
import base64
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from tests.devices.support import DEVICES, device_path, follow, query_of

FLEET_SIZE = 45


@dataclass
class Fleet:
    orgs: tuple[int, int]
    types: tuple[int, int]
    devices: list[dict] = field(default_factory=list)
    changed_since: str = ""
    org_token: str = ""

    def ids(self, org=None, type_=None, up=None, since=None) -> list[int]:
        """The ids the contract says a filter selects, in id order."""
        return sorted(d["id"] for d in self.devices
                      if (org is None or d["organization_id"] == org) and (type_ is None or d["type"] == type_)
                      and (up is None or d["status"] == ("Up" if up else "Down"))
                      and (since is None or _utc(d["status_change"]) >= _utc(since)))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def api(shared_api):
    return shared_api


@pytest.fixture(scope="module")
def fleet(api) -> Fleet:
    fleet = Fleet(orgs=(api.organization(), api.organization()), types=(api.device_type(), api.device_type()))
    for i in range(FLEET_SIZE):
        fleet.devices.append(api.device(fleet.orgs[i % 3 == 0], fleet.types[i % 2],
                                        status="Up" if i % 4 == 0 else "Down"))
    # Three devices change status after all were made: they alone match a later last_status_change_from.
    for i in (7, 20, 33):
        device = fleet.devices[i]
        changed = api.patch(device_path(device), {"status": "Down" if device["status"] == "Up" else "Up"})
        assert changed.status_code == 200, changed.body
        fleet.devices[i] = changed.json_body
    fleet.changed_since = min(fleet.devices[i]["status_change"] for i in (7, 20, 33))
    fleet.org_token = api.token(fleet.orgs[0], ("devices:read",))
    return fleet


def _list(api, query: str = "", **kw) -> dict:
    response = api.get(f"{DEVICES}?{query}", **kw)
    assert response.status_code == 200, response.body
    return response.json_body


def _ids(body: dict) -> list[int]:
    return [d["id"] for d in body["results"]]


def _encode(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# --- order, page size and shape ------------------------------------------------------------------------

def test_list_is_ordered_by_id_and_pages_20_by_default(api, fleet):
    body = _list(api)
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == FLEET_SIZE
    assert _ids(body) == fleet.ids()[:20]
    assert body["previous"] is None
    assert query_of(body["next"])["limit"] == "20"


def test_list_results_are_the_devices_as_get_answers_them(api, fleet):
    body = _list(api, "limit=3")
    assert body["results"] == [api.get(device_path(i)).json_body for i in fleet.ids()[:3]]


# --- filters, alone and combined, and their counts ----------------------------------------------------

def test_every_combination_of_type_status_and_organization_selects_and_counts_the_matching_devices(api, fleet):
    for org, type_, up in itertools.product((None, *fleet.orgs), (None, *fleet.types), (None, True, False)):
        params = {"organization": org, "type": type_, "status": None if up is None else str(up).lower()}
        query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
        body = _list(api, f"{query}&limit=100")
        expected = fleet.ids(org, type_, up)
        assert _ids(body) == expected, query
        assert body["count"] == len(expected), query


@pytest.mark.parametrize(("values", "up"), [(("1", "true", "True"), True), (("0", "false", "False"), False)])
def test_status_accepts_each_spelling_of_the_seeds(api, fleet, values, up):
    for value in values:
        body = _list(api, f"status={value}&limit=100")
        assert _ids(body) == fleet.ids(up=up), value
        assert body["count"] == len(fleet.ids(up=up))


def test_last_status_change_from_selects_devices_changed_since_then(api, fleet):
    body = _list(api, f"last_status_change_from={fleet.changed_since}&limit=100")
    assert _ids(body) == fleet.ids(since=fleet.changed_since)
    assert len(body["results"]) == body["count"] == 3


def test_last_status_change_from_combines_with_the_other_filters(api, fleet):
    for org, up in itertools.product(fleet.orgs, (True, False)):
        body = _list(api, f"last_status_change_from={fleet.changed_since}&organization={org}"
                          f"&status={int(up)}&limit=100")
        expected = fleet.ids(org=org, up=up, since=fleet.changed_since)
        assert (_ids(body), body["count"]) == (expected, len(expected))


def test_last_status_change_from_accepts_any_offset_and_reads_no_offset_as_utc(api, fleet):
    moment = _utc(fleet.changed_since)
    plus_two = (moment + timedelta(hours=2)).replace(tzinfo=None).isoformat(timespec="milliseconds") + "+02:00"
    naive = moment.replace(tzinfo=None).isoformat(timespec="milliseconds")
    expected = _ids(_list(api, f"last_status_change_from={fleet.changed_since}&limit=100"))
    for spelling in (plus_two.replace("+", "%2B"), naive):
        assert _ids(_list(api, f"last_status_change_from={spelling}&limit=100")) == expected, spelling


def test_pending_true_lists_no_device_when_none_has_pending_settings(api, fleet):
    body = _list(api, "pending=true")
    assert (body["count"], body["results"]) == (0, [])
    assert _list(api, "pending=false")["count"] == FLEET_SIZE


@pytest.mark.parametrize(("query", "name"), [
    ("status=yes", "status"), ("status=2", "status"), ("status=", "status"), ("type=router", "type"),
    ("type=0", "type"), ("organization=-1", "organization"), ("last_status_change_from=yesterday",
                                                              "last_status_change_from"),
    ("pending=sometimes", "pending"), ("hostname=x", "hostname"),
])
def test_a_bad_or_unknown_filter_is_400_invalid_query_naming_it(api, refused, fleet, query, name):
    error = refused(api.get(f"{DEVICES}?{query}"), 400, "INVALID_QUERY")
    assert [d["field"] for d in error["details"]] == [name]


# --- limit, offset, next and previous ------------------------------------------------------------------

def test_limit_above_100_is_clamped(api, fleet):
    body = _list(api, "limit=1000&offset=1")
    assert _ids(body) == fleet.ids()[1:101]
    assert query_of(body["previous"]) == {"limit": "100", "offset": "0"}


def test_a_negative_zero_or_non_numeric_limit_or_offset_is_400(api, refused, fleet):
    for query in ("limit=-1", "limit=0", "limit=ten", "limit=2.5", "offset=-5", "offset=x"):
        error = refused(api.get(f"{DEVICES}?{query}"), 400, "INVALID_QUERY")
        assert [d["field"] for d in error["details"]] == [query.split("=")[0]], query


def test_offset_skips_and_previous_leads_back(api, fleet):
    body = _list(api, "offset=40")
    assert _ids(body) == fleet.ids()[40:]
    assert body["next"] is None
    assert query_of(body["previous"]) == {"limit": "20", "offset": "20"}
    assert _ids(follow(api, body["previous"]).json_body) == fleet.ids()[20:40]


def test_following_next_sees_every_device_once_in_order(api, fleet):
    seen, body = [], _list(api, "limit=10")
    while True:
        seen += _ids(body)
        assert body["count"] == FLEET_SIZE
        if body["next"] is None:
            break
        assert "cursor" in query_of(body["next"])
        body = follow(api, body["next"]).json_body
    assert seen == fleet.ids()


def test_following_next_keeps_the_filters(api, fleet):
    org = fleet.orgs[0]
    seen, body = [], _list(api, f"organization={org}&status=false&limit=7")
    while body["next"]:
        seen += _ids(body)
        assert query_of(body["next"])["organization"] == str(org)
        body = follow(api, body["next"]).json_body
    seen += _ids(body)
    assert seen == fleet.ids(org=org, up=False)


def test_a_tampered_cursor_is_400_invalid_cursor(api, refused, fleet):
    cursor = query_of(_list(api, "limit=5")["next"])["cursor"]
    for bad in ("garbage!", cursor[:-4], _encode({"a": "0000000005"}), _encode([1, 2]),
                _encode({"a": "0000000005", "o": 5, "f": "0" * 16})):
        refused(api.get(f"{DEVICES}?cursor={bad}"), 400, "INVALID_CURSOR")


def test_a_cursor_reused_with_other_filters_is_400_invalid_cursor(api, refused, fleet):
    cursor = query_of(_list(api, f"type={fleet.types[0]}&limit=5")["next"])["cursor"]
    refused(api.get(f"{DEVICES}?type={fleet.types[1]}&cursor={cursor}"), 400, "INVALID_CURSOR")
    refused(api.get(f"{DEVICES}?cursor={cursor}"), 400, "INVALID_CURSOR")
    assert _list(api, f"type={fleet.types[0]}&limit=5&cursor={cursor}")["results"]


# --- organization scope --------------------------------------------------------------------------------

def test_organization_token_sees_only_its_organization(api, fleet):
    body = _list(api, "limit=100", token=fleet.org_token)
    assert _ids(body) == fleet.ids(org=fleet.orgs[0])
    assert body["count"] == len(fleet.ids(org=fleet.orgs[0]))
    typed = _list(api, f"type={fleet.types[1]}&limit=100", token=fleet.org_token)
    assert _ids(typed) == fleet.ids(org=fleet.orgs[0], type_=fleet.types[1])


def test_organization_token_may_name_its_own_organization(api, fleet):
    own = _list(api, f"organization={fleet.orgs[0]}&limit=100", token=fleet.org_token)
    assert own == _list(api, f"organization={fleet.orgs[0]}&limit=100")


def test_organization_token_naming_another_organization_is_403(api, refused, fleet):
    refused(api.get(f"{DEVICES}?organization={fleet.orgs[1]}", token=fleet.org_token), 403, "ORGANIZATION_FORBIDDEN")


def test_organization_token_pages_only_through_its_organization(api, fleet):
    seen, body = [], _list(api, "limit=6", token=fleet.org_token)
    while body["next"]:
        seen += _ids(body)
        body = follow(api, body["next"], token=fleet.org_token).json_body
    assert seen + _ids(body) == fleet.ids(org=fleet.orgs[0])
