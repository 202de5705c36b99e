"""GET /audit_log/ filters (API.md §2 Audit trail): device_id, action, actor, since, and bad parameters.

One history serves the module (the tests only read it): two devices changed by two tokens.
"""
from datetime import UTC, datetime, timedelta

import pytest

from tests.devices.support import AUDIT, DEVICES, device_path, token_id
from tests.factories import device_body


@pytest.fixture(scope="module")
def api(shared_api):
    return shared_api


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _log(api, query: str = "", **kw) -> dict:
    response = api.get(f"{AUDIT}?{query}", **kw)
    assert response.status_code == 200, response.body
    return response.json_body


@pytest.fixture(scope="module")
def history(api) -> dict:
    """Two devices changed by two tokens: the platform one and an organization's."""
    org, dtype = api.organization(), api.device_type()
    bot = api.token(org, name="field-bot")
    first = api.device(org, dtype)
    second = api.post(DEVICES, device_body(org, dtype), token=bot).json_body
    api.patch(device_path(first), {"name": "first-renamed"}, token=bot)
    api.patch(device_path(second), {"status": "Up"})
    api.delete(device_path(first))
    return {"first": first["id"], "second": second["id"], "bot": bot, "entries": _log(api, "limit=200")["results"]}


def _selected(history: dict, keep) -> list[str]:
    return [e["id"] for e in history["entries"] if keep(e)]


def test_device_id_filter_selects_that_devices_entries(api, history):
    for device_id in (history["first"], history["second"]):
        assert [e["id"] for e in _log(api, f"device_id={device_id}")["results"]] == \
               _selected(history, lambda e, d=device_id: e["device_id"] == d)


def test_action_filter_selects_that_action(api, history):
    for action in ("create", "update", "delete"):
        assert [e["id"] for e in _log(api, f"action={action}")["results"]] == \
               _selected(history, lambda e, a=action: e["action"] == a)


def test_actor_filter_takes_a_token_id_or_a_token_name(api, history):
    bot_entries = _selected(history, lambda e: e["actor"]["name"] == "field-bot")
    assert len(bot_entries) == 2
    assert [e["id"] for e in _log(api, "actor=field-bot")["results"]] == bot_entries
    assert [e["id"] for e in _log(api, f"actor={token_id(api, 'field-bot')}")["results"]] == bot_entries
    assert _log(api, "actor=nobody")["results"] == []


def test_since_filter_keeps_entries_at_or_after_it(api, history):
    pivot = history["entries"][2]["at"]
    expected = _selected(history, lambda e: _utc(e["at"]) >= _utc(pivot))
    assert [e["id"] for e in _log(api, f"since={pivot}")["results"]] == expected
    later = (_utc(pivot) + timedelta(hours=3)).replace(tzinfo=None).isoformat(timespec="milliseconds")
    assert [e["id"] for e in _log(api, f"since={later}%2B03:00")["results"]] == expected
    assert _log(api, f"since={(datetime.now(UTC) + timedelta(minutes=5)).isoformat()[:23]}")["results"] == []


def test_filters_combine(api, history):
    query = f"device_id={history['second']}&action=update&actor=platform"
    assert [e["id"] for e in _log(api, query)["results"]] == _selected(
        history, lambda e: e["device_id"] == history["second"] and e["action"] == "update"
        and e["actor"]["name"] == "platform")


@pytest.mark.parametrize(("query", "name"), [("action=explode", "action"), ("since=yesterday", "since"),
                                             ("device_id=abc", "device_id"), ("device_id=0", "device_id"),
                                             ("actor=", "actor"), ("verbose=1", "verbose"), ("limit=-1", "limit")])
def test_a_bad_or_unknown_query_parameter_is_400_invalid_query_naming_it(api, refused, query, name):
    error = refused(api.get(f"{AUDIT}?{query}"), 400, "INVALID_QUERY")
    assert [d["field"] for d in error["details"]] == [name]


def test_count_is_the_number_of_entries_the_filters_match_across_pages(api, history):
    everything = history["entries"]
    for query, expected in [("", len(everything)),
                            (f"device_id={history['second']}", sum(e["device_id"] == history["second"]
                                                                   for e in everything)),
                            ("action=update", sum(e["action"] == "update" for e in everything))]:
        page = _log(api, f"{query}&limit=1")
        assert page["count"] == expected > 0
        assert len(page["results"]) == 1
