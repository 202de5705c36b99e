"""Abort (API.md §11): checked as results arrive, in the agent's path; what is not yet dispatched is cancelled."""
from tests.bulk.conftest import rollout

THRESHOLD = {"failure_threshold_percent": 20, "min_finished": 5}


def failing_fleet(fleet, count: int, every: int = 3) -> tuple[list[dict], list[dict]]:
    """`count` devices, every `every`-th one failing its reboot (the simulator's CWMP fault 9002)."""
    devices = [fleet.device() for _ in range(count)]
    failing = devices[::every]
    for device in failing:
        fleet.behave(device["id"], fail=["reboot"])
    return devices, failing


def one_agent_batch_per_wait(rollouts, agent, clock) -> None:
    """While a round waits between slices, the agent handles one batch (ten messages) and no more."""
    rollouts.agent_runs = False
    clock.meanwhile.append(agent.deliver)


def test_failures_at_the_threshold_abort_as_results_arrive_and_the_rest_is_cancelled(fleet, rollouts, agent, clock):
    devices, failing = failing_fleet(fleet, 40)
    one_agent_batch_per_wait(rollouts, agent, clock)
    bulk = rollouts.start(rollout(fleet, rollout={"max_per_minute": 240}, abort=THRESHOLD))

    # WHEN a slice has queued 20 reboots and the agent has carried out the first 10 of them
    done = rollouts.run(bulk["id"])

    # THEN the bulk operation was aborted with the figures of that first batch: no later slice queued anything
    assert done["state"] == "aborted"
    reason = done["abort_reason"]
    assert (reason["code"], reason["finished"]) == ("FAILURE_THRESHOLD_EXCEEDED", 10)
    assert reason["failed"] * 100 >= 20 * reason["finished"] and reason["message"]
    operations = [o for d in devices for o in fleet.operations(d["id"])]
    assert len(operations) == 20
    by_state = {state: sum(1 for o in operations if o["state"] == state) for state in ("succeeded", "failed",
                                                                                        "cancelled")}
    assert by_state == {"succeeded": 10 - reason["failed"], "failed": reason["failed"], "cancelled": 10}
    # Exact once final: the queued ones cancelled, those never reached shown cancelled, everything summed.
    assert done["progress"] == {"pending": 0, "queued": 0, "dispatched": 0, "succeeded": by_state["succeeded"],
                                "failed": reason["failed"], "timed_out": 0, "cancelled": 30, "skipped": 0}
    assert sum(done["progress"].values()) == done["target_count"] == 40
    assert {r["state"] for r in rollouts.devices(done["id"], "&state=failed")} == {"failed"}
    failed_results = rollouts.devices(done["id"], "&state=failed")
    assert {r["error"]["code"] for r in failed_results} == {"9002"}
    assert {r["device_id"] for r in failed_results} <= {d["id"] for d in failing}
    [aborted] = fleet.api.get("/audit_log/?action=bulk_operation_aborted").json_body["results"]
    assert aborted["actor"] == {"token_id": None, "name": "system"}
    # The cancelled operations' messages, delivered late, run nothing.
    clock.meanwhile.clear()
    rollouts.agent_runs = True
    rollouts.work_agent()
    assert sum(1 for d in devices for o in fleet.operations(d["id"]) if o["state"] == "cancelled") == 10


def test_no_abort_before_min_finished_have_finished(fleet, rollouts, agent, clock):
    failing_fleet(fleet, 40)
    one_agent_batch_per_wait(rollouts, agent, clock)
    bulk = rollouts.start(rollout(fleet, rollout={"max_per_minute": 240},
                                  abort={"failure_threshold_percent": 20, "min_finished": 12}))

    done = rollouts.run(bulk["id"])

    assert done["state"] == "aborted"
    assert done["abort_reason"]["finished"] >= 12   # 10 had finished, above the threshold, without aborting it
    assert sum(done["progress"].values()) == 40


def test_failures_below_the_threshold_let_it_complete(fleet, rollouts):
    failing_fleet(fleet, 20, every=10)   # 10% fail

    done = rollouts.run(rollouts.start(rollout(fleet, rollout={"max_per_minute": 240}, abort=THRESHOLD))["id"])

    assert (done["state"], done["abort_reason"]) == ("completed", None)
    assert (done["progress"]["succeeded"], done["progress"]["failed"]) == (18, 2)


def test_timed_out_operations_count_as_failures(fleet, rollouts):
    devices = [fleet.device() for _ in range(5)]
    for device in devices:
        fleet.behave(device["id"], latency_ms=1_000)   # beyond the driver's timeout: a reboot's outcome is uncertain

    done = rollouts.run(rollouts.start(rollout(fleet, abort={"failure_threshold_percent": 50,
                                                             "min_finished": 5}))["id"])

    assert done["state"] == "aborted"
    assert done["progress"]["timed_out"] == 5 and done["abort_reason"]["failed"] == 5


def test_a_paused_bulk_operation_still_aborts_on_results_of_what_it_had_queued(fleet, rollouts, agent, clock):
    failing_fleet(fleet, 10, every=1)
    bulk = rollouts.start(rollout(fleet, abort=THRESHOLD))
    rollouts.agent_runs = False
    rollouts.round()   # all ten queued; nothing carried out yet
    assert rollouts.act(bulk["id"], "pause").status_code == 200

    agent.deliver()   # the results arrive while it is paused

    aborted = rollouts.get(bulk["id"])
    assert aborted["state"] == "aborted" and aborted["abort_reason"]["failed"] == 10
    assert rollouts.run(bulk["id"])["progress"]["failed"] == 10


def test_the_agent_cancels_rather_than_sends_what_an_ended_bulk_operation_left_in_the_queue(fleet, rollouts, agent):
    devices = [fleet.device() for _ in range(8)]
    other = fleet.device()
    fleet.request(other["id"], {"sync": True})   # an operation of no bulk operation, in the same batches
    bulk = rollouts.start(rollout(fleet, "sync", rollout={"max_per_minute": 600}))
    rollouts.agent_runs = False
    rollouts.round()   # every device's sync queued in the first slice, none carried out

    assert rollouts.act(bulk["id"], "cancel").status_code == 200
    agent.drain()   # the agent reaches the messages before any round cancels them

    operations = [fleet.operation(d["id"], 1) for d in devices]
    assert {(o["state"], o["attempts"]) for o in operations} == {("cancelled", 0)}
    assert fleet.read(devices[0]["id"])["last_configuration"] is None   # never sent to a device
    assert fleet.operation(other["id"], 1)["state"] == "succeeded"
    done = rollouts.run(bulk["id"])
    # The other device's sync, which the bulk operation joined (coalescing), ran: it was no one's to cancel.
    assert (done["progress"]["cancelled"], done["progress"]["succeeded"]) == (8, 1)
