"""Runs are idempotent and crash-safe, one at a time, admin-only, scheduled, and measured."""
import time

import pytest

from chalicelib import aws, observability
from chalicelib.config import get_settings
from chalicelib.rollups import db
from tests.rollups.support import ROLLUPS, SETTLE, aggregate_items, connection, session, usage, without_lease


class Crash(Exception):
    pass


def crash_at(write: int):
    """Fail the `write`-th BatchWriteItem of the rollups, as a Lambda time-out or a throttle would."""
    seen = {"n": 0}

    def fail(**_):
        seen["n"] += 1
        if seen["n"] == write:
            raise Crash(f"write {write}")
    return fail


def ingest_everything(fleet) -> None:
    """A few records of every kind, in several windows and organizations."""
    a1, a2, b1 = fleet.devices["a1"], fleet.devices["a2"], fleet.devices["b1"]
    ago = fleet.clock.ago
    fleet.ingest("app_session", [session(a1, ago(minutes=9)), session(a1, ago(hours=2), "Vault", "security", False),
                                 session(a2, ago(days=3), "CRM", "productivity"), session(b1, ago(minutes=30))])
    fleet.ingest("connection_event", [connection(a1, ago(minutes=7)), connection(b1, ago(days=3))])
    fleet.ingest("usage", [usage(a1, ago(minutes=6)), usage(b1, ago(days=3), 5, 6, "udp")])


def figures(items: list[dict]) -> list[dict]:
    """What a reader sees: not when an unchanged item was last rewritten, nor where the audit trail was read from
    (a run from nothing starts it at its own time)."""
    return [{k: v for k, v in item.items() if k != "computed_at" and not (item["SK"] == "DEVICES" and k == "position")}
            for item in without_lease(items)]


def wipe_aggregates() -> None:
    keys = [{"PK": item["PK"], "SK": item["SK"]} for item in aggregate_items()]
    table = get_settings().table_name
    for start in range(0, len(keys), 25):
        requests = [{"DeleteRequest": {"Key": key}} for key in keys[start:start + 25]]
        aws.dynamodb().batch_write_item(RequestItems={table: requests})


def test_a_second_run_with_nothing_new_changes_no_item(fleet):
    ingest_everything(fleet)
    fleet.roll_up()
    before = without_lease(aggregate_items())
    report = fleet.api.post(ROLLUPS).json_body
    assert without_lease(aggregate_items()) == before
    assert report["items_written"] <= 1 and report["records_read"] == 0   # only the run's own time


@pytest.mark.parametrize(("runs_before", "write"), [(0, 2), (0, 9), (1, 7)])
def test_a_run_that_crashes_half_way_then_runs_again_ends_as_a_clean_run(fleet, refused, runs_before, write):
    ingest_everything(fleet)
    if runs_before:
        fleet.roll_up()
        ingest_everything(fleet)      # as many records again, in the same buckets, and a late one
        fleet.ingest("usage", [usage(fleet.devices["a2"], fleet.clock.ago(days=80), 9, 9)])
    fleet.clock.advance(seconds=SETTLE.total_seconds())
    hook = crash_at(write)
    aws.dynamodb().meta.events.register("before-call.dynamodb.BatchWriteItem", hook)
    try:
        refused(fleet.api.post(ROLLUPS), 500, "INTERNAL_ERROR")
    finally:
        aws.dynamodb().meta.events.unregister("before-call.dynamodb.BatchWriteItem", hook)
    assert fleet.api.post(ROLLUPS).status_code == 200     # the lease was released; same clock, same windows
    recovered = figures(aggregate_items())
    wipe_aggregates()
    assert fleet.api.post(ROLLUPS).status_code == 200     # from nothing: every bucket from the raw records
    assert figures(aggregate_items()) == recovered


def test_one_run_at_a_time_and_the_schedule_skips_a_busy_tick(fleet, client, refused):
    ingest_everything(fleet)
    fleet.clock.advance(seconds=SETTLE.total_seconds())
    assert db.acquire_lease("another run", time.time(), 600)
    refused(fleet.api.post(ROLLUPS), 409, "ROLLUP_IN_PROGRESS")
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                            resources=[])
    client.lambda_.invoke("roll_up_telemetry", event)
    assert not [item for item in aggregate_items() if item["PK"].startswith("SUMMARY#")]
    db.release_lease("another run")
    client.lambda_.invoke("roll_up_telemetry", event)
    body = fleet.summary("?time_range=90d").json_body
    assert body["summary"]["total_devices"] == 4 and body["summary"]["last_updated"] is not None


def test_running_the_rollups_needs_a_platform_admin(fleet, refused):
    refused(fleet.api.post(ROLLUPS, token=fleet.tokens["acme"]), 403, "PERMISSION_DENIED")
    refused(fleet.api.post(ROLLUPS, token=None), 401, "MISSING_TOKEN")
    refused(fleet.api.post(ROLLUPS, token=fleet.tokens["acme_admin"]), 403, "PLATFORM_ONLY")   # fleet-wide work
    answer = fleet.api.post(ROLLUPS, token=fleet.api.token(None, ("admin",)))
    assert answer.status_code == 200 and answer.json_body["caught_up"] is True
    first = fleet.api.post(ROLLUPS, headers={"Idempotency-Key": "backfill-1"})
    again = fleet.api.post(ROLLUPS, headers={"Idempotency-Key": "backfill-1"})
    assert again.json_body == first.json_body


def test_a_run_records_what_it_read_wrote_and_took(fleet, monkeypatch):
    recorded = {}
    monkeypatch.setattr(observability.metrics, "add_metric",
                        lambda name, unit, value, **_: recorded.__setitem__(name, (unit, value)))
    ingest_everything(fleet)
    report = fleet.roll_up()
    assert recorded["RollupRecordsRead"] == ("Count", report["records_read"]) and report["records_read"] == 8
    assert recorded["RollupChangesRead"][1] == report["changes_read"] > 0
    assert recorded["RollupItemsWritten"] == ("Count", report["items_written"]) and report["items_written"] > 0
    assert recorded["RollupDuration"][0] == "Milliseconds"


def test_entries_younger_than_the_settle_lag_wait_for_a_later_run(fleet):
    a1 = fleet.devices["a1"]
    fleet.roll_up()
    fleet.ingest("usage", [usage(a1, fleet.clock.ago(minutes=1))])
    fleet.clock.advance(seconds=30)
    assert fleet.api.post(ROLLUPS).json_body["change_log_entries"] == 0
    fleet.clock.advance(seconds=31)
    assert fleet.api.post(ROLLUPS).json_body["change_log_entries"] == 1


def test_make_runs_schedule_runner_fires_the_rollups_at_start(fleet):
    from app import app
    from local.workers import ScheduleRunner

    ingest_everything(fleet)
    fleet.clock.advance(seconds=SETTLE.total_seconds())
    assert "roll_up_telemetry" in ScheduleRunner(app).run_due(now=0)   # next_run starts at 0: at once
    body = fleet.summary("?time_range=7d").json_body
    assert body["summary"]["last_updated"] is not None and body["summary"]["active_devices"] == 3
