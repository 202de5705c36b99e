"""Requesting, reading and cancelling remote operations over HTTP (API.md §2 "Remote operations", §3)."""
from datetime import timedelta

from chalicelib import clock
from chalicelib.config import get_settings
from chalicelib.operations import queue, sweep
from tests.devices.support import follow, stored_count
from tests.operations.conftest import (
    SLOW_DEVICE_MS,
    Fleet,
    dead_letter_url,
    queue_arn,
    queue_depth,
    sqs,
    wait_for_state,
)

OPERATION_FIELDS = {"id", "device_id", "operation", "parameters", "state", "attempts", "error", "requested_by",
                    "created", "updated", "finished", "bulk_operation_id"}


def snapshot(fleet: Fleet, device_id: int) -> dict:
    """What a refused request must leave as it was: the device, its operations and audit, the queue, the table."""
    response = fleet.api.get(f"/inventory_device/{device_id}/")
    return {"device": response.json_body, "etag": response.headers["ETag"], "operations": fleet.operations(device_id),
            "queued": queue_depth(), "items": stored_count()}   # the item count covers the audit trail too


PLATFORM = {"token_id": 1, "name": "platform"}   # the `api` fixture's token, the first one made


# --- requesting ------------------------------------------------------------------------------------------

FLAG_CASES = [
    ({"reboot": True}, "reboot", {}),
    ({"factory": True}, "factory", {}),
    ({"device_factory": True}, "device_factory", {}),
    ({"sync": True}, "sync", {}),
    ({"reconf": True}, "reconf", {}),
    ({"debug": True}, "debug", {"enabled": True}),
    ({"debug": False}, "debug", {"enabled": False}),
]


def test_each_flag_answers_at_once_with_its_operation_queued(fleet, subtests):
    for body, name, parameters in FLAG_CASES:
        with subtests.test(body=body):
            device = fleet.device()
            sent = queue_depth()

            answered = fleet.request(device["id"], body)

            assert answered["pending_settings"] == f"{name}:queued"
            [operation] = fleet.operations(device["id"])
            assert set(operation) == OPERATION_FIELDS
            assert operation | {"created": None, "updated": None} == {
                "id": 1, "device_id": device["id"], "operation": name, "parameters": parameters,
                "state": "queued", "attempts": 0, "error": None, "requested_by": PLATFORM,
                "created": None, "updated": None, "finished": None, "bulk_operation_id": None}
            assert operation["created"] == operation["updated"] and operation["created"].endswith("Z")
            assert fleet.operation(device["id"], 1) == operation
            assert queue_depth() == sent + 1
            [requested] = fleet.audit(device["id"], "operation_requested")
            assert requested["changes"] == {"operation": {"old": None, "new": name},
                                            "operation_id": {"old": None, "new": 1}}
            assert requested["actor"] == PLATFORM
            # The device's own fields wait for the operation to finish (debug included).
            assert answered["debug"] is False


def test_firmware_request_queues_an_update_to_that_image(fleet):
    device = fleet.device()
    image = fleet.firmware("2.5.0")

    answered = fleet.request(device["id"], {"firmware_image": image["id"], "firmware_image_is_pending": True})

    assert answered["pending_settings"] == "firmware_update:queued"
    assert answered["firmware_image"] == image["id"] and answered["firmware_image_is_pending"] is True
    [operation] = fleet.operations(device["id"])
    assert operation["operation"] == "firmware_update" and operation["state"] == "queued"
    assert operation["parameters"] == {"firmware_image": image["id"], "version": "2.5.0", "url": image["url"],
                                       "checksum": image["checksum"]}
    assert queue_depth() == 1
    assert [e["changes"]["operation"]["new"] for e in fleet.audit(device["id"], "operation_requested")] == [
        "firmware_update"]


def test_firmware_request_for_the_image_already_set(fleet):
    image = fleet.firmware("2.5.0")
    device = fleet.device(firmware_image=image["id"])

    answered = fleet.request(device["id"], {"firmware_image_is_pending": True})

    assert answered["pending_settings"] == "firmware_update:queued"
    assert fleet.operations(device["id"])[0]["parameters"]["firmware_image"] == image["id"]


def test_false_flags_queue_nothing(fleet):
    device = fleet.device()
    before = fleet.read(device["id"])

    answered = fleet.request(device["id"], {"reboot": False, "factory": False, "device_factory": False,
                                            "sync": False, "reconf": False, "firmware_image_is_pending": False})

    assert answered == before
    assert answered["pending_settings"] is None
    assert fleet.operations(device["id"]) == []
    assert queue_depth() == 0
    assert fleet.audit(device["id"], "operation_requested") == []


def test_flags_and_field_updates_in_one_patch_apply_both(fleet):
    device = fleet.device(name="edge-1")

    answered = fleet.request(device["id"], {"name": "edge-7", "description": "rack 4", "reboot": True, "sync": True})

    assert answered["name"] == "edge-7" and answered["description"] == "rack 4"
    assert answered["pending_settings"] == "sync:queued,reboot:queued"
    assert fleet.read(device["id"]) == answered
    [update] = fleet.audit(device["id"], "update")
    assert update["changes"] == {"name": {"old": "edge-1", "new": "edge-7"},
                                 "description": {"old": None, "new": "rack 4"}}
    assert len(fleet.audit(device["id"], "operation_requested")) == 2
    assert queue_depth() == 2


def test_operations_of_one_patch_are_queued_wipe_first_and_reboot_last(fleet):
    device = fleet.device()
    image = fleet.firmware()

    answered = fleet.request(device["id"], {"reboot": True, "debug": True, "sync": True, "reconf": True,
                                            "factory": True, "firmware_image": image["id"],
                                            "firmware_image_is_pending": True})

    assert answered["pending_settings"] == ("factory:queued,firmware_update:queued,reconf:queued,sync:queued,"
                                            "debug:queued,reboot:queued")
    assert [o["operation"] for o in reversed(fleet.operations(device["id"]))] == [
        "factory", "firmware_update", "reconf", "sync", "debug", "reboot"]
    assert queue_depth() == 6


def test_pending_filter_lists_only_devices_with_unfinished_operations_and_their_details(fleet):
    idle, busy = fleet.device(), fleet.device()
    fleet.request(busy["id"], {"sync": True})
    fleet.request(busy["id"], {"reboot": True})

    listed = fleet.api.get("/inventory_device/?pending=true")

    assert listed.status_code == 200, listed.body
    assert listed.json_body["count"] == 1
    [entry] = listed.json_body["results"]
    assert entry["id"] == busy["id"] and entry["pending_settings"] == "sync:queued,reboot:queued"
    created = [o["created"] for o in reversed(fleet.operations(busy["id"]))]
    assert entry["pending_details"] == [
        {"id": 1, "operation": "sync", "state": "queued", "created": created[0]},
        {"id": 2, "operation": "reboot", "state": "queued", "created": created[1]}]
    assert fleet.read(busy["id"], "?pending=true")["pending_details"] == entry["pending_details"]
    assert fleet.read(idle["id"], "?pending=true")["pending_details"] == []
    assert "pending_details" not in fleet.read(busy["id"])


def test_operations_list_is_newest_first_and_paginated(fleet):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True})
    fleet.request(device["id"], {"reconf": True})
    fleet.request(device["id"], {"reboot": True})

    first = fleet.api.get(f"/inventory_device/{device['id']}/operations/?limit=2")

    assert first.status_code == 200, first.body
    assert first.json_body["count"] == 3
    assert [(o["id"], o["operation"]) for o in first.json_body["results"]] == [(3, "reboot"), (2, "reconf")]
    assert first.json_body["previous"] is None
    second = follow(fleet.api, first.json_body["next"])
    assert second.status_code == 200, second.body
    assert [(o["id"], o["operation"]) for o in second.json_body["results"]] == [(1, "sync")]
    assert second.json_body["next"] is None
    by_offset = fleet.api.get(f"/inventory_device/{device['id']}/operations/?limit=2&offset=2")
    assert by_offset.json_body["results"] == second.json_body["results"]


def test_operation_the_queue_refuses_stays_queued_and_the_sweep_sends_it_once(fleet, agent):
    # GIVEN an operations queue that is gone (what SQS answers when it cannot take a message)
    device = fleet.device()
    dead_letter_arn = queue_arn(dead_letter_url())
    sqs().delete_queue(QueueUrl=queue.queue_url())

    # THEN the PATCH still succeeds: its write committed, and the operation is queued, not lost
    answered = fleet.request(device["id"], {"reboot": True})
    assert answered["pending_settings"] == "reboot:queued"
    assert fleet.operation(device["id"], 1)["state"] == "queued"

    # WHEN the queue is back and the sweep runs a minute later, twice (a second sweep within SQS's window)
    sqs().create_queue(QueueName=get_settings().operations_queue_name,
                       Attributes=queue.queue_attributes(dead_letter_arn))
    queue.forget_queue_urls()
    later = clock.now() + timedelta(seconds=61)
    assert sweep.run(now=later).resent == 1
    assert sweep.run(now=later + timedelta(minutes=2)).resent == 1   # the next due time, twice as far off
    assert sweep.run(now=later + timedelta(minutes=2)).resent == 0

    # THEN one message reaches the agent (the deduplication id), and the reboot runs once
    [delivery] = agent.drain()
    assert len(delivery.messages) == 1 and delivery.failed == set()
    operation = fleet.operation(device["id"], 1)
    assert (operation["state"], operation["attempts"]) == ("succeeded", 1)
    assert sweep.run(now=later + timedelta(minutes=10)).resent == 0   # picked up: out of the outbox
    assert queue_depth() == 0


def test_operation_the_agent_picked_up_is_never_sent_again(fleet, agent):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True})
    agent.drain()

    assert sweep.run(now=clock.now() + timedelta(minutes=3)).resent == 0
    assert queue_depth() == 0


# --- refused requests ------------------------------------------------------------------------------------

BAD_FLAGS = [
    ({"reboot_now": True}, 422, "VALIDATION_FAILED"),
    ({"reboot": "yes"}, 422, "VALIDATION_FAILED"),
    ({"reboot": 1}, 422, "VALIDATION_FAILED"),
    ({"reboot": None}, 422, "VALIDATION_FAILED"),
    ({"sync": "true"}, 422, "VALIDATION_FAILED"),
    ({"debug": "on"}, 422, "VALIDATION_FAILED"),
    ({"debug": None}, 422, "VALIDATION_FAILED"),
    ({"firmware_image_is_pending": 1}, 422, "VALIDATION_FAILED"),
    ({"reboot": True, "name": ""}, 422, "VALIDATION_FAILED"),
    ({"factory": True, "device_factory": True}, 400, "CONTRADICTORY_FLAGS"),
    ({"factory": True, "device_factory": True, "name": "renamed"}, 400, "CONTRADICTORY_FLAGS"),
]
FIRMWARE_PROBLEMS = [
    # No image on the device nor in the request.
    ({"firmware_image_is_pending": True}, "no image"),
    ({"firmware_image": 999, "firmware_image_is_pending": True}, "unknown image"),
    ({"firmware_image": "IMAGE_OF_OTHER_TYPE", "firmware_image_is_pending": True}, "image of another type"),
]


def test_bad_flags_are_refused_and_queue_and_write_nothing(fleet, refused, subtests):
    device = fleet.device()
    before = snapshot(fleet, device["id"])
    for body, status, code in BAD_FLAGS:
        with subtests.test(body=body):
            refused(fleet.patch(device["id"], body), status, code)
            assert snapshot(fleet, device["id"]) == before


def test_firmware_request_without_a_fitting_image_is_422_and_queues_nothing(fleet, refused, subtests):
    other_type = fleet.api.device_type()
    image = fleet.firmware(types=[other_type])
    device = fleet.device()
    before = snapshot(fleet, device["id"])
    for body, case in FIRMWARE_PROBLEMS:
        with subtests.test(case):
            if body.get("firmware_image") == "IMAGE_OF_OTHER_TYPE":
                body = body | {"firmware_image": image["id"]}
            error = refused(fleet.patch(device["id"], body), 422, "VALIDATION_FAILED")
            assert [d["field"] for d in error["details"]] == ["firmware_image"]
            assert snapshot(fleet, device["id"]) == before


def test_write_token_without_operate_is_403_for_a_flag_and_queues_nothing(fleet, refused):
    device = fleet.device()
    writer = fleet.api.token(fleet.organization, permissions=("devices:read", "devices:write"))
    before = snapshot(fleet, device["id"])

    for body in ({"reboot": True}, {"name": "renamed", "sync": True}, {"debug": False},
                 {"firmware_image_is_pending": True}):
        refused(fleet.patch(device["id"], body, token=writer), 403, "PERMISSION_DENIED")

    assert snapshot(fleet, device["id"]) == before
    # A false flag asks for nothing, so it needs no devices:operate.
    assert fleet.request(device["id"], {"reboot": False, "name": "renamed"}, token=writer)["name"] == "renamed"


def test_operate_token_without_write_may_request_operations_only(fleet, refused):
    device = fleet.device()
    operator = fleet.api.token(fleet.organization, permissions=("devices:read", "devices:operate"))

    assert fleet.request(device["id"], {"reboot": True}, token=operator)["pending_settings"] == "reboot:queued"
    [operation] = fleet.operations(device["id"])
    assert operation["requested_by"]["name"] != "platform"

    before = snapshot(fleet, device["id"])
    refused(fleet.patch(device["id"], {"name": "renamed"}, token=operator), 403, "PERMISSION_DENIED")
    refused(fleet.patch(device["id"], {"name": "renamed", "sync": True}, token=operator), 403, "PERMISSION_DENIED")
    assert snapshot(fleet, device["id"]) == before


def test_operate_token_without_write_may_request_a_firmware_update_to_a_chosen_image(fleet):
    device = fleet.device()
    image = fleet.firmware()
    operator = fleet.api.token(fleet.organization, permissions=("devices:read", "devices:operate"))

    answered = fleet.request(device["id"], {"firmware_image": image["id"], "firmware_image_is_pending": True},
                             token=operator)

    assert answered["pending_settings"] == "firmware_update:queued"


def test_flag_on_another_organizations_device_is_404_and_queues_nothing(fleet, refused):
    device = fleet.device()
    stranger = fleet.api.token(fleet.api.organization(), permissions=("devices:read", "devices:write",
                                                                        "devices:operate"))
    before = snapshot(fleet, device["id"])

    refused(fleet.patch(device["id"], {"reboot": True}, token=stranger), 404, "DEVICE_NOT_FOUND")

    assert snapshot(fleet, device["id"]) == before


# --- coalescing ------------------------------------------------------------------------------------------

def test_same_flag_while_queued_stands_as_one_operation(fleet):
    device = fleet.device()
    image = fleet.firmware()
    first = fleet.request(device["id"], {"reboot": True, "debug": True, "firmware_image": image["id"],
                                         "firmware_image_is_pending": True})

    again = fleet.request(device["id"], {"reboot": True, "debug": True, "firmware_image_is_pending": True})

    assert again["pending_settings"] == first["pending_settings"] == (
        "firmware_update:queued,debug:queued,reboot:queued")
    assert len(fleet.operations(device["id"])) == 3
    assert len(fleet.audit(device["id"], "operation_requested")) == 3
    assert queue_depth() == 3


def test_debug_with_another_value_while_queued_is_a_new_request(fleet):
    device = fleet.device()
    fleet.request(device["id"], {"debug": True})

    answered = fleet.request(device["id"], {"debug": False})

    assert answered["pending_settings"] == "debug:queued,debug:queued"
    assert [o["parameters"] for o in fleet.operations(device["id"])] == [{"enabled": False}, {"enabled": True}]
    assert queue_depth() == 2


def test_same_flag_while_dispatched_stands_as_one_operation(fleet, agent, patient_driver):
    device = fleet.device()
    fleet.behave(device["id"], latency_ms=SLOW_DEVICE_MS)
    fleet.request(device["id"], {"sync": True})
    working = agent.in_background()
    wait_for_state(fleet, device["id"], 1, "dispatched")

    again = fleet.request(device["id"], {"sync": True})

    assert again["pending_settings"] == "sync:dispatched"
    working.join()
    assert [(o["id"], o["state"]) for o in fleet.operations(device["id"])] == [(1, "succeeded")]
    assert queue_depth() == 0


# --- cancelling ------------------------------------------------------------------------------------------

def test_cancel_a_queued_operation(fleet, agent):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True, "reboot": True})

    response = fleet.api.delete(f"/inventory_device/{device['id']}/operations/2/")

    assert response.status_code == 200, response.body
    cancelled = response.json_body
    assert cancelled["state"] == "cancelled" and cancelled["error"] is None and cancelled["attempts"] == 0
    assert cancelled["finished"] == cancelled["updated"] is not None
    assert fleet.operation(device["id"], 2) == cancelled
    assert fleet.read(device["id"])["pending_settings"] == "sync:queued"
    [finished] = fleet.audit(device["id"], "operation_finished")
    assert finished["changes"]["state"] == {"old": "queued", "new": "cancelled"}
    assert finished["changes"]["operation_id"]["new"] == 2
    assert finished["actor"] == PLATFORM
    # The agent still receives the cancelled operation's message: it acknowledges it and does nothing.
    [delivery] = agent.drain()
    assert delivery.failed == set() and len(delivery.messages) == 2
    assert fleet.operation(device["id"], 2) == cancelled
    assert fleet.operation(device["id"], 1)["state"] == "succeeded"
    assert fleet.read(device["id"])["pending_settings"] is None
    assert queue_depth() == 0


def test_cancel_a_finished_operation_is_409(fleet, agent, refused):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True})
    agent.drain()
    before = snapshot(fleet, device["id"])

    refused(fleet.api.delete(f"/inventory_device/{device['id']}/operations/1/"), 409, "OPERATION_NOT_CANCELLABLE")

    assert snapshot(fleet, device["id"]) == before


def test_cancel_a_dispatched_operation_is_409(fleet, agent, refused, patient_driver):
    device = fleet.device()
    fleet.behave(device["id"], latency_ms=SLOW_DEVICE_MS)
    fleet.request(device["id"], {"reconf": True})
    working = agent.in_background()
    wait_for_state(fleet, device["id"], 1, "dispatched")

    refused(fleet.api.delete(f"/inventory_device/{device['id']}/operations/1/"), 409, "OPERATION_NOT_CANCELLABLE")

    working.join()
    assert fleet.operation(device["id"], 1)["state"] == "succeeded"


def test_unknown_invisible_or_unpermitted_cancel_is_refused_and_changes_nothing(fleet, refused, subtests):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True})
    stranger = fleet.api.token(fleet.api.organization(), permissions=("devices:read", "devices:write",
                                                                        "devices:operate"))
    writer = fleet.api.token(fleet.organization, permissions=("devices:read", "devices:write"))
    operations = f"/inventory_device/{device['id']}/operations/"
    before = snapshot(fleet, device["id"])
    cases = [
        ("unknown operation", lambda: fleet.api.delete(f"{operations}9/"), 404, "OPERATION_NOT_FOUND"),
        ("unknown operation read", lambda: fleet.api.get(f"{operations}9/"), 404, "OPERATION_NOT_FOUND"),
        ("unknown device", lambda: fleet.api.delete("/inventory_device/999/operations/1/"), 404, "DEVICE_NOT_FOUND"),
        ("another organization's", lambda: fleet.api.delete(f"{operations}1/", token=stranger), 404,
         "DEVICE_NOT_FOUND"),
        ("another organization's read", lambda: fleet.api.get(f"{operations}1/", token=stranger), 404,
         "DEVICE_NOT_FOUND"),
        ("another organization's list", lambda: fleet.api.get(operations, token=stranger), 404, "DEVICE_NOT_FOUND"),
        ("without devices:operate", lambda: fleet.api.delete(f"{operations}1/", token=writer), 403,
         "PERMISSION_DENIED"),
    ]
    for case, call, status, code in cases:
        with subtests.test(case):
            refused(call(), status, code)
            assert snapshot(fleet, device["id"]) == before


# --- deleting the device ---------------------------------------------------------------------------------

def test_delete_device_with_queued_operations_removes_them_and_the_agent_acknowledges_their_messages(
        fleet, agent, refused):
    device = fleet.device()
    fleet.request(device["id"], {"sync": True, "reboot": True})

    assert fleet.api.delete(f"/inventory_device/{device['id']}/").status_code == 204

    refused(fleet.api.get(f"/inventory_device/{device['id']}/operations/"), 404, "DEVICE_NOT_FOUND")
    [delivery] = agent.drain()
    assert len(delivery.messages) == 2 and delivery.failed == set()
    assert queue_depth() == 0


def test_delete_device_while_an_operation_is_dispatched_is_409_and_deletes_nothing(fleet, agent, refused,
                                                                                   patient_driver):
    device = fleet.device()
    fleet.behave(device["id"], latency_ms=SLOW_DEVICE_MS)
    fleet.request(device["id"], {"reboot": True})
    working = agent.in_background()
    wait_for_state(fleet, device["id"], 1, "dispatched")
    items = stored_count()

    refused(fleet.api.delete(f"/inventory_device/{device['id']}/"), 409, "OPERATION_IN_PROGRESS")

    assert stored_count() == items
    assert fleet.read(device["id"])["pending_settings"] == "reboot:dispatched"
    working.join()
    assert fleet.operation(device["id"], 1)["state"] == "succeeded"
    assert fleet.api.delete(f"/inventory_device/{device['id']}/").status_code == 204
