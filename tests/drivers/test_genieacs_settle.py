"""Item 2 of issue 15: no uncertain outcome left at the ACS. Every task carries `expiry`; after a 202, a
timeout or a dropped connection the driver settles the task: withdrawn (never ran), faulted, ran, or still
uncertain with a handle to look again. Nothing here reads a reason phrase."""
import time
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.drivers import genieacs
from chalicelib.drivers.errors import DeviceFault, DeviceUnreachable, OutcomeUncertain
from tests.drivers.conftest import make_acs
from tests.fakes.genieacs_nbi import Answer


def test_a_reset_the_acs_could_only_queue_is_withdrawn_and_never_runs_later(acs):
    # GIVEN a device that does not answer the connection request
    device, acs_id = acs.device(online=False)
    # WHEN a factory reset is posted: 202, the task stored at the ACS
    with pytest.raises(DeviceUnreachable) as raised:
        acs.driver.execute(device, "factory", {}, timeout=2, operation_id=4)
    # THEN it is withdrawn before it ran: safe to send again
    assert raised.value.code == "ACS_TASK_WITHDRAWN"
    assert acs.model.tasks == []
    # AND the device's next session runs nothing
    acs.model.cpes[acs_id].online = True
    acs.model.inform(acs_id)
    assert acs.rpcs("FactoryReset") == 0


@pytest.mark.parametrize("strip_reasons", [False, True])
def test_a_faulted_reset_is_a_device_fault_with_its_cwmp_code_and_leaves_nothing_to_retry(acs, strip_reasons):
    acs.nbi.strip_reasons = strip_reasons   # HTTP/2 and some proxies carry no reason phrase
    device, acs_id = acs.device(faults={"Reboot": ("9002", "Internal error")})

    with pytest.raises(DeviceFault) as raised:
        acs.driver.execute(device, "reboot", {}, timeout=2, operation_id=5)

    assert (raised.value.code, raised.value.message) == ("9002", "Internal error")
    assert acs.model.tasks == [] and acs.model.faults == {}
    # GenieACS would have retried the task 300 s later: there is nothing left to retry.
    acs.model.advance(3600)
    acs.model.inform(acs_id)
    assert acs.rpcs("Reboot") == 1


def test_a_reset_whose_session_outlasts_the_budget_stays_uncertain_then_settles_as_run_once(acs):
    # GIVEN a device whose session takes longer than the driver's budget
    device, acs_id = acs.device(session_seconds=1.5)
    # WHEN the reboot is posted: no answer in time, and the task cannot be withdrawn (the device is in session)
    with pytest.raises(OutcomeUncertain) as raised:
        acs.driver.execute(device, "reboot", {}, timeout=2, operation_id=6)
    assert raised.value.code == "ACS_SESSION_IN_PROGRESS"
    pending = raised.value.pending
    assert set(pending) == {"acs_id", "unique_key", "posted", "phase", "task_id", "task_time"}
    assert all(isinstance(value, str) for value in pending.values())
    # THEN once the session ended, settling finds the task gone after a session of the device: it ran, once
    _wait_until(lambda: not acs.model.tasks)
    assert acs.driver.settle(device, "reboot", {}, pending, timeout=2) == {}
    assert acs.rpcs("Reboot") == 1


def test_a_task_not_yet_stored_when_the_post_timed_out_is_not_taken_for_never_run(acs):
    # GIVEN a session in progress: master's POST waits for the device's lock before it stores the task
    device, acs_id = acs.device()
    acs.model.lock_wait = 1.0
    session = acs.model.locks[acs_id]
    session.acquire()
    try:
        with pytest.raises(OutcomeUncertain) as raised:
            acs.driver.execute(device, "reboot", {}, timeout=0.5, operation_id=7)
        # THEN the task was not found, but it may still be stored: uncertain, not "never ran"
        assert raised.value.code == "ACS_TASK_NOT_YET_STORED"
        pending = raised.value.pending
        assert "task_id" not in pending
        _wait_until(lambda: acs.model.tasks)   # the POST stored it once its wait for the lock ran out
    finally:
        session.release()
    # AND a later look finds it by its uniqueKey and withdraws it
    with pytest.raises(DeviceUnreachable) as raised:
        acs.driver.settle(device, "reboot", {}, pending, timeout=2)
    assert raised.value.code == "ACS_TASK_WITHDRAWN"
    assert acs.model.tasks == [] and acs.rpcs("Reboot") == 0


def test_an_error_after_the_task_was_stored_is_settled_not_taken_at_its_word(any_acs):
    # master drops the connection (lib/server.ts), 1.2.9 answers 500: the task is stored either way.
    any_acs.nbi.fail_after_store = True
    device, acs_id = any_acs.device(online=False)
    if any_acs.model.release == "master":
        with pytest.raises(DeviceUnreachable) as raised:
            any_acs.driver.execute(device, "device_factory", {}, timeout=2, operation_id=8)
        assert raised.value.code == "ACS_TASK_WITHDRAWN"
        assert any_acs.model.tasks == []
    else:   # no session lock: the task is left to its expiry (next test)
        with pytest.raises(OutcomeUncertain) as raised:
            any_acs.driver.execute(device, "device_factory", {}, timeout=2, operation_id=8)
        assert raised.value.code == "ACS_TASK_QUEUED" and raised.value.pending["task_id"]


def test_without_the_session_lock_a_queued_reset_is_left_to_run_once_or_to_expire_never_withdrawn_early():
    # 1.2.9: DELETE does not wait for a session, so a 200 could come while the very session runs the reset.
    made = make_acs("1.2.9")
    try:
        device, acs_id = made.device(online=False)
        with pytest.raises(OutcomeUncertain) as raised:
            made.driver.execute(device, "reboot", {}, timeout=2, operation_id=16)
        assert len(made.model.tasks) == 1
        # The device comes back: the reset runs once, and the next look says so.
        made.model.cpes[acs_id].online = True
        made.model.inform(acs_id)
        assert made.driver.settle(device, "reboot", {}, raised.value.pending, timeout=2) == {}
        assert made.rpcs("Reboot") == 1
        # Another reset, at its deadline: withdrawn then (it could not start in a later session anyway).
        made.model.cpes[acs_id].online = False
        with pytest.raises(OutcomeUncertain) as second:
            made.driver.execute(device, "reboot", {}, timeout=2, operation_id=17)
        with pytest.raises(DeviceUnreachable):
            made.driver.settle(device, "reboot", {}, second.value.pending, timeout=2, final=True)
        assert made.model.tasks == [] and made.rpcs("Reboot") == 1
    finally:
        made.nbi.stop()


def test_every_task_expires_at_the_operation_deadline_and_an_expired_task_never_runs(acs):
    # GIVEN a reset the ACS keeps (the device is offline and the task cannot be withdrawn)
    device, acs_id = acs.device(online=False)
    deadline = clock.now() + timedelta(minutes=15)
    _deletes_dropped(acs)
    with pytest.raises(OutcomeUncertain):
        acs.driver.execute(device, "reboot", {}, timeout=2, operation_id=9, deadline=deadline)
    (task,) = acs.model.tasks
    assert abs(clock.parse_iso(task["expiry"]) - deadline) < timedelta(seconds=3)
    # WHEN the device comes back after the deadline
    acs.model.cpes[acs_id].online = True
    acs.model.advance(16 * 60)
    acs.model.inform(acs_id)
    # THEN GenieACS drops the task instead of running it
    assert acs.model.tasks == [] and acs.rpcs("Reboot") == 0


def test_one_task_per_operation_a_second_post_of_the_same_operation_replaces_the_first(acs):
    device, acs_id = acs.device(online=False)
    _deletes_dropped(acs)
    for operation_id in (10, 10, 11):
        with pytest.raises(OutcomeUncertain):
            acs.driver.execute(device, "sync", {}, timeout=2, operation_id=operation_id)
    assert sorted(t["uniqueKey"] for t in acs.model.tasks) == ["fleetline-sync-10", "fleetline-sync-11"]


def test_a_task_gone_without_a_session_of_the_device_never_ran(acs):
    device, acs_id = acs.device()
    acs.model.last_inform[acs_id] = clock.now() - timedelta(minutes=10)
    pending = {"acs_id": acs_id, "unique_key": "fleetline-reboot-12", "posted": clock.iso(clock.now() - timedelta(
        minutes=2))}
    with pytest.raises(DeviceUnreachable) as raised:
        acs.driver.settle(device, "reboot", {}, pending, timeout=2)
    assert raised.value.code == "ACS_TASK_NOT_RUN"


@pytest.mark.parametrize("inform_after_posting, outcome", [
    (timedelta(minutes=3), "ran"),
    (timedelta(seconds=10), "unclear"),   # within the clock margin: the session may predate the posting
    (timedelta(minutes=-5), "never ran"),
])
def test_a_task_whose_id_was_never_learned_is_judged_against_the_device_last_session(acs, inform_after_posting,
                                                                                     outcome):
    device, acs_id = acs.device()
    posted = clock.now() - timedelta(minutes=4)
    acs.model.last_inform[acs_id] = posted + inform_after_posting
    pending = {"acs_id": acs_id, "unique_key": "fleetline-reboot-13", "posted": clock.iso(posted)}
    if outcome == "ran":
        assert acs.driver.settle(device, "reboot", {}, pending, timeout=2) == {}
        return
    expected = OutcomeUncertain if outcome == "unclear" else DeviceUnreachable
    with pytest.raises(expected):
        acs.driver.settle(device, "reboot", {}, pending, timeout=2)


def test_a_final_look_withdraws_a_task_still_queued(acs):
    device, acs_id = acs.device(online=False)
    task = acs.model.insert_task({"name": "reboot", "device": acs_id, "uniqueKey": "fleetline-reboot-14"})
    pending = {"acs_id": acs_id, "unique_key": "fleetline-reboot-14", "posted": task["timestamp"],
               "task_id": task["_id"], "task_time": task["timestamp"]}
    with pytest.raises(DeviceUnreachable):
        acs.driver.settle(device, "reboot", {}, pending, timeout=2, final=True)
    assert acs.model.tasks == []


def test_an_unreadable_handle_is_uncertain_without_a_handle(acs):
    device, _ = acs.device()
    with pytest.raises(OutcomeUncertain) as raised:
        acs.driver.settle(device, "reboot", {}, {"something": "else"}, timeout=2)
    assert raised.value.pending is None


def test_the_insert_window_covers_master_wait_for_the_session_lock():
    assert genieacs.INSERT_WINDOW >= timedelta(seconds=30)


def _wait_until(condition, timeout: float = 5.0) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, "the fake ACS never got there"
        time.sleep(0.02)



def _deletes_dropped(acs) -> None:
    """A proxy in front of the NBI drops every DELETE: the task stays at the ACS."""
    answer = acs.nbi.answer
    acs.nbi.answer = lambda method, path, query, body: "drop" if method == "DELETE" else answer(method, path,
                                                                                               query, body)


def test_an_acs_that_cannot_answer_after_the_post_leaves_the_reset_uncertain_never_taken_for_not_run(acs):
    # GIVEN a reset the ACS stored, and a proxy failing every later lookup
    device, acs_id = acs.device(online=False)
    acs.nbi.proxy[("GET", "/tasks/")] = Answer(502, b"Bad Gateway")
    # THEN the driver cannot tell: uncertain with a handle, so the agent never sends the reset again
    with pytest.raises(OutcomeUncertain) as raised:
        acs.driver.execute(device, "factory", {}, timeout=2, operation_id=15)
    assert raised.value.code == "ACS_502" and raised.value.pending["task_id"]
    with pytest.raises(OutcomeUncertain) as again:
        acs.driver.settle(device, "factory", {}, raised.value.pending, timeout=2)
    assert again.value.pending == raised.value.pending
    # AND once the ACS answers again, the look settles it
    del acs.nbi.proxy[("GET", "/tasks/")]
    with pytest.raises(DeviceUnreachable) as settled:
        acs.driver.settle(device, "factory", {}, raised.value.pending, timeout=2)
    assert settled.value.code == "ACS_TASK_WITHDRAWN"
