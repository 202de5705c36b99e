"""The fake GenieACS itself, held to the behaviours it claims to reproduce (tests/fakes/genieacs.py), through
its HTTP API as any client sees it."""
import http.client
import json
import re
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from tests.fakes.genieacs import Cpe


def call(acs, method: str, path: str, body: bytes | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(acs.nbi.url + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.reason, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.reason, error.read()


def test_a_posted_task_is_stored_before_the_connection_request_and_the_202_body_is_the_task(any_acs):
    acs_id = any_acs.model.add_device(Cpe(serial="S1", online=False))
    status, _, body = call(any_acs, "POST", f"/devices/{acs_id}/tasks?connection_request&timeout=100",
                           b'{"name": "reboot", "expiry": 60}')
    task = json.loads(body)
    assert status == 202
    assert re.fullmatch(r"[0-9a-f]{24}", task["_id"]) and task["device"] == acs_id and task["name"] == "reboot"
    assert [t["_id"] for t in any_acs.model.tasks] == [task["_id"]]
    # It runs at the device's next inform, unless deleted first.
    any_acs.model.cpes[acs_id].online = True
    any_acs.model.inform(acs_id)
    assert any_acs.rpcs("Reboot") == 1 and any_acs.model.tasks == []


def test_a_task_deleted_before_the_next_inform_never_runs(acs):
    acs_id = acs.model.add_device(Cpe(serial="S2", online=False))
    _, _, body = call(acs, "POST", f"/devices/{acs_id}/tasks?connection_request", b'{"name": "factoryReset"}')
    assert call(acs, "DELETE", f"/tasks/{json.loads(body)['_id']}")[0] == 200
    acs.model.inform(acs_id)
    assert acs.rpcs("FactoryReset") == 0


def test_delete_during_a_session_is_503_in_master_and_goes_through_in_1_2_9(any_acs):
    acs_id = any_acs.model.add_device(Cpe(serial="S3"))
    task = any_acs.model.insert_task({"name": "reboot", "device": acs_id})
    with any_acs.model.in_session(acs_id):
        status, _, body = call(any_acs, "DELETE", f"/tasks/{task['_id']}")
    assert (status, body) == ((503, b"Device is in session") if any_acs.model.release == "master" else (200, b""))


def test_a_faulted_task_stays_with_its_fault_and_genieacs_retries_it_300_s_later(acs):
    acs_id = acs.model.add_device(Cpe(serial="S4", faults={"Reboot": ("9002", "Internal error")}))
    status, reason, body = call(acs, "POST", f"/devices/{acs_id}/tasks?connection_request", b'{"name": "reboot"}')
    task = json.loads(body)
    assert (status, reason) == (202, "Task faulted")
    fault = acs.model.faults[f"{acs_id}:task_{task['_id']}"]
    assert (fault["code"], fault["retries"], fault["detail"]) == (
        "cwmp.9002", 0, {"faultCode": "9002", "faultString": "Internal error"})
    acs.model.inform(acs_id)
    assert acs.rpcs("Reboot") == 1          # not due before 300 s
    acs.model.advance(301)
    acs.model.inform(acs_id)
    assert acs.rpcs("Reboot") == 2 and acs.model.faults[fault["_id"]]["retries"] == 1


def test_path_parse_refuses_a_trailing_dot_as_a_script_error_in_the_session(any_acs):
    acs_id = any_acs.model.add_device(Cpe(serial="S5"))
    status, _, body = call(any_acs, "POST", f"/devices/{acs_id}/tasks?connection_request",
                           b'{"name": "refreshObject", "objectName": "Device.DeviceInfo."}')
    assert status == 202
    fault = any_acs.model.faults[f"{acs_id}:task_{json.loads(body)['_id']}"]
    assert (fault["code"], fault["message"]) == ("script.Error", "Invalid parameter path")


def test_the_root_as_an_empty_name_is_dropped_by_master_and_accepted_by_1_2_9(any_acs):
    acs_id = any_acs.model.add_device(Cpe(serial="S6"))
    request = b'{"name": "refreshObject", "objectName": ""}'
    if any_acs.model.release == "master":
        with pytest.raises((http.client.HTTPException, ConnectionError)):   # no answer at all
            call(any_acs, "POST", f"/devices/{acs_id}/tasks?connection_request", request)
        assert any_acs.model.tasks == []
    else:
        assert call(any_acs, "POST", f"/devices/{acs_id}/tasks?connection_request", request)[0] == 200


def test_json_that_does_not_parse_is_400_with_a_syntax_error_body(acs):
    acs_id = acs.model.add_device(Cpe(serial="S7"))
    status, _, body = call(acs, "POST", f"/devices/{acs_id}/tasks", b"{nope")
    assert status == 400 and body.startswith(b"SyntaxError: ")
    status, _, body = call(acs, "GET", "/tasks/?query=%7Bnope")
    assert status == 400 and body.startswith(b"SyntaxError: ")


def test_an_id_that_is_not_an_object_id_drops_the_connection_in_master_and_is_500_in_1_2_9(any_acs):
    if any_acs.model.release == "master":
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            call(any_acs, "DELETE", "/tasks/not-an-object-id")
    else:
        status, _, body = call(any_acs, "DELETE", "/tasks/not-an-object-id")
        assert status == 500 and body.startswith(b"BSONError")


def test_a_task_past_its_expiry_is_dropped_at_the_next_session_with_its_fault(acs):
    acs_id = acs.model.add_device(Cpe(serial="S8", faults={"Reboot": ("9002", "Internal error")}))
    task = acs.model.insert_task({"name": "reboot", "device": acs_id, "expiry": 60})
    acs.model.inform(acs_id)
    assert f"{acs_id}:task_{task['_id']}" in acs.model.faults
    acs.model.advance(timedelta(minutes=2).total_seconds())
    acs.model.inform(acs_id)
    assert acs.model.tasks == [] and acs.model.faults == {} and acs.rpcs("Reboot") == 1


def test_unique_key_replaces_the_stored_task_of_the_same_device(acs):
    acs_id = acs.model.add_device(Cpe(serial="S9", online=False))
    for _ in range(2):
        call(acs, "POST", f"/devices/{acs_id}/tasks", b'{"name": "reboot", "uniqueKey": "k"}')
    assert len(acs.model.tasks) == 1


def test_a_device_unknown_to_the_acs_is_404_no_such_device(acs):
    assert call(acs, "POST", "/devices/nope/tasks?connection_request", b'{"name": "reboot"}')[::2] == (
        404, b"No such device")
