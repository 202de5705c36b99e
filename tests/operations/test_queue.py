"""The operations queue (docs/operations.md): its declaration, the messages the API sends, the dead-letter queue."""
import json
from pathlib import Path

from app import app
from chalicelib.operations import queue
from local.workers import QueueWorker
from tests.operations.conftest import (
    dead_letter_url,
    queue_arn,
    queue_depth,
    redeliver_at_once,
    send_raw,
    sqs,
)

ROOT = Path(__file__).resolve().parents[2]


def attributes(url: str) -> dict:
    return sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_provisioned_queue_is_fifo_with_its_dead_letter_queue(client):
    declared, dead_letter = attributes(queue.queue_url()), attributes(dead_letter_url())

    assert declared["FifoQueue"] == "true" and declared["ContentBasedDeduplication"] == "false"
    assert json.loads(declared["RedrivePolicy"]) == {"deadLetterTargetArn": queue_arn(dead_letter_url()),
                                                     "maxReceiveCount": queue.MAX_RECEIVES}
    assert declared["VisibilityTimeout"] == str(queue.VISIBILITY_TIMEOUT_SECONDS)
    expected = queue.queue_attributes(queue_arn(dead_letter_url()))
    assert {k: declared[k] for k in expected if k != "RedrivePolicy"} == {
        k: v for k, v in expected.items() if k != "RedrivePolicy"}
    assert dead_letter["FifoQueue"] == "true"
    assert {k: dead_letter[k] for k in queue.dead_letter_attributes()} == queue.dead_letter_attributes()
    assert dead_letter_url().endswith(queue.dead_letter_queue_name(queue.queue_url().rsplit("/", 1)[1]))


def test_each_operation_is_one_message_naming_it_in_its_devices_group(fleet):
    first, second = fleet.device(), fleet.device()
    fleet.request(first["id"], {"sync": True, "reboot": True})
    fleet.request(second["id"], {"reconf": True})

    received = sqs().receive_message(QueueUrl=queue.queue_url(), MaxNumberOfMessages=10, VisibilityTimeout=0,
                                     AttributeNames=["All"])["Messages"]

    assert [(json.loads(m["Body"]), m["Attributes"]["MessageGroupId"], m["Attributes"]["MessageDeduplicationId"])
            for m in received] == [
        ({"device_id": first["id"], "operation_id": 1}, f"device-{first['id']}", f"op-{first['id']}-1"),
        ({"device_id": first["id"], "operation_id": 2}, f"device-{first['id']}", f"op-{first['id']}-2"),
        ({"device_id": second["id"], "operation_id": 1}, f"device-{second['id']}", f"op-{second['id']}-1")]
    assert all(m.get("MessageAttributes") is None for m in received)


def test_operation_sent_again_within_five_minutes_is_one_message(fleet):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True})

    assert queue.send_operations([(device["id"], 1)]) == []

    assert queue_depth() == 1


def test_queue_is_in_high_throughput_mode_and_the_agent_timeout_is_explicit(client):
    declared = attributes(queue.queue_url())

    assert (declared["DeduplicationScope"], declared["FifoThroughputLimit"]) == ("messageGroup", "perMessageGroupId")
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in config["stages"].values():
        assert stage["lambda_functions"]["operations_agent_handler"]["lambda_timeout"] == queue.AGENT_TIMEOUT_SECONDS
    assert queue.VISIBILITY_TIMEOUT_SECONDS == 6 * queue.AGENT_TIMEOUT_SECONDS


def test_a_patch_with_several_operations_sends_them_in_one_batch(fleet, monkeypatch):
    device = fleet.device()
    calls = []
    sqs().meta.events.register("before-call.sqs", lambda model, **_: calls.append(model.name))

    fleet.request(device["id"], {"sync": True, "reconf": True, "reboot": True})

    assert calls.count("SendMessageBatch") == 1 and "SendMessage" not in calls
    assert queue_depth() == 3


def test_unreadable_messages_land_in_the_dead_letter_queue_after_the_last_receive(fleet):
    # GIVEN messages the agent cannot act on, beside a good one, and a queue that hands failures back at once
    device, idle = fleet.device(), fleet.device()
    redeliver_at_once()
    unreadable = {"garbage", json.dumps({"device_id": idle["id"], "operation_id": 7})}
    for body in unreadable:
        send_raw(body, group=f"stray-{len(body)}")
    fleet.request(device["id"], {"sync": True})
    worker = QueueWorker(app)

    # WHEN the agent has been handed them MAX_RECEIVES times
    assert worker.poll_once(wait_seconds=0) == 3
    for _ in range(queue.MAX_RECEIVES - 1):
        assert worker.poll_once(wait_seconds=0) == 2

    # THEN the next receive moves them to the dead-letter queue, and the good one was done at the first
    assert worker.poll_once(wait_seconds=0) == 0
    assert queue_depth() == 0
    dead = sqs().receive_message(QueueUrl=dead_letter_url(), MaxNumberOfMessages=10,
                                 AttributeNames=["All"])["Messages"]
    assert {m["Body"] for m in dead} == unreadable
    assert fleet.operation(device["id"], 1)["state"] == "succeeded"
