"""Who may read analytics (API.md §1, §8): analytics:overview for every path, analytics:subscriber too for the
subscriber paths; a physicalId names a device the caller may see, or it is 404."""
from datetime import timedelta
from urllib.parse import quote

import pytest

from tests.analytics.support import (
    BY_IP,
    COMPANY_PATHS,
    DATA_USAGE,
    SESSIONS,
    SUBSCRIBER_PATHS,
    Connection,
    Usage,
    base_hour,
    expected_data_usage,
    feed,
    window,
)
from tests.factories import imei

WINDOW = window("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00")


@pytest.fixture(scope="module")
def world(api, fleet):
    mine, theirs = fleet.organization(), fleet.organization()
    card, sensor = fleet.subscriber(mine, "iccid"), fleet.subscriber(mine, "eui")
    # Some traffic of the card and of the sensor, so that an answer shows whose figures it holds.
    hour = base_hour()
    usage = [Usage(card, hour + timedelta(minutes=5), 10, 20, "TCP", "10.1.1.1"),
             Usage(sensor, hour + timedelta(minutes=7), 300, 400, "UDP", "192.0.2.7")]
    feed(api, usage, [Connection(card, hour + timedelta(minutes=4), "Start"),
                      Connection(sensor, hour + timedelta(minutes=6), "Start")])
    return {"mine": mine, "card": card, "sensor": sensor, "foreign": fleet.subscriber(theirs, "imei"),
            "token": fleet.token(mine), "usage": usage, "traffic": window(hour - timedelta(hours=1),
                                                                          hour + timedelta(hours=2))}


def _subscriber_paths(device) -> list[str]:
    return [p.format(device.physical_id) for p in SUBSCRIBER_PATHS]


@pytest.mark.parametrize("permissions", [("devices:read",), ("analytics:subscriber",), ("reports:read", "admin")])
def test_every_path_without_analytics_overview_is_403(api, refused, fleet, world, permissions):
    token = fleet.token(world["mine"], permissions)
    for path in [*COMPANY_PATHS, *_subscriber_paths(world["card"])]:
        refused(api.get(path + WINDOW, token=token), 403, "PERMISSION_DENIED")


def test_subscriber_paths_without_analytics_subscriber_are_403_company_paths_answer(api, refused, fleet, world):
    token = fleet.token(world["mine"], ("analytics:overview",))
    for path in _subscriber_paths(world["card"]):
        error = refused(api.get(path + WINDOW, token=token), 403, "PERMISSION_DENIED")
        assert "analytics:subscriber" in error["message"]
    for path in COMPANY_PATHS:
        assert api.get(path + WINDOW, token=token).status_code == 200, path


def test_the_permission_is_checked_before_the_query(api, refused, fleet, world):
    token = fleet.token(world["mine"], ("analytics:overview",))
    for path in _subscriber_paths(world["card"]):
        refused(api.get(path + "?startDate=nonsense", token=token), 403, "PERMISSION_DENIED")
    for path in COMPANY_PATHS:
        refused(api.get(path + "?startDate=nonsense", token=fleet.token(world["mine"], ("devices:read",))),
                403, "PERMISSION_DENIED")


def test_without_a_token_every_path_is_401(api, refused, world):
    for path in [*COMPANY_PATHS, *_subscriber_paths(world["card"])]:
        refused(api.get(path + WINDOW, token=None), 401, "MISSING_TOKEN")


@pytest.mark.parametrize("physical_id", [
    "8944500000000999990", "70B3D5E75EFFFFFF", imei(999_999), "123", "abc", "not-an-id", "%20", "%23IDENT",
    "8944500000000000000000000000000000000000000000000"])
def test_an_unknown_physical_id_is_404_subscriber_not_found(api, refused, world, physical_id):
    for path in SUBSCRIBER_PATHS:
        refused(api.get(path.format(physical_id) + WINDOW, token=world["token"]), 404, "SUBSCRIBER_NOT_FOUND")


def test_another_organizations_subscriber_is_404_like_an_unknown_one(api, refused, world):
    for path in _subscriber_paths(world["foreign"]):
        error = refused(api.get(path + WINDOW, token=world["token"]), 404, "SUBSCRIBER_NOT_FOUND")
        assert "organization" not in error["message"].lower()


def test_a_physical_id_is_matched_as_its_kind_writes_it(api, world):
    """EUIs in any of their usual spellings (lower case, colons, URL-encoded) name the same device."""
    value = world["sensor"].physical_id
    spellings = [value.lower(), ":".join(value[i:i + 2] for i in range(0, 16, 2)), quote("-".join(
        value[i:i + 2] for i in range(0, 16, 2)))]
    expected = expected_data_usage([u for u in world["usage"] if u.device == world["sensor"]])
    assert expected["content"][0]["mobileOriginated"]   # not empty: an answer holding no figures would fail
    for spelling in spellings:
        response = api.get(f"{DATA_USAGE}/{spelling}" + world["traffic"], token=world["token"])
        assert response.status_code == 200, (spelling, response.body)
        assert response.json_body == expected, spelling


def test_dates_are_checked_before_the_subscriber_is_looked_up(api, refused, world):
    refused(api.get(f"{SESSIONS}/unknown?startDate=x&endDate=y", token=world["token"]), 400, "INVALID_QUERY")
    refused(api.get(f"{BY_IP}/unknown" + WINDOW, token=world["token"]), 404, "SUBSCRIBER_NOT_FOUND")


def test_trailing_slash_is_the_same_resource(api, world):
    for path in [*COMPANY_PATHS, *_subscriber_paths(world["card"])]:
        without = api.get(path + world["traffic"], token=world["token"])
        response = api.get(path + "/" + world["traffic"], token=world["token"])
        assert response.status_code == 200, (path, response.body)
        assert response.json_body == without.json_body and response.json_body["content"], path
