"""make run's demo telemetry (local/telemetry_demo.py): readable through the API, announced to the rollup lanes."""
from datetime import timedelta

from chalicelib import clock
from local.telemetry_demo import load_demo_telemetry
from tests.telemetry.support import announced, raw_items


def test_demo_telemetry_is_served_as_history_and_logged_for_the_rollups(fleet):
    devices = {fleet.organization: [fleet.device["id"], fleet.other_device["id"]]}
    total = load_demo_telemetry(devices, days=2, progress=False)

    stored = {kind: raw_items(fleet.device["id"], kind) for kind in ("connection_event", "app_session", "usage")}
    assert total == sum(len(items) for items in stored.values()) + sum(
        len(raw_items(fleet.other_device["id"], kind)) for kind in stored)
    assert [item["event"] for item in stored["connection_event"]][:1] == ["Start"]
    assert len(stored["app_session"]) == len(stored["usage"]) == 4
    body = fleet.history(fleet.device["id"], clock.now() - timedelta(days=3), clock.now()).json_body
    assert len(body["connection_history"]) == len(stored["connection_event"]) and body["is_complete"] is True
    buckets = {(entry[0], entry[2], entry[3]) for _, body in announced() for entry in body["entries"]}
    for item in (item for items in stored.values() for item in items):
        at = item.get("occurred_at") or item["started_at"]
        assert (fleet.device["id"], at[:13] + ":00:00.000Z", item["kind"]) in buckets
