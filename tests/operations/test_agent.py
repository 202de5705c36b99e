"""The operations agent (API.md §3): fed from the real moto queue, talking to the simulated CWMP device."""
import json
from datetime import timedelta

from chalice.local import LambdaContext

from app import app
from chalicelib import clock
from chalicelib.operations import db as operations_db
from chalicelib.operations import queue, sweep
from chalicelib.store import schema
from local.workers import sqs_event as received_event
from tests.operations.conftest import (
    DRIVER_TIMEOUT_SECONDS,
    SLOW_DEVICE_MS,
    Delivery,
    backdate,
    queue_arn,
    queue_depth,
    redeliver_at_once,
    send_raw,
    sqs,
    sqs_event,
    visible_messages,
    wait_for_state,
)

FINISHED_BY_AGENT = {"token_id": None, "name": "system"}


def message_of(device_id: int, operation_id: int) -> dict:
    return {"device_id": device_id, "operation_id": operation_id}


# --- outcomes --------------------------------------------------------------------------------------------

def test_success_finishes_each_operation_and_the_device_follows(fleet, agent):
    device = fleet.device(software_version="2.0.0")
    image = fleet.firmware("2.5.0")
    fleet.request(device["id"], {"factory": True, "firmware_image": image["id"], "firmware_image_is_pending": True,
                                 "reconf": True, "sync": True, "debug": True, "reboot": True})

    [delivery] = agent.drain()

    assert delivery.failed == set() and len(delivery.messages) == 6
    operations = list(reversed(fleet.operations(device["id"])))
    assert [(o["operation"], o["state"], o["attempts"], o["error"]) for o in operations] == [
        (name, "succeeded", 1, None) for name in ("factory", "firmware_update", "reconf", "sync", "debug", "reboot")]
    finished = {o["operation"]: o["finished"] for o in operations}
    assert list(finished.values()) == sorted(finished.values())   # one device's operations run in order
    assert all(o["finished"] == o["updated"] for o in operations)
    stored = fleet.read(device["id"])
    assert stored["pending_settings"] is None
    assert (stored["firmware_image"], stored["software_version"], stored["firmware_image_is_pending"]) == (
        image["id"], "2.5.0", False)
    assert stored["last_configuration"] == finished["sync"]
    assert stored["debug"] is True
    assert stored["last_connection"] == finished["reboot"]
    audit = {e["changes"]["operation"]["new"]: e for e in fleet.audit(device["id"], "operation_finished")}
    assert set(audit) == set(finished)
    assert all(e["actor"] == FINISHED_BY_AGENT for e in audit.values())
    firmware = audit["firmware_update"]["changes"]
    assert firmware["state"] == {"old": "dispatched", "new": "succeeded"}
    assert firmware["software_version"] == {"old": "2.0.0", "new": "2.5.0"}
    assert firmware["firmware_image_is_pending"] == {"old": True, "new": False}
    assert audit["debug"]["changes"]["debug"] == {"old": False, "new": True}
    assert queue_depth() == 0


def test_device_fault_fails_the_operation_with_its_cwmp_code(fleet, agent):
    device = fleet.device(software_version="2.0.0")
    image = fleet.firmware("2.5.0")
    fleet.behave(device["id"], fail=["sync", "firmware_update"])
    fleet.request(device["id"], {"firmware_image": image["id"], "firmware_image_is_pending": True, "sync": True})

    [delivery] = agent.drain()

    assert delivery.failed == set()   # final: the messages are acknowledged, never retried
    firmware, sync = fleet.operation(device["id"], 1), fleet.operation(device["id"], 2)
    assert (firmware["state"], firmware["attempts"], firmware["error"]) == (
        "failed", 1, {"code": "9010", "message": "Download failure", "attempt": 1})
    assert (sync["state"], sync["attempts"], sync["error"]) == (
        "failed", 1, {"code": "9005", "message": "Invalid parameter name", "attempt": 1})
    stored = fleet.read(device["id"])
    assert stored["pending_settings"] is None
    assert (stored["software_version"], stored["firmware_image_is_pending"]) == ("2.0.0", False)
    assert stored["last_configuration"] is None and stored["last_connection"] is None
    assert [e["changes"]["state"] for e in fleet.audit(device["id"], "operation_finished")] == [
        {"old": "dispatched", "new": "failed"}] * 2
    assert queue_depth() == 0


def test_duplicate_delivery_runs_the_operation_once(fleet, agent):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True})
    message = message_of(device["id"], 1)

    # The same message twice in one batch, then once more in another invocation (at-least-once delivery).
    first = agent.invoke(sqs_event([message, message]))
    done = fleet.operation(device["id"], 1)
    second = agent.invoke(sqs_event([message], receive_count=2))

    assert first == second == {"batchItemFailures": []}
    assert fleet.operation(device["id"], 1) == done
    assert (done["state"], done["attempts"]) == ("succeeded", 1)
    assert len(fleet.audit(device["id"], "operation_finished")) == 1
    assert fleet.read(device["id"])["last_connection"] == done["finished"]


def test_unreachable_device_is_retried_with_backoff_then_failed(fleet, agent):
    device = fleet.device()
    fleet.behave(device["id"], online=False)
    fleet.request(device["id"], {"sync": True})

    for attempt in (1, 2):
        delivery = agent.deliver()
        assert delivery.failed == {delivery.messages[0]["MessageId"]}
        operation = fleet.operation(device["id"], 1)
        assert (operation["state"], operation["attempts"], operation["finished"]) == ("queued", attempt, None)
        assert operation["error"]["code"] == "CONNECTION_REQUEST_FAILED"
        assert operation["error"]["attempt"] == attempt
        assert fleet.read(device["id"])["pending_settings"] == "sync:queued"
        # The backoff: the message stays in the queue, out of sight, instead of coming straight back.
        assert (queue_depth(), visible_messages()) == (1, 0)
        assert agent.deliver().messages == []
        agent.backoff_passed(delivery)

    last = agent.deliver()

    assert last.failed == set()
    operation = fleet.operation(device["id"], 1)
    assert (operation["state"], operation["attempts"], operation["error"]["code"], operation["error"]["attempt"]) == (
        "failed", 3, "CONNECTION_REQUEST_FAILED", 3)
    assert fleet.read(device["id"])["pending_settings"] is None
    [finished] = fleet.audit(device["id"], "operation_finished")
    assert finished["changes"]["state"] == {"old": "dispatched", "new": "failed"}
    assert queue_depth() == 0


def test_unreachable_device_that_comes_back_gets_the_operation_on_retry(fleet, agent):
    device = fleet.device()
    fleet.behave(device["id"], online=False)
    fleet.request(device["id"], {"reconf": True})
    delivery = agent.deliver()
    fleet.behave(device["id"], online=True)
    agent.backoff_passed(delivery)

    assert agent.deliver().failed == set()

    operation = fleet.operation(device["id"], 1)
    assert (operation["state"], operation["attempts"], operation["error"]) == ("succeeded", 2, None)
    assert fleet.read(device["id"])["last_configuration"] == operation["finished"]


def test_operation_on_its_messages_last_receive_is_concluded_rather_than_left_to_the_dead_letter_queue(
        fleet, agent, subtests):
    # GIVEN messages the queue has handed out before without the agent seeing them (a device's earlier
    # operation kept failing, so these were handed back unattempted)
    redeliver_at_once()
    slow = int(DRIVER_TIMEOUT_SECONDS * 1000) + 200
    cases = [({"online": False}, queue.MAX_RECEIVES - 1, "queued", "CONNECTION_REQUEST_FAILED"),
             ({"online": False}, queue.MAX_RECEIVES, "failed", "CONNECTION_REQUEST_FAILED"),
             ({"latency_ms": slow}, queue.MAX_RECEIVES - 1, "queued", "TIMEOUT"),
             ({"latency_ms": slow}, queue.MAX_RECEIVES, "timed_out", "TIMEOUT")]
    for behaviour, receives, state, code in cases:
        with subtests.test(behaviour=behaviour, receives=receives):
            device = fleet.device()
            fleet.behave(device["id"], **behaviour)
            fleet.request(device["id"], {"sync": True})
            for _ in range(receives - 1):
                assert sqs().receive_message(QueueUrl=queue.queue_url()).get("Messages")

            delivery = agent.deliver()

            assert delivery.messages[0]["Attributes"]["ApproximateReceiveCount"] == str(receives)
            operation = fleet.operation(device["id"], 1)
            assert (operation["state"], operation["attempts"], operation["error"]["code"]) == (state, 1, code)
            assert bool(delivery.failed) == (state == "queued")
            for message in delivery.messages:   # out of the next case's way
                sqs().delete_message(QueueUrl=queue.queue_url(), ReceiptHandle=message["ReceiptHandle"])


def test_reset_without_an_answer_in_time_is_timed_out_and_never_resent(fleet, agent):
    rebooted, synced = fleet.device(), fleet.device()
    for device in (rebooted, synced):
        fleet.behave(device["id"], latency_ms=int(DRIVER_TIMEOUT_SECONDS * 1000) + 200)
    fleet.request(rebooted["id"], {"reboot": True})
    fleet.request(synced["id"], {"sync": True})

    delivery = agent.deliver()

    # The reboot may have reached the device: final. A sync is harmless to repeat: retried.
    assert delivery.failed_bodies() == [message_of(synced["id"], 1)]
    reboot = fleet.operation(rebooted["id"], 1)
    assert (reboot["state"], reboot["attempts"], reboot["error"]["code"], reboot["error"]["attempt"]) == (
        "timed_out", 1, "TIMEOUT", 1)
    assert fleet.read(rebooted["id"])["pending_settings"] is None
    sync = fleet.operation(synced["id"], 1)
    assert (sync["state"], sync["attempts"], sync["error"]["code"]) == ("queued", 1, "TIMEOUT")
    assert queue_depth() == 1


def test_destructive_operation_found_dispatched_on_redelivery_fails_and_is_not_sent_twice(
        fleet, agent, patient_driver):
    # GIVEN a factory reset the agent is carrying out on a slow device
    device = fleet.device()
    fleet.behave(device["id"], latency_ms=SLOW_DEVICE_MS)
    redeliver_at_once()
    fleet.request(device["id"], {"factory": True})
    working = agent.in_background()
    wait_for_state(fleet, device["id"], 1, "dispatched")

    # WHEN its message comes back meanwhile (its visibility ran out: the queue thinks the agent died)
    again = agent.deliver()

    # THEN the redelivery fails the reset as uncertain instead of resetting the device a second time
    assert again.failed == set()
    assert again.messages[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    operation = fleet.operation(device["id"], 1)
    assert (operation["state"], operation["attempts"], operation["error"]["code"], operation["error"]["attempt"]) == (
        "failed", 1, "UNCERTAIN_OUTCOME", 1)
    assert fleet.read(device["id"])["pending_settings"] is None
    # and the first delivery, when the device answers, finds the operation concluded and leaves it so.
    assert working.join().failed == set()
    assert fleet.operation(device["id"], 1) == operation
    assert len(fleet.audit(device["id"], "operation_finished")) == 1
    assert fleet.read(device["id"])["last_connection"] is None
    assert queue_depth() == 0


# --- batches ---------------------------------------------------------------------------------------------

def test_partial_batch_reports_only_the_failing_devices_message(fleet, agent):
    offline, online = fleet.device(), fleet.device()
    fleet.behave(offline["id"], online=False)
    fleet.request(offline["id"], {"sync": True})
    fleet.request(online["id"], {"sync": True})

    delivery = agent.deliver()

    assert len(delivery.messages) == 2
    assert delivery.failed_bodies() == [message_of(offline["id"], 1)]
    assert fleet.operation(online["id"], 1)["state"] == "succeeded"
    assert fleet.operation(offline["id"], 1)["state"] == "queued"
    assert queue_depth() == 1


def test_device_s_later_operations_wait_for_its_first_to_finish(fleet, agent):
    # GIVEN one device's sync and reboot in one batch, and a device that does not answer at first
    device = fleet.device()
    fleet.behave(device["id"], online=False)
    fleet.request(device["id"], {"sync": True, "reboot": True})

    delivery = agent.deliver()

    # THEN the sync fails transiently and the reboot, behind it in the device's group, is not attempted
    assert delivery.failed_bodies() == [message_of(device["id"], 1), message_of(device["id"], 2)]
    sync, reboot = fleet.operation(device["id"], 1), fleet.operation(device["id"], 2)
    assert (sync["state"], sync["attempts"]) == ("queued", 1)
    assert (reboot["state"], reboot["attempts"], reboot["error"]) == ("queued", 0, None)
    # and while the sync waits out its backoff, the reboot does not overtake it.
    assert agent.deliver().messages == []

    # WHEN the device answers again, both run: the sync first
    fleet.behave(device["id"], online=True)
    agent.backoff_passed(delivery)
    assert agent.deliver().failed == set()
    sync, reboot = fleet.operation(device["id"], 1), fleet.operation(device["id"], 2)
    assert (sync["state"], reboot["state"], reboot["attempts"]) == ("succeeded", "succeeded", 1)
    assert sync["finished"] <= reboot["finished"]
    assert [e["changes"]["operation"]["new"] for e in reversed(fleet.audit(device["id"], "operation_finished"))] == [
        "sync", "reboot"]


def test_device_s_later_messages_come_back_with_its_first_when_its_backoff_ends(fleet, agent):
    device = fleet.device()
    fleet.behave(device["id"], online=False)
    fleet.request(device["id"], {"sync": True, "reboot": True})
    delivery = agent.deliver()
    sync, reboot = delivery.messages
    fleet.behave(device["id"], online=True)

    # Only the failed sync was given a backoff; when it ends, the device's group is free again (SQS returns
    # no message of a FIFO group while another of the group is in flight), so both come back, in order.
    agent.backoff_passed(Delivery(messages=[sync], failed={sync["MessageId"]}))
    again = agent.deliver()

    assert [m["MessageId"] for m in again.messages] == [sync["MessageId"], reboot["MessageId"]]
    assert again.failed == set()
    assert [o["state"] for o in fleet.operations(device["id"])] == ["succeeded", "succeeded"]


def test_unreadable_messages_are_reported_failed_without_stopping_the_batch(fleet, agent):
    device, idle = fleet.device(), fleet.device()
    fleet.request(device["id"], {"sync": True})
    unreadable = {send_raw("garbage"), send_raw(json.dumps({"hello": "world"}), group="stray-2"),
                  send_raw(json.dumps(message_of(idle["id"], 7)), group=f"device-{idle['id']}")}
    # A message naming a device that no longer exists (deleted with its operations) is simply done.
    gone = send_raw(json.dumps(message_of(999, 1)), group="device-999")

    delivery = agent.deliver()

    assert len(delivery.messages) == 5
    assert delivery.failed == unreadable
    assert gone not in delivery.failed
    assert fleet.operation(device["id"], 1)["state"] == "succeeded"


# --- deadlines -------------------------------------------------------------------------------------------

def test_sweep_times_out_operations_past_their_deadline(fleet, agent):
    device, updating = fleet.device(), fleet.device()
    image = fleet.firmware()
    fleet.request(device["id"], {"sync": True, "reboot": True})
    fleet.request(updating["id"], {"firmware_image": image["id"], "firmware_image_is_pending": True})
    now = clock.now()

    assert sweep.run(now=now).timed_out == 0
    assert sweep.run(now=now + timedelta(minutes=16)).timed_out == 2

    for operation in fleet.operations(device["id"]):
        assert (operation["state"], operation["attempts"]) == ("timed_out", 0)
        assert operation["error"] | {"message": None} == {"code": "DEADLINE_EXCEEDED", "message": None,
                                                          "attempt": 0}
        assert operation["finished"] is not None
    assert fleet.read(device["id"])["pending_settings"] is None
    # A firmware update has an hour.
    assert fleet.operation(updating["id"], 1)["state"] == "queued"
    assert sweep.run(now=now + timedelta(minutes=61)).timed_out == 1
    assert fleet.operation(updating["id"], 1)["error"]["code"] == "DEADLINE_EXCEEDED"
    stored = fleet.read(updating["id"])
    assert (stored["pending_settings"], stored["firmware_image_is_pending"]) == (None, False)
    assert len(fleet.audit(device["id"], "operation_finished")) == 2
    # Their messages, delivered late, change nothing.
    [delivery] = agent.drain()
    assert len(delivery.messages) == 3 and delivery.failed == set()
    assert {o["state"] for o in fleet.operations(device["id"]) + fleet.operations(updating["id"])} == {"timed_out"}


def test_scheduled_sweep_times_out_an_overdue_operation(fleet, client):
    device = fleet.device()
    fleet.request(device["id"], {"reconf": True, "reboot": True})
    backdate(device["id"], 1, minutes=20)

    client.lambda_.invoke("sweep_overdue_operations", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))

    assert fleet.operation(device["id"], 1)["state"] == "timed_out"
    assert fleet.operation(device["id"], 2)["state"] == "queued"
    assert fleet.read(device["id"])["pending_settings"] == "reboot:queued"


def test_agent_times_out_an_operation_it_receives_after_its_deadline(fleet, agent):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True})
    backdate(device["id"], 1, minutes=16)

    assert agent.deliver().failed == set()

    operation = fleet.operation(device["id"], 1)
    assert (operation["state"], operation["attempts"], operation["error"]["code"]) == (
        "timed_out", 0, "DEADLINE_EXCEEDED")
    assert fleet.read(device["id"])["last_configuration"] is None   # never sent to the device
    assert queue_depth() == 0



def test_sweep_reads_every_shard_and_pages_through_all_overdue_operations(fleet, monkeypatch):
    # GIVEN more overdue operations than one page holds, in every shard (pages of one entry, to see the paging)
    monkeypatch.setattr(operations_db, "PAGE_SIZE", 1)
    devices = [fleet.device() for _ in range(schema.OPERATION_SHARDS + 3)]
    for device in devices:
        fleet.request(device["id"], {"sync": True, "reconf": True})

    swept = sweep.run(now=clock.now() + timedelta(minutes=16))

    assert swept.timed_out == 2 * len(devices)
    assert {o["state"] for d in devices for o in fleet.operations(d["id"])} == {"timed_out"}


class ShortOfTime(LambdaContext):
    """A Lambda context whose remaining time is scripted: plenty for the first message, then too little."""

    def __init__(self, remaining_ms: list[int]):
        super().__init__("operations_agent_handler", 256, 30_000)
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms.pop(0) if len(self.remaining_ms) > 1 else self.remaining_ms[0]


def test_agent_hands_back_the_messages_it_has_no_time_to_finish(fleet):
    device, other = fleet.device(), fleet.device()
    fleet.request(device["id"], {"sync": True, "reconf": True, "reboot": True})
    fleet.request(other["id"], {"reboot": True})
    received = sqs().receive_message(QueueUrl=queue.queue_url(), MaxNumberOfMessages=10,
                                     AttributeNames=["All"])["Messages"]
    assert len(received) == 4

    # WHEN the Lambda has time for one message only
    answer = app.handler_map["operations_agent_handler"](received_event(received, queue_arn()),
                                                         ShortOfTime([60_000, 1_000]))

    # THEN the first was carried out, and the others were handed back untouched, visible again at once
    handed_back = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
    assert handed_back == {m["MessageId"] for m in received[1:]}
    assert [(o["state"], o["attempts"]) for o in reversed(fleet.operations(device["id"]))] == [
        ("succeeded", 1), ("queued", 0), ("queued", 0)]
    assert (fleet.operation(other["id"], 1)["state"], fleet.operation(other["id"], 1)["attempts"]) == ("queued", 0)
    assert visible_messages() == 3
