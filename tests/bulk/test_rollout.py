"""The background of bulk operations (API.md §11): the fixed target, pacing and the ramp, pause and resume,
coalescing, skipped devices, exact progress, revival. Time is the controllable clock of tests/bulk/conftest.py."""
from datetime import timedelta

from chalicelib import clock as real_clock
from chalicelib.bulk import queue as bulk_queue
from chalicelib.store import dynamo, schema
from tests.bulk.conftest import rollout
from tests.operations.conftest import queue_depth, sqs


def created_times(fleet, devices) -> list:
    return sorted(real_clock.parse_iso(o["created"]) for d in devices for o in fleet.operations(d["id"]))


def busiest_minute(times: list) -> int:
    """The most operations created within any 60 s."""
    return max((sum(1 for t in times if start <= t < start + timedelta(seconds=60)) for start in times), default=0)


def test_target_is_fixed_when_created_and_each_device_gets_an_ordinary_operation(fleet, rollouts, clock):
    devices = [fleet.device() for _ in range(5)]
    bulk = rollouts.start(rollout(fleet, "sync"))
    clock.advance(1)
    late = fleet.device()   # created after the bulk operation: not in its target

    rollouts.agent_runs = False
    rollouts.round()

    running = rollouts.get(bulk["id"])
    assert (running["state"], running["target_count"], running["started"] is not None) == ("in_progress", 5, True)
    assert running["progress"]["queued"] == 5 and running["current_rate_per_minute"] == 100
    for device in devices:
        [operation] = fleet.operations(device["id"])
        assert (operation["operation"], operation["state"], operation["bulk_operation_id"]) == (
            "sync", "queued", bulk["id"])
        assert operation["requested_by"] == bulk["requested_by"]
        assert fleet.read(device["id"])["pending_settings"] == "sync:queued"
    assert fleet.operations(late["id"]) == []
    assert {d["device_id"] for d in rollouts.devices(bulk["id"])} == {d["id"] for d in devices}
    rollouts.agent_runs = True
    done = rollouts.run(bulk["id"])
    assert done["state"] == "completed" and done["progress"]["succeeded"] == 5
    assert all(fleet.read(d["id"])["last_configuration"] is not None for d in devices)


def test_no_minute_queues_more_than_the_rate_and_the_devices_spread_over_it(fleet, rollouts):
    devices = [fleet.device() for _ in range(30)]

    bulk = rollouts.start(rollout(fleet, rollout={"max_per_minute": 12}))
    done = rollouts.run(bulk["id"])

    times = created_times(fleet, devices)
    assert done["state"] == "completed" and len(times) == 30
    assert busiest_minute(times) == 12
    assert len(set(times)) == 30   # one per slice at this rate: spread, not sent in one burst
    assert times[-1] - times[0] >= timedelta(seconds=120)   # 30 devices at 12 a minute take over two minutes


def test_the_ramp_raises_the_rate_as_successes_accumulate_and_only_then(fleet, rollouts):
    # GIVEN two organizations alike but for their devices: one whose reboots succeed, one whose reboots fail
    ramp = {"max_per_minute": 48, "ramp": {"base_per_minute": 12, "increment_factor": 2, "every_succeeded": 6}}
    succeeding = [fleet.device() for _ in range(60)]
    failing_organization = fleet.api.organization()
    failing = [fleet.api.device(failing_organization, fleet.type) for _ in range(30)]
    for device in failing:
        fleet.behave(device["id"], fail=["reboot"])

    ramped = rollouts.run(rollouts.start(rollout(fleet, rollout=ramp))["id"])
    flat = rollouts.run(rollouts.start({"operation": "reboot", "target": {"organization_id": failing_organization},
                                        "rollout": ramp})["id"])

    assert ramped["state"] == flat["state"] == "completed"
    # Successes raise the rate from 12 towards 48 a minute; failures leave it at the base.
    assert 12 < busiest_minute(created_times(fleet, succeeding)) <= 48
    assert busiest_minute(created_times(fleet, failing)) == 12


def test_pause_stops_dispatching_at_the_next_slice_and_resume_goes_on(fleet, rollouts, clock):
    devices = [fleet.device() for _ in range(12)]
    bulk = rollouts.start(rollout(fleet, rollout={"max_per_minute": 12}))
    rollouts.run(bulk["id"], until=lambda b: b["progress"]["succeeded"] >= 3)

    paused = rollouts.act(bulk["id"], "pause").json_body
    assert paused["state"] == "paused" and paused["current_rate_per_minute"] == 0
    before = len(created_times(fleet, devices))
    while rollouts.round() is not None:   # the round under way stops at its next slice, and asks for no other
        pass
    clock.advance(600)
    assert len(created_times(fleet, devices)) <= before + 1 and rollouts.round() is None

    assert rollouts.act(bulk["id"], "resume").json_body["state"] == "in_progress"
    done = rollouts.run(bulk["id"])
    assert done["state"] == "completed" and done["progress"]["succeeded"] == 12


def test_cancel_cancels_what_is_queued_and_nothing_more_is_sent(fleet, rollouts):
    devices = [fleet.device() for _ in range(20)]
    bulk = rollouts.start(rollout(fleet, rollout={"max_per_minute": 12}))
    rollouts.agent_runs = False
    rollouts.round()   # a round of ten slices, one device each, with no agent to run them
    queued = [d for d in devices if fleet.operations(d["id"])]
    assert len(queued) == 10

    assert rollouts.act(bulk["id"], "cancel").status_code == 200
    done = rollouts.run(bulk["id"])

    assert done["state"] == "cancelled"
    assert done["progress"] == {"pending": 0, "queued": 0, "dispatched": 0, "succeeded": 0, "failed": 0,
                                "timed_out": 0, "cancelled": 20, "skipped": 0}
    for device in queued:
        [operation] = fleet.operations(device["id"])
        assert operation["state"] == "cancelled"
        assert fleet.read(device["id"])["pending_settings"] is None
    assert all(fleet.operations(d["id"]) == [] for d in devices if d not in queued)
    assert {d["state"] for d in rollouts.devices(bulk["id"])} == {"cancelled"}
    assert rollouts.devices(bulk["id"], "&state=pending") == []
    assert len(rollouts.devices(bulk["id"], "&state=cancelled")) == 20
    rollouts.agent_runs = True
    rollouts.work_agent()   # their messages, delivered late, run nothing
    assert {o["state"] for d in queued for o in fleet.operations(d["id"])} == {"cancelled"}


def test_an_unfinished_operation_of_the_same_kind_stands_for_the_device(fleet, rollouts):
    device, other = fleet.device(), fleet.device()
    fleet.request(device["id"], {"reboot": True})   # queued by a PATCH before the bulk operation reaches it

    bulk = rollouts.start(rollout(fleet))
    rollouts.agent_runs = False
    rollouts.round()
    rollouts.agent_runs = True
    done = rollouts.run(bulk["id"])

    [operation] = fleet.operations(device["id"])
    assert (operation["id"], operation["state"], operation["bulk_operation_id"]) == (1, "succeeded", None)
    assert done["progress"]["succeeded"] == 2
    results = {r["device_id"]: r for r in rollouts.devices(bulk["id"])}
    assert results[device["id"]] == {"device_id": device["id"], "operation_id": 1, "state": "succeeded",
                                     "error": None}
    assert results[other["id"]]["state"] == "succeeded"


def test_devices_deleted_or_moved_before_their_turn_are_skipped(fleet, rollouts):
    kept, deleted, moved = fleet.device(), fleet.device(), fleet.device()
    elsewhere = fleet.api.organization()
    bulk = rollouts.start(rollout(fleet))
    rollouts.act(bulk["id"], "pause")
    rollouts.run(bulk["id"], until=lambda b: b["started"] is not None, rounds=2)   # expanded: the target is fixed
    assert fleet.api.delete(f"/inventory_device/{deleted['id']}/").status_code == 204
    fleet.request(moved["id"], {"organization_id": elsewhere})

    assert rollouts.act(bulk["id"], "resume").json_body["state"] == "in_progress"
    done = rollouts.run(bulk["id"])

    assert done["progress"] | {"succeeded": None} == {"pending": 0, "queued": 0, "dispatched": 0, "succeeded": None,
                                                      "failed": 0, "timed_out": 0, "cancelled": 0, "skipped": 2}
    results = {r["device_id"]: r for r in rollouts.devices(bulk["id"])}
    assert results[deleted["id"]]["error"]["code"] == "DEVICE_DELETED"
    assert results[moved["id"]]["error"]["code"] == "DEVICE_MOVED"
    assert fleet.operations(moved["id"]) == [] and results[kept["id"]]["state"] == "succeeded"


def test_a_result_delivered_twice_is_counted_once(fleet, rollouts, agent):
    device = fleet.device()
    bulk = rollouts.start(rollout(fleet, "sync"))
    rollouts.agent_runs = False
    rollouts.round()
    message = sqs().receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]

    for _ in range(2):   # the same message twice, as at-least-once delivery may hand it over
        agent.invoke(received_event(message))

    assert fleet.operation(device["id"], 1)["attempts"] == 1
    assert rollouts.get(bulk["id"])["progress"]["succeeded"] == 1
    rollouts.agent_runs = True
    assert rollouts.run(bulk["id"])["progress"]["succeeded"] == 1


def test_a_firmware_rollout_updates_each_device(fleet, rollouts):
    image = fleet.firmware("4.1.0")
    devices = [fleet.device(software_version="4.0.0") for _ in range(3)]

    done = rollouts.run(rollouts.start(rollout(fleet, "firmware_update",
                                               parameters={"firmware_image": image["id"]}))["id"])

    assert done["progress"]["succeeded"] == 3
    for device in devices:
        stored = fleet.read(device["id"])
        assert (stored["firmware_image"], stored["software_version"], stored["firmware_image_is_pending"]) == (
            image["id"], "4.1.0", False)
        [operation] = fleet.operations(device["id"])
        assert operation["parameters"]["version"] == "4.1.0"


def test_a_lost_round_is_asked_for_again_by_the_schedule(fleet, rollouts, client, clock):
    fleet.device()
    bulk = rollouts.start(rollout(fleet))
    sqs().purge_queue(QueueUrl=bulk_queue.queue_url())   # the round's message, lost
    assert queue_depth(bulk_queue.queue_url()) == 0

    clock.advance(60)
    scheduled = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
    client.lambda_.invoke("revive_bulk_operations", scheduled)
    assert queue_depth(bulk_queue.queue_url()) == 0   # not stalled yet

    clock.advance(180)
    client.lambda_.invoke("revive_bulk_operations", scheduled)
    assert rollouts.run(bulk["id"])["state"] == "completed"


def test_counter_writes_spread_over_the_progress_shards(fleet, rollouts):
    for _ in range(24):
        fleet.device()

    done = rollouts.run(rollouts.start(rollout(fleet, rollout={"max_per_minute": 120}))["id"])

    # Settles of three slices and three agent batches take the shards in turn: every shard took some.
    shards = dynamo.batch_get([schema.bulk_progress_key(done["id"], s) for s in range(schema.BULK_PROGRESS_SHARDS)])
    assert len(shards) == schema.BULK_PROGRESS_SHARDS
    assert done["progress"]["succeeded"] == 24


def queue_url():
    from chalicelib.operations import queue
    return queue.queue_url()


def received_event(messages):
    from local.workers import sqs_event
    from tests.operations.conftest import queue_arn
    return sqs_event(messages, queue_arn())


def test_a_slow_rate_spreads_its_devices_over_the_minute(fleet, rollouts):
    devices = [fleet.device() for _ in range(6)]

    rollouts.run(rollouts.start(rollout(fleet, rollout={"max_per_minute": 6}))["id"])

    times = created_times(fleet, devices)
    assert [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)] == [10.0] * 5


def test_a_rate_that_is_no_multiple_of_the_slices_is_reached_every_minute(fleet, rollouts):
    devices = [fleet.device() for _ in range(40)]

    rollouts.run(rollouts.start(rollout(fleet, rollout={"max_per_minute": 20}))["id"])

    times = created_times(fleet, devices)
    first_minute = [t for t in times if t < times[0] + timedelta(seconds=60)]
    assert len(first_minute) == 20 and busiest_minute(times) == 20
