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
    """Two devices changed by two tokens, the platform one and an organization's; `done` is what the test did,
    oldest first, as (device, action, actor name): what the filters are checked against."""
    org, dtype = api.organization(), api.device_type()
    bot = api.token(org, name="field-bot")
    first = api.device(org, dtype)
    second = api.post(DEVICES, device_body(org, dtype), token=bot).json_body
    api.patch(device_path(first), {"name": "first-renamed"}, token=bot)
    api.patch(device_path(second), {"status": "Up"})
    api.delete(device_path(first))
    done = [(first["id"], "create", "platform"), (second["id"], "create", "field-bot"),
            (first["id"], "update", "field-bot"), (second["id"], "update", "platform"),
            (first["id"], "delete", "platform")]
    return {"first": first["id"], "second": second["id"], "bot": bot, "done": done,
            "entries": _log(api, "limit=200")["results"]}


def _what(entries: list[dict]) -> list[tuple]:
    """(device, action, actor name) of each entry, as the API lists them (newest first)."""
    return [(e["device_id"], e["action"], e["actor"]["name"]) for e in entries]


def _expected(history: dict, keep) -> list[tuple]:
    """What the test did that `keep` selects, newest first."""
    return [step for step in reversed(history["done"]) if keep(*step)]


def test_the_log_holds_what_was_done_newest_first(api, history):
    assert _what(history["entries"]) == _expected(history, lambda *_: True)


def test_device_id_filter_selects_that_devices_entries(api, history):
    for device_id in (history["first"], history["second"]):
        assert _what(_log(api, f"device_id={device_id}")["results"]) == \
               _expected(history, lambda d, a, who, wanted=device_id: d == wanted)


def test_action_filter_selects_that_action(api, history):
    for action in ("create", "update", "delete"):
        assert _what(_log(api, f"action={action}")["results"]) == \
               _expected(history, lambda d, a, who, wanted=action: a == wanted)


def test_actor_filter_takes_a_token_id_or_a_token_name(api, history):
    bot_steps = _expected(history, lambda d, a, who: who == "field-bot")
    assert len(bot_steps) == 2
    assert _what(_log(api, "actor=field-bot")["results"]) == bot_steps
    assert _what(_log(api, f"actor={token_id(api, 'field-bot')}")["results"]) == bot_steps
    assert _log(api, "actor=nobody")["results"] == []


def test_since_filter_keeps_entries_at_or_after_it(api, history):
    # The third step's entry: since its time, the last three steps.
    pivot = next(e["at"] for e in history["entries"] if _what([e]) == [history["done"][2]])
    expected = list(reversed(history["done"][2:]))
    assert _what(_log(api, f"since={pivot}")["results"]) == expected
    later = (_utc(pivot) + timedelta(hours=3)).replace(tzinfo=None).isoformat(timespec="milliseconds")
    assert _what(_log(api, f"since={later}%2B03:00")["results"]) == expected
    assert _log(api, f"since={(datetime.now(UTC) + timedelta(minutes=5)).isoformat()[:23]}")["results"] == []


def test_filters_combine(api, history):
    query = f"device_id={history['second']}&action=update&actor=platform"
    assert _what(_log(api, query)["results"]) == [(history["second"], "update", "platform")]


@pytest.mark.parametrize(("query", "name"), [("action=explode", "action"), ("since=yesterday", "since"),
                                             ("device_id=abc", "device_id"), ("device_id=0", "device_id"),
                                             ("actor=", "actor"), ("verbose=1", "verbose"), ("limit=-1", "limit")])
def test_a_bad_or_unknown_query_parameter_is_400_invalid_query_naming_it(api, refused, query, name):
    error = refused(api.get(f"{AUDIT}?{query}"), 400, "INVALID_QUERY")
    assert [d["field"] for d in error["details"]] == [name]


def test_count_is_the_number_of_entries_the_filters_match_across_pages(api, history):
    for query, expected in [("", 5), (f"device_id={history['second']}", 2), ("action=update", 2)]:
        page = _log(api, f"{query}&limit=1")
        assert page["count"] == expected
        assert len(page["results"]) == 1
