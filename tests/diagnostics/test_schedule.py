"""The scheduled health check (API.md §4): due devices from the due-time index, in batches, without a Scan."""
from datetime import timedelta

import pytest

from chalicelib import aws, clock
from chalicelib.config import get_settings
from chalicelib.diagnostics import checks, db
from chalicelib.store import dynamo, schema


@pytest.fixture
def later(monkeypatch):
    """Move the clock `hours` ahead of now (for every reader of chalicelib.clock)."""
    real = clock.now

    def move(hours: float):
        moment = real() + timedelta(hours=hours)
        monkeypatch.setattr(clock, "now", lambda: moment)
        return moment
    return move


@pytest.fixture
def run(client):
    """Invoke the scheduled handler as EventBridge would; the AWS requests it made."""
    def invoke() -> list[str]:
        calls: list[str] = []
        hook = lambda model, **_: calls.append(model.name)   # noqa: E731
        aws.dynamodb().meta.events.register("before-call.dynamodb.*", hook)
        try:
            client.lambda_.invoke("run_health_checks", client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
        finally:
            aws.dynamodb().meta.events.unregister("before-call.dynamodb.*", hook)
        return calls
    return invoke


def state(device_id: int) -> dict | None:
    return dynamo.get(schema.health_state_key(device_id), consistent=True)


def health_checks(diags, device_id: int) -> list[dict]:
    return diags.page(f"?id={device_id}&diagnostic_type=health_check")["results"]


def test_a_new_device_is_due_one_interval_after_its_creation(diags):
    device = diags.device(update_frequency=7200)
    stored = state(device["id"])
    due = clock.parse_iso(device["created"]) + timedelta(hours=2)
    assert stored["next_check_due"] == clock.iso(due)
    assert {k: stored[k] for k in ("GSI3PK", "GSI3SK")} == schema.health_due_keys(clock.iso(due), device["id"])
    assert db.due_states(clock.iso(due - timedelta(seconds=1)), 10)[0] == []
    assert [int(s["device_id"]) for s in db.due_states(clock.iso(due), 10)[0]] == [device["id"]]


def test_scheduled_check_runs_the_helpers_of_due_devices_only_and_moves_their_due_time(diags, later, run):
    hourly, daily = diags.device(update_frequency=3600), diags.device(update_frequency=86400)
    diags.behave(hourly["id"], diagnostics={"memory_usage": 93})
    assert run() and health_checks(diags, hourly["id"]) == []   # nothing due yet

    now = later(hours=1.5)
    calls = run()

    [entry] = health_checks(diags, hourly["id"])
    assert (entry["status"], entry["performed_by"]) == ("warning", checks.SCHEDULED_BY)
    assert [i["code"] for i in entry["issues"]] == ["MEMORY_HIGH"]
    assert entry["last_check"] == clock.iso(now)
    assert entry["next_check_due"] == state(hourly["id"])["next_check_due"] == clock.iso(now + timedelta(hours=1))
    assert state(hourly["id"])["last_check"] == clock.iso(now)
    assert health_checks(diags, daily["id"]) == []
    assert "Scan" not in calls and "Query" in calls
    # Checked: not due again until its next interval.
    run()
    assert len(health_checks(diags, hourly["id"])) == 1
    later(hours=2.6)
    run()
    assert len(health_checks(diags, hourly["id"])) == 2


def test_due_devices_are_taken_in_bounded_batches(diags, later, run, monkeypatch):
    devices = [diags.device(update_frequency=3600) for _ in range(5)]
    monkeypatch.setattr(checks, "BATCH_SIZE", 2)
    queries = []
    original = db.due_states
    monkeypatch.setattr(db, "due_states", lambda *a, **kw: queries.append(a[1]) or original(*a, **kw))
    later(hours=1.5)

    run()

    assert all(len(health_checks(diags, device["id"])) == 1 for device in devices)
    assert queries == [2, 2, 2]


def test_silent_and_offline_devices_are_recorded_offline(diags, later, run, fast_driver):
    silent, offline = diags.device(), diags.device()
    diags.behave(silent["id"], latency_ms=5000)
    diags.behave(offline["id"], online=False)
    later(hours=5)

    run()

    [entry] = health_checks(diags, silent["id"])
    assert entry["status"] == "offline"
    assert [(i["code"], i["severity"]) for i in entry["issues"]] == [("NO_ANSWER", "high")]
    assert entry["details"]["error"]["code"] == "TIMEOUT"
    assert get_settings().driver_timeout_seconds == 0.3
    [entry] = health_checks(diags, offline["id"])
    assert [i["code"] for i in entry["issues"]] == ["DEVICE_UNREACHABLE"]


def test_an_inactive_device_is_not_checked_but_its_turn_moves_on(diags, later, run):
    device = diags.device(is_active=False)
    now = later(hours=5)
    run()
    assert health_checks(diags, device["id"]) == []
    assert state(device["id"])["next_check_due"] == clock.iso(now + timedelta(hours=4))


def test_the_state_a_deleted_device_left_behind_is_cleared(diags, later, run):
    device = diags.device()
    dynamo.delete_keys([schema.device_key(device["id"])])   # as if the cascade had stopped after the device
    later(hours=5)
    run()
    assert state(device["id"]) is None
    assert [item for item in dynamo.query_all(
        KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": schema.device_partition(device["id"])})
        if item["SK"].startswith("DIAG#")] == []


def test_a_new_update_frequency_moves_the_next_check(diags, later, api):
    device = diags.device(update_frequency=86400)
    now = later(hours=0)
    assert api.patch(f"/inventory_device/{device['id']}/", {"update_frequency": 7200}).status_code == 200
    assert state(device["id"])["next_check_due"] == clock.iso(now + timedelta(hours=2))
    # Other changes leave it alone.
    assert api.patch(f"/inventory_device/{device['id']}/", {"name": "renamed"}).status_code == 200
    assert state(device["id"])["next_check_due"] == clock.iso(now + timedelta(hours=2))


def test_deleting_a_device_takes_it_out_of_the_due_index(api, diags, later, run):
    device = diags.device()
    assert api.delete(f"/inventory_device/{device['id']}/").status_code == 204
    assert state(device["id"]) is None
    assert db.due_states(clock.iso(later(hours=5)), 10)[0] == []
