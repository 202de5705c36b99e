"""Every analytics figure (API.md §8) equals the reference aggregation of the records ingested, exactly, in the
seed's shapes; another organization's records never count."""
from datetime import timedelta

import pytest

from tests.analytics.support import (
    BY_IP,
    BY_PROTOCOL,
    BY_SUBSCRIBER,
    DATA_USAGE,
    SESSIONS,
    Connection,
    Usage,
    base_hour,
    expected_by_ip,
    expected_by_protocol,
    expected_by_subscriber,
    expected_data_usage,
    expected_session_counts,
    feed,
    selected,
    window,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture(scope="module")
def world(api, fleet):
    """GIVEN two organizations whose subscribers used data and opened sessions over four hours (H0..H3), the
    second organization active in the same hours; H2 holds connection events only, and one subscriber (idle)
    only connected. `plain` has no ICCID, EUI nor IMEI: its serial number is its physicalId."""
    h0 = base_hour()
    mine, theirs = fleet.organization(), fleet.organization()
    card, sensor, terminal, plain, idle = (fleet.subscriber(mine, kind)
                                           for kind in ("iccid", "eui", "imei", "serial", "iccid"))
    foreign = fleet.subscriber(theirs, "iccid")
    usage = [
        Usage(card, h0 + 5 * M, 120, 4_000, "TCP", "10.1.1.1"),
        Usage(card, h0 + 40 * M, 80, 1_500, "UDP", "8.8.8.8"),
        Usage(card, h0 + 59 * M, 7, 0, "TCP", "8.8.8.8"),
        Usage(terminal, h0 + 30 * M, 300, 900, "ICMP", "10.1.1.1"),
        Usage(card, h0 + H + 1 * M, 50, 60, "TCP", "10.1.1.1"),
        Usage(sensor, h0 + H + 10 * M, 0, 2_048, "UDP", "192.0.2.7"),
        Usage(sensor, h0 + 3 * H + 15 * M, 11, 22, "UDP", "192.0.2.7"),
        Usage(plain, h0 + H + 59 * M, 1_000, 1, "TCP", "2001:db8::1"),
        Usage(foreign, h0 + 10 * M, 99_999, 88_888, "TCP", "10.1.1.1"),
        Usage(foreign, h0 + 3 * H, 5, 5, "GRE", "203.0.113.9"),
    ]
    connections = [
        Connection(card, h0 + 1 * M, "Start"),
        Connection(card, h0 + 20 * M, "Interim"),
        Connection(card, h0 + 30 * M, "Stop"),
        Connection(card, h0 + 31 * M, "Start"),
        Connection(terminal, h0 + 2 * M, "Start"),
        Connection(sensor, h0 + H + 3 * M, "Start"),
        Connection(sensor, h0 + H + 50 * M, "Interim"),
        Connection(card, h0 + 2 * H + 5 * M, "Start"),
        Connection(card, h0 + 2 * H + 55 * M, "Stop"),
        Connection(plain, h0 + H + 58 * M, "Start"),
        Connection(idle, h0 + 3 * H + 1 * M, "Start"),
        Connection(idle, h0 + 3 * H + 2 * M, "Stop"),
        Connection(foreign, h0 + 4 * M, "Start"),
        Connection(foreign, h0 + H + 4 * M, "Start"),
    ]
    feed(api, usage, connections)
    return {"h0": h0, "mine": mine, "theirs": theirs, "card": card, "sensor": sensor, "terminal": terminal,
            "plain": plain, "idle": idle, "foreign": foreign, "usage": usage, "connections": connections,
            "token": fleet.token(mine), "their_token": fleet.token(theirs)}


def _get(api, path, token, start, end):
    response = api.get(path + window(start, end), token=token)
    assert response.status_code == 200, response.body
    return response.json_body


def _whole(world):
    return world["h0"] - 2 * H, world["h0"] + 5 * H


def _of(world, records, organization="mine", devices=None, start=None, end=None):
    owned = [r for r in records if r.device.organization_id == world[organization]]
    return selected(owned, start or _whole(world)[0], end or _whole(world)[1], devices)


def test_company_data_usage_is_mo_and_mt_per_hour(api, world):
    body = _get(api, DATA_USAGE, world["token"], *_whole(world))
    assert body == expected_data_usage(_of(world, world["usage"]))
    # Spelled out once: the seed's shape, string values, +00:00 hour keys; H2 had no usage.
    h0 = world["h0"].isoformat()
    assert body["content"][0]["mobileOriginated"][h0] == str(120 + 80 + 7 + 300)
    assert body["content"][0]["mobileTerminated"][h0] == str(4_000 + 1_500 + 900)
    assert len(body["content"][0]["mobileOriginated"]) == 3


def test_company_session_count_counts_start_events_per_hour(api, world):
    body = _get(api, SESSIONS, world["token"], *_whole(world))
    assert body == expected_session_counts(_of(world, world["connections"]))
    assert body["content"][world["h0"].isoformat()] == "3"


def test_company_data_usage_per_network_protocol(api, world):
    body = _get(api, BY_PROTOCOL, world["token"], *_whole(world))
    assert body == expected_by_protocol(_of(world, world["usage"]))
    assert set(body["content"]) == {"TCP", "UDP", "ICMP"}


def test_company_data_usage_per_ip_address_with_last_seen(api, world):
    body = _get(api, BY_IP, world["token"], *_whole(world))
    assert body == expected_by_ip(_of(world, world["usage"]))
    assert body["content"][0]["dataUsageByIp"]["8.8.8.8"] == {
        "lastSeen": (world["h0"] + 59 * M).isoformat(), "bytes": str(80 + 1_500 + 7)}


def test_company_data_usage_per_subscriber_with_last_seen_and_total(api, world):
    body = _get(api, BY_SUBSCRIBER, world["token"], *_whole(world))
    mine = _of(world, world["usage"])
    assert body == expected_by_subscriber(mine, _of(world, world["connections"]))
    assert body["content"]["totalDataUsage"] == sum(r.mo + r.mt for r in mine)
    by_subscriber = body["content"]["subscriberDataUsage"]
    assert world["foreign"].physical_id not in by_subscriber
    # lastSeen is the last network activity: the card's last usage was in H0, its last Stop event in H2.
    assert by_subscriber[world["card"].physical_id] == {
        (world["h0"] + 2 * H + 55 * M).isoformat(): str(120 + 4_000 + 80 + 1_500 + 7 + 50 + 60)}
    assert by_subscriber[world["idle"].physical_id] == {(world["h0"] + 3 * H + 2 * M).isoformat(): "0"}


@pytest.mark.parametrize("who", ["card", "sensor", "terminal", "plain", "idle"])
def test_subscriber_data_usage_by_iccid_eui_or_imei(api, world, who):
    device = world[who]
    body = _get(api, f"{DATA_USAGE}/{device.physical_id}", world["token"], *_whole(world))
    assert body == expected_data_usage(_of(world, world["usage"], devices={device.id}))
    assert body["content"][0]["mobileOriginated"] or who == "idle"


@pytest.mark.parametrize("who", ["card", "sensor", "terminal", "plain", "idle"])
def test_subscriber_session_count_is_an_array_of_session_counts(api, world, who):
    device = world[who]
    body = _get(api, f"{SESSIONS}/{device.physical_id}", world["token"], *_whole(world))
    assert body == {"content": [expected_session_counts(_of(world, world["connections"], devices={device.id}))]}


@pytest.mark.parametrize("who", ["card", "sensor", "terminal", "plain", "idle"])
def test_subscriber_data_usage_per_ip_address(api, world, who):
    device = world[who]
    body = _get(api, f"{BY_IP}/{device.physical_id}", world["token"], *_whole(world))
    assert body == expected_by_ip(_of(world, world["usage"], devices={device.id}))


def test_a_narrower_window_counts_only_its_hours(api, world):
    start, end = world["h0"] + H + 30 * M, world["h0"] + 3 * H   # buckets H1, H2 and H3
    token = world["token"]
    usage, connections = _of(world, world["usage"], start=start, end=end), _of(world, world["connections"],
                                                                                start=start, end=end)
    assert _get(api, DATA_USAGE, token, start, end) == expected_data_usage(usage)
    assert _get(api, SESSIONS, token, start, end) == expected_session_counts(connections)
    assert _get(api, BY_PROTOCOL, token, start, end) == expected_by_protocol(usage)
    assert _get(api, BY_IP, token, start, end) == expected_by_ip(usage)
    assert _get(api, BY_SUBSCRIBER, token, start, end) == expected_by_subscriber(usage, connections)
    assert world["card"].physical_id in _get(api, BY_SUBSCRIBER, token, start, end)["content"]["subscriberDataUsage"]
    assert world["terminal"].physical_id not in _get(api, BY_SUBSCRIBER, token, start, end)["content"][
        "subscriberDataUsage"]


def test_a_window_without_data_answers_the_shapes_empty(api, world):
    start, end = world["h0"] - 30 * H, world["h0"] - 20 * H
    token, card = world["token"], world["card"].physical_id
    assert _get(api, DATA_USAGE, token, start, end) == {"content": [{"mobileTerminated": {}, "mobileOriginated": {}}]}
    assert _get(api, SESSIONS, token, start, end) == {"content": {}}
    assert _get(api, BY_PROTOCOL, token, start, end) == {"content": {}}
    assert _get(api, BY_IP, token, start, end) == {"content": [{"dataUsageByIp": {}, "totalData": 0}]}
    assert _get(api, BY_SUBSCRIBER, token, start, end) == {"content": {"subscriberDataUsage": {},
                                                                       "totalDataUsage": 0}}
    assert _get(api, f"{SESSIONS}/{card}", token, start, end) == {"content": [{"content": {}}]}
    assert _get(api, f"{DATA_USAGE}/{card}", token, start, end) == {
        "content": [{"mobileTerminated": {}, "mobileOriginated": {}}]}
    assert _get(api, f"{BY_IP}/{card}", token, start, end) == {"content": [{"dataUsageByIp": {}, "totalData": 0}]}


def test_the_other_organization_sees_only_its_own_figures(api, world):
    token = world["their_token"]
    assert _get(api, DATA_USAGE, token, *_whole(world)) == expected_data_usage(_of(world, world["usage"], "theirs"))
    assert _get(api, SESSIONS, token, *_whole(world)) == expected_session_counts(
        _of(world, world["connections"], "theirs"))
    assert _get(api, BY_SUBSCRIBER, token, *_whole(world)) == expected_by_subscriber(
        _of(world, world["usage"], "theirs"), _of(world, world["connections"], "theirs"))


def test_a_platform_token_sees_every_organization_merged(api, world, fleet):
    token = fleet.token(None)
    both = [r for r in world["usage"] if r.device.organization_id in (world["mine"], world["theirs"])]
    sessions = [c for c in world["connections"] if c.device.organization_id in (world["mine"], world["theirs"])]
    start, end = _whole(world)
    assert _get(api, DATA_USAGE, token, start, end) == expected_data_usage(selected(both, start, end))
    assert _get(api, SESSIONS, token, start, end) == expected_session_counts(selected(sessions, start, end))
    assert _get(api, BY_PROTOCOL, token, start, end) == expected_by_protocol(selected(both, start, end))
    assert _get(api, BY_IP, token, start, end) == expected_by_ip(selected(both, start, end))
    assert _get(api, BY_SUBSCRIBER, token, start, end) == expected_by_subscriber(selected(both, start, end),
                                                                                 selected(sessions, start, end))
    foreign = world["foreign"].physical_id
    assert _get(api, f"{DATA_USAGE}/{foreign}", token, start, end) == expected_data_usage(
        selected(both, start, end, {world["foreign"].id}))


def test_offsets_name_the_same_instants(api, world):
    """12:30+02:00 is 10:30Z: a window written with offsets selects the buckets of its UTC instants."""
    h0 = world["h0"]
    start, end = h0 + H + 30 * M, h0 + 3 * H
    local = window((start + 2 * H).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
                   (end - 5 * H).strftime("%Y-%m-%dT%H:%M:%S-05:00"))
    zulu = window(start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    answers = [api.get(DATA_USAGE + q, token=world["token"]) for q in (local, zulu)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json_body == answers[1].json_body == _get(api, DATA_USAGE, world["token"], start, end)
