"""Units are idempotent and crash-safe; POST /admin/rollups/ joins work in progress and answers 202 for a backlog; the
schedule and the queue's worker roll up as the request does; everything is admin-only and measured."""
import json

import pytest

from app import app
from chalicelib import aws, observability
from chalicelib.rollups import journal, lanes, pending, service, unit, worker
from chalicelib.store import schema
from chalicelib.store.dynamo import plain
from local.workers import sqs_event
from tests.rollups import reference
from tests.rollups.support import ROLLUPS, aggregate_items, connection, session, usage
from tests.rollups.test_aggregates import stored
from tests.rollups.test_maps import _analytics, _reader
from tests.rollups.test_windows import assert_matches_reference


class Crash(Exception):
    pass


def crash_at(operation: str, number: int):
    """Fail the `number`-th `operation` request of the rollups (not the API's own: rate limit, idempotency), as a
    Lambda time-out or a throttle would."""
    seen = {"n": 0}

    def fail(params, model, **_):
        key = (params.get("Key") or {}).get("PK", "")
        if model.name == operation and not str(key).startswith(("RATE#", "IDEMPOTENCY")):
            seen["n"] += 1
            if seen["n"] == number:
                raise Crash(f"{operation} {number}")
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
    """What a reader sees: the aggregates, not the lanes' own bookkeeping (states, journals, pending work)."""
    return [plain(item) for item in items if not item["PK"].startswith(("ROLLUP#LANE", schema.LANE_STATES_PK))]


def assert_exact(fleet) -> None:
    """Every §7 figure and every §8 aggregate equals the reference aggregation of what was ingested."""
    assert_matches_reference(fleet)
    devices, organizations = stored(aggregate_items())
    expected = reference.device_hours(fleet.events, fleet.usage)
    assert devices == expected
    assert organizations == reference.organization_hours(
        expected, {d["id"]: d["organization_id"] for d in fleet.devices.values()},
        {d["id"]: d["physical_id"] for d in fleet.devices.values()})


def test_a_second_run_with_nothing_new_changes_no_item(fleet):
    ingest_everything(fleet)
    fleet.roll_up()
    before = figures(aggregate_items())
    report = fleet.api.post(ROLLUPS).json_body
    assert figures(aggregate_items()) == before
    assert report["records_read"] == 0 and report["caught_up"] is True


@pytest.mark.parametrize(("operation", "number"), [("BatchWriteItem", 2), ("BatchWriteItem", 6),
                                                   ("BatchWriteItem", 9), ("UpdateItem", 1), ("UpdateItem", 3),
                                                   ("UpdateItem", 8)])
def test_a_unit_that_dies_at_any_write_ends_as_a_clean_run(fleet, operation, number):
    """A failure before the journal's commit leaves nothing; one after it leaves the journal, which the lane applies
    before anything else. The lane's message comes back and the same request carries on."""
    ingest_everything(fleet)
    fleet.roll_up()
    ingest_everything(fleet)     # as many records again, in the same buckets, and a late one
    fleet.ingest("usage", [usage(fleet.devices["a2"], fleet.clock.ago(days=80), 9, 9)])
    hook = crash_at(operation, number)
    aws.dynamodb().meta.events.register("provide-client-params.dynamodb", hook)
    try:
        fleet.roll_up()
    finally:
        aws.dynamodb().meta.events.unregister("provide-client-params.dynamodb", hook)
    assert_exact(fleet)
    states = service.lane_states()
    assert all("journal" not in state for state in states.values())


def test_a_journal_applied_twice_and_a_bucket_announced_twice_change_nothing(fleet):
    ingest_everything(fleet)
    fleet.roll_up()
    before = figures(aggregate_items())
    for lane, state in service.lane_states().items():
        seq = int(state["seq"])
        journal.apply(lane, seq, journal.read_pages(lane, seq))   # a redelivered unit: its guards refuse it
    a1 = fleet.devices["a1"]
    lanes.announce_records({(a1["organization_id"], a1["id"], reference.hour_of(reference.iso(fleet.clock.ago(
        minutes=9))), "app_session")})                           # a re-sent batch's announcement
    assert fleet.api.post(ROLLUPS).status_code == 200
    assert figures(aggregate_items()) == before


def test_the_request_waits_for_a_lane_another_consumer_holds_and_answers_202_meanwhile(fleet, monkeypatch):
    ingest_everything(fleet)
    sqs, url = aws.client("sqs"), lanes.queue_url()
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600,
                               AttributeNames=["All"])["Messages"]     # another consumer is working on this lane
    lane = lanes.lane_of_group(held[0]["Attributes"]["MessageGroupId"])
    monkeypatch.setattr(service, "REQUEST_BUDGET_SECONDS", 3)
    answer = fleet.api.post(ROLLUPS)
    assert answer.status_code == 202 and int(answer.headers["Retry-After"]) > 0
    assert answer.json_body["caught_up"] is False and answer.json_body["lanes_behind"] == [lane]
    # The other consumer finishes; the repeat finds the rest.
    assert worker.handle_batch(sqs_event(held, "arn"), deadline=None)["batchItemFailures"] == []
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held[0]["ReceiptHandle"])
    again = fleet.api.post(ROLLUPS)
    assert again.status_code == 200 and again.json_body["caught_up"] is True
    assert_exact(fleet)


def test_a_backlog_larger_than_one_request_drains_over_repeats(fleet, monkeypatch):
    for _ in range(8):     # many announcements: more messages than one batch of the queue
        ingest_everything(fleet)
    monkeypatch.setattr(unit, "UNIT_ENTRIES", 1)           # one pending item a unit
    monkeypatch.setattr(service, "REQUEST_BUDGET_SECONDS", 0)   # each request handles one batch
    answers = []
    for _ in range(60):
        answers.append(fleet.api.post(ROLLUPS))
        if answers[-1].status_code == 200:
            break
    assert [a.status_code for a in answers[:-1]] and {a.status_code for a in answers[:-1]} == {202}
    assert answers[-1].status_code == 200
    assert_exact(fleet)


def test_what_a_lane_is_told_at_once_is_kept_in_pieces_in_order_and_aggregated_whole(fleet, monkeypatch):
    ingest_everything(fleet)
    monkeypatch.setattr(pending, "ITEM_ENTRIES", 2)     # stands for 1,000 entries or 200 KB
    pieces = []

    def seen(params, model, **_):
        if model.name == "BatchWriteItem":
            pieces.extend(request["PutRequest"]["Item"] for requests in params["RequestItems"].values()
                          for request in requests
                          if request.get("PutRequest", {}).get("Item", {}).get("entity") == "PendingWork")
    aws.dynamodb().meta.events.register("provide-client-params.dynamodb", seen)
    try:
        fleet.roll_up()
    finally:
        aws.dynamodb().meta.events.unregister("provide-client-params.dynamodb", seen)
    told = {piece["SK"].rsplit("#", 1)[0] for piece in pieces}
    assert len(pieces) > len(told)    # a lane's message batch in several items, numbered in order
    assert all(sum(len(values) for values in json.loads(piece["work"]).values()) <= 2 for piece in pieces)
    assert_exact(fleet)


def test_the_schedule_and_the_queue_worker_roll_up_as_the_request_does(fleet, client):
    ingest_everything(fleet)
    fleet.clock.advance(seconds=61)
    client.lambda_.invoke("roll_up_telemetry", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    sqs, url = aws.client("sqs"), lanes.queue_url()
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []):
        answer = client.lambda_.invoke("aggregate_telemetry", sqs_event(received, arn)).payload
        assert answer == {"batchItemFailures": []}
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(received)])
    assert_exact(fleet)
    assert fleet.summary().json_body["summary"]["last_updated"] == reference.iso(fleet.clock.now)


def test_a_lane_whose_unit_fails_reports_its_messages_and_no_other_lanes(fleet, monkeypatch):
    ingest_everything(fleet)
    lanes.send_ticks(reference.iso(fleet.clock.now), "t-1")
    sqs, url = aws.client("sqs"), lanes.queue_url()
    # The inboxes take what they were told and pass their ticks on to the lanes' compute groups; those are kept.
    ticks = []
    while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []):
        told = [m for m in received if lanes.is_inbox(m["Attributes"]["MessageGroupId"])]
        ticks += [m for m in received if m not in told]
        assert worker.handle_batch(sqs_event(told, "arn"), deadline=None)["batchItemFailures"] == []
        for message in told:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(ticks) == lanes.lane_count()
    failing = lanes.lane_of_group(ticks[0]["Attributes"]["MessageGroupId"])
    original = unit.run_tick

    def broken(lane, *args, **kwargs):
        if lane == failing:
            raise RuntimeError("a unit that cannot finish")
        return original(lane, *args, **kwargs)
    monkeypatch.setattr(unit, "run_tick", broken)
    answer = worker.handle_batch(sqs_event(ticks, "arn"), deadline=None)
    assert {f["itemIdentifier"] for f in answer["batchItemFailures"]} == {ticks[0]["MessageId"]}


def test_a_tick_takes_what_its_lane_was_told_before_it_and_ends_while_more_arrives(fleet):
    sqs, url = aws.client("sqs"), lanes.queue_url()

    def handle(inboxes: bool) -> None:
        """Every message of the inboxes (or of the compute groups) now in the queue."""
        kept = []
        while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                "Messages", []):
            mine = [m for m in received if lanes.is_inbox(m["Attributes"]["MessageGroupId"]) == inboxes]
            kept += [m for m in received if m not in mine]
            assert worker.handle_batch(sqs_event(mine, "arn"), deadline=None)["batchItemFailures"] == []
            for message in mine:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        for message in kept:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    a1 = fleet.devices["a1"]
    fleet.ingest("usage", [usage(a1, fleet.clock.ago(minutes=5), 100, 1)])
    at = reference.iso(fleet.clock.now)
    lanes.send_ticks(at, "t-1")
    handle(inboxes=True)                         # the tick is passed on
    fleet.clock.advance(seconds=60)
    fleet.ingest("usage", [usage(a1, fleet.clock.ago(hours=2), 7, 0)])   # another hour: another bucket
    handle(inboxes=True)                         # told after the tick was passed
    handle(inboxes=False)                        # the tick's units
    assert service.lane_states()[lanes.lane_of(a1["id"])]["computed_at"] == at

    def sent() -> int:
        answer = _analytics(fleet, f"/analytics/data-usage/{a1['physical_id']}", _reader(fleet))
        return sum(int(v) for v in answer.json_body["content"][0]["mobileOriginated"].values())
    assert sent() == 100
    fleet.roll_up()
    assert sent() == 107


def test_the_first_runs_read_the_fleet_a_page_a_pass_and_then_follow_the_audit_trail(fleet, monkeypatch):
    from chalicelib.rollups import devices

    monkeypatch.setattr(devices, "BOOTSTRAP_PAGE", 3)          # stands for 100,000 devices a pass
    counted = []
    for _ in range(3):
        fleet.roll_up()
        counted.append(fleet.summary().json_body["summary"]["total_devices"])
    assert counted == [3, len(fleet.devices), len(fleet.devices)]
    ingest_everything(fleet)
    fleet.roll_up()
    assert_exact(fleet)


def test_running_the_rollups_needs_a_platform_admin(fleet, refused):
    refused(fleet.api.post(ROLLUPS, token=fleet.tokens["acme"]), 403, "PERMISSION_DENIED")
    refused(fleet.api.post(ROLLUPS, token=None), 401, "MISSING_TOKEN")
    refused(fleet.api.post(ROLLUPS, token=fleet.tokens["acme_admin"]), 403, "PLATFORM_ONLY")   # fleet-wide work
    answer = fleet.api.post(ROLLUPS, token=fleet.api.token(None, ("admin",)))
    assert answer.status_code == 200 and answer.json_body["caught_up"] is True
    first = fleet.api.post(ROLLUPS, headers={"Idempotency-Key": "backfill-1"})
    again = fleet.api.post(ROLLUPS, headers={"Idempotency-Key": "backfill-1"})
    assert again.json_body == first.json_body


def test_a_worker_batch_records_what_it_read_wrote_and_took(fleet, monkeypatch):
    recorded = {}
    monkeypatch.setattr(observability.metrics, "add_metric",
                        lambda name, unit, value, **_: recorded.setdefault(name, []).append((unit, value)))
    ingest_everything(fleet)
    fleet.roll_up()
    assert sum(value for _, value in recorded["RollupRecordsRead"]) == fleet.last_report["records_read"] == 8
    # The request's own report also counts its audit pass (the worker's batches are its units).
    assert 0 < sum(value for _, value in recorded["RollupItemsWritten"]) <= fleet.last_report["items_written"]
    assert sum(value for _, value in recorded["RollupUnits"]) == fleet.last_report["units"] > 0
    assert {unit_name for unit_name, _ in recorded["RollupDuration"]} == {"Milliseconds"}


def test_make_runs_workers_fire_the_schedule_at_start_and_consume_the_queue(fleet):
    from local.workers import LaneWorker, ScheduleRunner

    ingest_everything(fleet)
    fleet.clock.advance(seconds=61)
    assert "roll_up_telemetry" in ScheduleRunner(app).run_due(now=0)   # next_run starts at 0: at once
    consumer = LaneWorker(app)
    while consumer.poll_once(wait_seconds=0):
        pass
    body = fleet.summary("?time_range=7d").json_body
    assert body["summary"]["last_updated"] is not None and body["summary"]["active_devices"] == 3
    assert json.loads(json.dumps(body))["count"] == 4
