"""Bulk operation requests (API.md §11): creating, the dry run, reading and listing, refusals that change nothing."""
import pytest

from chalicelib.bulk import queue as bulk_queue
from tests.bulk.conftest import BULKS, rollout
from tests.devices.support import fields_named, stored_count
from tests.operations.conftest import queue_depth

PROGRESS_ZERO = {"pending": 0, "queued": 0, "dispatched": 0, "succeeded": 0, "failed": 0, "timed_out": 0,
                 "cancelled": 0, "skipped": 0}
VIEW_FIELDS = ["id", "operation", "parameters", "target", "rollout", "abort", "state", "target_count", "progress",
               "current_rate_per_minute", "abort_reason", "requested_by", "created", "started", "finished"]


def bulk_messages() -> int:
    return queue_depth(bulk_queue.queue_url())


def test_create_answers_at_once_and_leaves_the_work_to_the_background(fleet, rollouts):
    devices = [fleet.device() for _ in range(3)]
    before = queue_depth()

    created = rollouts.start(rollout(fleet, rollout={"max_per_minute": 50, "ramp": {
        "base_per_minute": 5, "increment_factor": 2, "every_succeeded": 10}}, abort={"failure_threshold_percent": 20}))

    assert list(created) == VIEW_FIELDS   # API.md §11's order
    assert created | {"id": None, "created": None, "requested_by": None} == {
        "id": None, "operation": "reboot", "parameters": {}, "target": {"organization_id": fleet.organization},
        "rollout": {"max_per_minute": 50, "ramp": {"base_per_minute": 5, "increment_factor": 2.0,
                                                   "every_succeeded": 10}},
        "abort": {"failure_threshold_percent": 20.0, "min_finished": 10}, "state": "scheduled", "target_count": 3,
        "progress": PROGRESS_ZERO | {"pending": 3}, "current_rate_per_minute": 0, "abort_reason": None,
        "requested_by": None, "created": None, "started": None, "finished": None}
    assert created["requested_by"]["name"] == "platform"
    # Nothing was sent to any device in the request: one round asked of the background, no operation.
    assert queue_depth() == before and bulk_messages() == 1
    assert all(fleet.operations(d["id"]) == [] for d in devices)
    assert rollouts.get(created["id"]) == created
    [entry] = fleet.api.get("/audit_log/?action=bulk_operation_created").json_body["results"]
    assert (entry["device_id"], entry["organization_id"], entry["changes"]["bulk_operation_id"]["new"]) == (
        None, fleet.organization, created["id"])


def test_dry_run_counts_the_target_and_creates_nothing(fleet, rollouts):
    devices = [fleet.device(status="Up") for _ in range(23)] + [fleet.device(status="Down")]
    items = stored_count()

    answer = rollouts.start(rollout(fleet, dry_run=True, target={"organization_id": fleet.organization,
                                                                 "status": 1}), status=200)

    assert answer == {"dry_run": True, "operation": "reboot", "parameters": {},
                      "target": {"organization_id": fleet.organization, "status": 1}, "target_count": 23,
                      "target_count_complete": True, "device_ids": [d["id"] for d in devices[:20]]}
    assert stored_count() == items and bulk_messages() == 0


def test_dry_run_by_firmware_image_and_listed_ids_reads_the_devices(fleet, rollouts):
    image = fleet.firmware("3.0.0")
    on_image = [fleet.device(firmware_image=image["id"]) for _ in range(2)]
    other = fleet.device()

    by_image = rollouts.start(rollout(fleet, dry_run=True, target={"organization_id": fleet.organization,
                                                                   "firmware_image": image["id"]}), status=200)
    listed = rollouts.start(rollout(fleet, dry_run=True, target={"organization_id": fleet.organization,
                                                                 "device_ids": [other["id"], on_image[0]["id"]]}),
                            status=200)

    assert (by_image["target_count"], by_image["device_ids"]) == (2, [d["id"] for d in on_image])
    assert (listed["target_count"], listed["device_ids"]) == (2, sorted([other["id"], on_image[0]["id"]]))


def test_an_organization_token_targets_its_own_organization(fleet, rollouts):
    fleet.device()
    token = fleet.api.token(fleet.organization, ("devices:read", "devices:operate"))

    created = rollouts.start({"operation": "sync", "target": {"status": 0}}, token=token)

    assert created["target"] == {"organization_id": fleet.organization, "status": 0}


BAD_BODIES = [
    ({"operation": "explode"}, "operation"),
    ({"parameters": {"enabled": "maybe"}, "operation": "debug"}, "parameters"),
    ({"parameters": {}, "operation": "debug"}, "parameters"),
    ({"parameters": {"firmware_image": "latest"}, "operation": "firmware_update"}, "parameters"),
    ({"parameters": {"force": True}}, "parameters"),
    ({"target": {}}, "target"),
    ({"target": {"organization_id": True}}, "target.organization_id"),
    ({"target": {"organization_id": 10 ** 40}}, "target.organization_id"),
    ({"target": {"device_ids": []}}, "target.device_ids"),
    ({"target": {"device_ids": list(range(1, 10_002))}}, "target.device_ids"),
    ({"target": {"status": 2}}, "target.status"),
    ({"rollout": {"max_per_minute": 0}}, "rollout.max_per_minute"),
    ({"rollout": {"max_per_minute": 10_001}}, "rollout.max_per_minute"),
    ({"rollout": {"max_per_minute": 10, "ramp": {"base_per_minute": 20, "increment_factor": 2,
                                                 "every_succeeded": 5}}}, "rollout"),
    ({"rollout": {"ramp": {"base_per_minute": 5, "increment_factor": 1.0, "every_succeeded": 5}}},
     "rollout.ramp.increment_factor"),
    ({"abort": {"failure_threshold_percent": 101}}, "abort.failure_threshold_percent"),
    ({"abort": {"failure_threshold_percent": 10, "min_finished": 0}}, "abort.min_finished"),
    ({"operation": "factory"}, "confirm"),
    ({"operation": "device_factory", "confirm": False}, "confirm"),
    ({"unexpected": 1}, "unexpected"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BODIES)
def test_invalid_request_is_422_naming_the_field_and_creates_nothing(fleet, refused, change, field):
    fleet.device()
    body = rollout(fleet) | change
    if "target" in change and change["target"] and "organization_id" not in change["target"]:
        body["target"] = {"organization_id": fleet.organization, **change["target"]}
    items = stored_count()

    error = refused(fleet.api.post(BULKS, body), 422, "VALIDATION_FAILED")

    assert field in fields_named(error) or any(f.startswith(field) for f in fields_named(error)), error
    assert stored_count() == items and bulk_messages() == 0


def test_targets_that_name_nothing_or_others_are_refused_and_create_nothing(fleet, rollouts, refused):
    other_organization = fleet.api.organization()
    foreign = fleet.api.device(other_organization, fleet.type)
    mine = fleet.device(status="Down")
    token = fleet.api.token(fleet.organization, ("devices:read", "devices:operate"))
    incompatible = fleet.firmware("9.9.9", types=[fleet.api.device_type()])
    items = stored_count()

    cases = [
        (rollout(fleet, target={"organization_id": fleet.organization, "device_ids": [mine["id"], foreign["id"]]}),
         ..., 422, "VALIDATION_FAILED", "target.device_ids"),
        (rollout(fleet, target={"organization_id": fleet.organization, "device_ids": [9_999_999]}), ..., 422,
         "VALIDATION_FAILED", "target.device_ids"),
        (rollout(fleet, target={"organization_id": fleet.organization, "status": 1}), ..., 422, "EMPTY_TARGET",
         "target"),
        (rollout(fleet, target={"organization_id": 9_999_999}), ..., 422, "VALIDATION_FAILED",
         "target.organization_id"),
        (rollout(fleet, target={"organization_id": fleet.organization, "type": [9_999_999]}), ..., 422,
         "VALIDATION_FAILED", "target.type.0"),
        (rollout(fleet, "firmware_update", parameters={"firmware_image": incompatible["id"]}), ..., 422,
         "VALIDATION_FAILED", "parameters.firmware_image"),
        (rollout(fleet, "firmware_update", parameters={"firmware_image": 9_999_999}), ..., 422,
         "VALIDATION_FAILED", "parameters.firmware_image"),
        ({"operation": "reboot", "target": {"status": 0}}, ..., 422, "VALIDATION_FAILED", "target.organization_id"),
        ({"operation": "reboot", "target": {"organization_id": other_organization}}, token, 403,
         "ORGANIZATION_FORBIDDEN", "target.organization_id"),
        ({"operation": "reboot", "target": {"all_organizations": True}}, token, 403, "ORGANIZATION_FORBIDDEN",
         "target.organization_id"),
        ({"operation": "reboot", "target": {"device_ids": [foreign["id"]]}}, token, 422, "VALIDATION_FAILED",
         "target.device_ids"),
    ]
    for body, caller, status, code, field in cases:
        error = refused(fleet.api.post(BULKS, body, token=caller), status, code)
        assert field in fields_named(error), (body, error)
    assert stored_count() == items and bulk_messages() == 0


def test_a_token_that_may_not_operate_is_refused(fleet, refused):
    fleet.device()
    reader = fleet.api.token(fleet.organization, ("devices:read", "devices:write"))

    refused(fleet.api.post(BULKS, rollout(fleet), token=reader), 403, "PERMISSION_DENIED")


def test_another_organizations_bulk_operation_is_404_and_lists_show_only_the_tokens(fleet, rollouts, refused):
    fleet.device()
    other = fleet.api.organization()
    fleet.api.device(other, fleet.type)
    mine = rollouts.start(rollout(fleet))
    theirs = rollouts.start({"operation": "sync", "target": {"organization_id": other}})
    token = fleet.api.token(fleet.organization, ("devices:read", "devices:operate"))

    for path in (f"{BULKS}{theirs['id']}/", f"{BULKS}{theirs['id']}/devices/"):
        refused(fleet.api.get(path, token=token), 404, "BULK_OPERATION_NOT_FOUND")
    for action in ("pause", "resume", "cancel"):
        refused(fleet.api.post(f"{BULKS}{theirs['id']}/{action}/", token=token), 404, "BULK_OPERATION_NOT_FOUND")
    refused(fleet.api.get(f"{BULKS}99999/"), 404, "BULK_OPERATION_NOT_FOUND")
    refused(fleet.api.get(f"{BULKS}abc/"), 400, "INVALID_PATH")   # not an id at all (API.md §1)
    listed = fleet.api.get(BULKS, token=token).json_body
    assert (listed["count"], [b["id"] for b in listed["results"]]) == (1, [mine["id"]])
    everything = fleet.api.get(BULKS).json_body
    assert [b["id"] for b in everything["results"]] == [theirs["id"], mine["id"]]   # newest first


def test_list_filters_by_state_and_pages_with_a_cursor(fleet, rollouts, refused):
    fleet.device()
    made = [rollouts.start(rollout(fleet, "sync")) for _ in range(3)]
    assert rollouts.act(made[1]["id"], "cancel").status_code == 200

    cancelled = fleet.api.get(f"{BULKS}?state=cancelled").json_body
    first = fleet.api.get(f"{BULKS}?limit=2").json_body
    second = fleet.api.get(first["next"].split("/api", 1)[-1].split("localhost", 1)[-1])

    assert (cancelled["count"], [b["id"] for b in cancelled["results"]]) == (1, [made[1]["id"]])
    assert [b["id"] for b in first["results"]] == [made[2]["id"], made[1]["id"]] and first["count"] == 3
    assert [b["id"] for b in second.json_body["results"]] == [made[0]["id"]]
    refused(fleet.api.get(f"{BULKS}?state=exploded"), 400, "INVALID_QUERY")


def test_pause_resume_and_cancel_follow_the_states_and_refuse_the_others_with_409(fleet, rollouts, clock, refused):
    fleet.device()
    bulk = rollouts.start(rollout(fleet))

    refused(rollouts.act(bulk["id"], "resume"), 409, "BULK_OPERATION_STATE_CONFLICT")
    clock.advance(1)
    assert rollouts.act(bulk["id"], "pause").json_body["state"] == "paused"
    refused(rollouts.act(bulk["id"], "pause"), 409, "BULK_OPERATION_STATE_CONFLICT")
    clock.advance(1)
    assert rollouts.act(bulk["id"], "resume").json_body["state"] == "scheduled"   # its target is not expanded yet
    clock.advance(1)
    cancelled = rollouts.act(bulk["id"], "cancel").json_body
    assert cancelled["state"] == "cancelled" and cancelled["finished"] is not None
    for action in ("pause", "resume", "cancel"):
        refused(rollouts.act(bulk["id"], action), 409, "BULK_OPERATION_STATE_CONFLICT")
    actions = [e["action"] for e in fleet.api.get("/audit_log/?limit=200").json_body["results"]
               if e["action"].startswith("bulk_operation_")]
    assert actions == ["bulk_operation_cancelled", "bulk_operation_resumed", "bulk_operation_paused",
                       "bulk_operation_created"]
