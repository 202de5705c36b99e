"""startDate/endDate rules of every analytics path (API.md §8) and the edges of the hour buckets.

A bucket is included when its hour start lies in [floor_hour(startDate), endDate] (docs/analytics.md).
"""
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from tests.analytics.support import (
    BY_IP,
    BY_SUBSCRIBER,
    COMPANY_PATHS,
    DATA_USAGE,
    SESSIONS,
    SUBSCRIBER_PATHS,
    Connection,
    Usage,
    base_hour,
    feed,
    label,
    window,
)

H = timedelta(hours=1)
MS = timedelta(milliseconds=1)
MAP_PATHS = (BY_SUBSCRIBER, BY_IP)


@pytest.fixture(scope="module")
def world(api, fleet):
    """GIVEN one subscriber with a usage record and a Start event at each edge of hour H1: H0:59:59.999 (bucket H0),
    H1:00:00.000 and H1:59:59.999 (bucket H1), H2:00:00.000 (H2) and H3:00:00.000 (H3)."""
    h0 = base_hour()
    organization = fleet.organization()
    device = fleet.subscriber(organization, "iccid")
    moments = [h0 + H - MS, h0 + H, h0 + 2 * H - MS, h0 + 2 * H, h0 + 3 * H]
    usage = [Usage(device, at, 10 ** i, 0, "TCP", "10.0.0.9") for i, at in enumerate(moments)]
    feed(api, usage, [Connection(device, at, "Start") for at in moments])
    return {"h0": h0, "device": device, "token": fleet.token(organization)}


def _paths(world):
    return [*COMPANY_PATHS, *(p.format(world["device"].physical_id) for p in SUBSCRIBER_PATHS)]


def _bad(api, refused, world, query: str, field: str):
    for path in _paths(world):
        error = refused(api.get(path + query, token=world["token"]), 400, "INVALID_QUERY")
        assert field in {d["field"] for d in error["details"]}, (path, error)


def test_missing_start_date_is_400_naming_it_on_every_path(api, refused, world):
    _bad(api, refused, world, "?" + urlencode({"endDate": "2026-01-01T00:00:00+00:00"}), "startDate")


def test_missing_end_date_is_400_naming_it_on_every_path(api, refused, world):
    _bad(api, refused, world, "?" + urlencode({"startDate": "2026-01-01T00:00:00+00:00"}), "endDate")


def test_no_dates_at_all_is_400_naming_both(api, refused, world):
    error = refused(api.get(DATA_USAGE, token=world["token"]), 400, "INVALID_QUERY")
    assert {d["field"] for d in error["details"]} == {"startDate", "endDate"}


MALFORMED = [
    "", "yesterday", "2016-12-16", "2016-12-16T10:00:00", "2016-12-16T10:00", "2016-12-16 10:00:00+00:00",
    "2016-12-16T10:00:00+0000", "2016-12-16T10:00:00+00", "2016-02-30T10:00:00+00:00", "2016-12-16T24:00:00Z",
    "2016-12-16T10:61:00Z", "2016-12-16T10:00:00+24:00", "16-12-16T10:00:00Z", "2016-12-16T10:00:00.1234567Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2016-12-16T10:00:00Z junk",
    "２０１６-１２-１６T10:00:00Z",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_dates_are_400_invalid_query(api, refused, world, text):
    for query, field in ((window(text, "2016-12-17T00:00:00Z"), "startDate"),
                         (window("2016-12-15T00:00:00Z", text), "endDate")):
        error = refused(api.get(DATA_USAGE + query, token=world["token"]), 400, "INVALID_QUERY")
        assert [d["field"] for d in error["details"]] == [field]


def test_malformed_dates_are_400_on_every_path(api, refused, world):
    _bad(api, refused, world, window("2016-12-16", "2016-12-17T00:00:00Z"), "startDate")


def test_start_after_end_is_400_on_every_path(api, refused, world):
    _bad(api, refused, world, window("2016-12-16T10:00:00+00:00", "2016-12-16T09:59:59+00:00"), "endDate")


def test_start_after_end_is_judged_in_utc(api, refused, world):
    # 10:00+02:00 is 08:00Z, before 09:00Z: valid; 10:00Z after 11:00+02:00 (09:00Z): refused.
    ok = api.get(DATA_USAGE + window("2016-12-16T10:00:00+02:00", "2016-12-16T09:00:00Z"), token=world["token"])
    assert ok.status_code == 200
    refused(api.get(DATA_USAGE + window("2016-12-16T10:00:00Z", "2016-12-16T11:00:00+02:00"), token=world["token"]),
            400, "INVALID_QUERY")


def test_a_range_of_366_days_is_allowed_and_one_second_more_is_400(api, refused, world):
    token = world["token"]
    assert api.get(DATA_USAGE + window("2016-01-01T00:00:00Z", "2017-01-01T00:00:00Z"), token=token).status_code == 200
    _bad(api, refused, world, window("2016-01-01T00:00:00Z", "2017-01-01T00:00:01Z"), "endDate")
    refused(api.get(DATA_USAGE + window("2015-01-01T00:00:00Z", "2025-01-01T00:00:00Z"), token=token),
            400, "INVALID_QUERY")


def test_unknown_query_parameters_are_400_naming_them_on_every_path(api, refused, world):
    _bad(api, refused, world, window("2016-12-16T10:00:00Z", "2016-12-16T11:00:00Z", start_date="x"), "start_date")
    query = window("2016-12-16T10:00:00Z", "2016-12-16T11:00:00Z", limit="5")
    for path in _paths(world):
        answer = api.get(path + query, token=world["token"])
        if path.startswith(MAP_PATHS):   # the map paths take limit and offset (API.md §8)
            assert answer.status_code == 200 and answer.json_body["count"] == 0, answer.body
        else:
            assert "limit" in {d["field"] for d in refused(answer, 400, "INVALID_QUERY")["details"]}, path


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "-1"}, {"limit": "ten"}, {"offset": "-1"},
                                    {"offset": "²"}, {"limit": "1", "offset": "x"}])
def test_a_bad_limit_or_offset_on_a_map_path_is_400_naming_it(api, refused, world, params):
    for path in (BY_SUBSCRIBER, BY_IP, f"{BY_IP}/{world['device'].physical_id}"):
        error = refused(api.get(path + window("2016-12-16T10:00:00Z", "2016-12-16T11:00:00Z", **params),
                                token=world["token"]), 400, "INVALID_QUERY")
        assert {d["field"] for d in error["details"]} <= set(params), error


def test_physical_id_in_the_query_is_served_on_subscriber_paths_when_it_is_the_paths(api, refused, world):
    """The seed lists physicalId as a (required) query parameter of the subscriber paths too."""
    device = world["device"].physical_id
    for path in SUBSCRIBER_PATHS:
        same = api.get(path.format(device) + window("2016-12-16T10:00:00Z", "2016-12-16T11:00:00Z", physicalId=device),
                       token=world["token"])
        assert same.status_code == 200, same.body
        other = api.get(path.format(device) + window("2016-12-16T10:00:00Z", "2016-12-16T11:00:00Z", physicalId="1"),
                        token=world["token"])
        assert {d["field"] for d in refused(other, 400, "INVALID_QUERY")["details"]} == {"physicalId"}
    for path in COMPANY_PATHS:
        error = refused(api.get(path + window("2016-12-16T10:00:00Z", "2016-12-16T11:00:00Z", physicalId=device),
                                token=world["token"]), 400, "INVALID_QUERY")
        assert {d["field"] for d in error["details"]} == {"physicalId"}


def test_every_bad_parameter_is_named_at_once(api, refused, world):
    error = refused(api.get(DATA_USAGE + "?startDate=x&endDate=y&limit=3", token=world["token"]), 400,
                    "INVALID_QUERY")
    assert {d["field"] for d in error["details"]} == {"startDate", "endDate", "limit"}


def test_an_unencoded_plus_offset_is_read_as_plus(api, world):
    """`+00:00` pasted into a URL unencoded arrives as a space: read as the offset it can only be."""
    h1 = world["h0"] + H
    raw = f"?startDate={h1.strftime('%Y-%m-%dT%H:%M:%S')}+00:00&endDate={h1.strftime('%Y-%m-%dT%H:%M:%S')}+02:00"
    response = api.get(SESSIONS + raw, token=world["token"])
    assert response.status_code == 400   # end (H1 - 2 h) before start: the offsets were both read
    raw = f"?startDate={h1.strftime('%Y-%m-%dT%H:%M:%S')}+00:00&endDate={h1.strftime('%Y-%m-%dT%H:%M:%S')}-02:00"
    response = api.get(SESSIONS + raw, token=world["token"])
    assert response.status_code == 200, response.body
    assert response.json_body == {"content": {label(h1): "2", label(h1 + H): "1", label(h1 + 2 * H): "1"}}


# --- the edges of the hour buckets ---------------------------------------------------------------------------------

def _hours(api, world, start, end) -> dict:
    response = api.get(SESSIONS + window(start, end), token=world["token"])
    assert response.status_code == 200, response.body
    return response.json_body["content"]


def test_the_hour_start_date_falls_in_counts_whole(api, world):
    h1 = world["h0"] + H
    # Starting at H1 59:59.999 still counts both H1 records (00:00.000 and 59:59.999).
    assert _hours(api, world, h1 + H - MS, h1 + H - MS) == {label(h1): "2"}
    assert _hours(api, world, h1 + 30 * 60 * 1000 * MS, h1 + H - MS) == {label(h1): "2"}


def test_a_bucket_starting_exactly_at_end_date_is_included(api, world):
    h1 = world["h0"] + H
    assert _hours(api, world, h1, h1) == {label(h1): "2"}
    assert _hours(api, world, h1, h1 + H) == {label(h1): "2", label(h1 + H): "1"}


def test_a_bucket_starting_after_end_date_is_excluded(api, world):
    h0, h1 = world["h0"], world["h0"] + H
    assert _hours(api, world, h0, h1 - MS) == {label(h0): "1"}
    assert _hours(api, world, h0, h1 + H - MS) == {label(h0): "1", label(h1): "2"}


def test_the_bucket_before_the_start_hour_is_excluded(api, world):
    h1 = world["h0"] + H
    assert _hours(api, world, h1, h1 + 10 * H) == {label(h1): "2", label(h1 + H): "1", label(h1 + 2 * H): "1"}


def test_subscriber_paths_use_the_same_buckets(api, world):
    h1, device = world["h0"] + H, world["device"].physical_id
    response = api.get(f"{DATA_USAGE}/{device}" + window(h1 + 59 * 60 * 1000 * MS, h1 + H), token=world["token"])
    assert response.status_code == 200, response.body
    # Records i = 1, 2 (H1) and 3 (H2) carried 10 ** i MO bytes.
    assert response.json_body["content"][0]["mobileOriginated"] == {label(h1): str(10 + 100), label(h1 + H): "1000"}
