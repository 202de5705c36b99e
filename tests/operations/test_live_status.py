"""Live status (API.md §3): `update_status=true` asks the simulated devices before answering, within 3 s."""
import time

from chalicelib.operations import live_status
from tests.factories import BUDGET_SLACK_SECONDS

SYSTEM = {"token_id": None, "name": "system"}
# Far above the request's whole budget: the device never answers in time.
UNANSWERED_MS = 20_000


def count_of(fleet, status: str) -> int:
    response = fleet.api.get(f"/inventory_device/?organization={fleet.organization}&status={status}&limit=1")
    assert response.status_code == 200, response.body
    return response.json_body["count"]


def test_offline_device_shows_down_and_the_store_follows(fleet):
    device = fleet.device(status="Up")
    fleet.behave(device["id"], online=False)
    assert (count_of(fleet, "true"), count_of(fleet, "false")) == (1, 0)

    live = fleet.read(device["id"], "?update_status=true")

    assert live["status"] == "Down"
    assert live["status_change"] > device["status_change"]
    stored = fleet.read(device["id"])
    assert stored == live
    assert (count_of(fleet, "true"), count_of(fleet, "false")) == (0, 1)
    [update] = fleet.audit(device["id"], "update")
    assert update["changes"] == {"status": {"old": "Up", "new": "Down"}}
    assert update["actor"] == SYSTEM


def test_online_device_shows_up_with_its_last_connection(fleet):
    device = fleet.device()   # stored Down until it is seen
    assert device["status"] == "Down" and device["last_connection"] is None

    live = fleet.read(device["id"], "?update_status=true")

    assert live["status"] == "Up"
    assert live["last_connection"] == live["status_change"] is not None
    assert fleet.read(device["id"]) == live
    assert (count_of(fleet, "true"), count_of(fleet, "false")) == (1, 0)


def test_unchanged_status_writes_nothing(fleet):
    device = fleet.device(status="Up")
    before = fleet.api.get(f"/inventory_device/{device['id']}/")

    live = fleet.api.get(f"/inventory_device/{device['id']}/?update_status=true")

    assert live.json_body == before.json_body and live.headers["ETag"] == before.headers["ETag"]
    assert fleet.audit(device["id"], "update") == []


def test_list_refreshes_every_device_on_the_page(fleet):
    offline, online, unanswered = fleet.device(status="Up"), fleet.device(), fleet.device(status="Up")
    fleet.behave(offline["id"], online=False)
    fleet.behave(unanswered["id"], latency_ms=UNANSWERED_MS)

    started = time.monotonic()
    response = fleet.api.get(f"/inventory_device/?organization={fleet.organization}&update_status=true")
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.body
    statuses = {d["id"]: d["status"] for d in response.json_body["results"]}
    assert statuses == {offline["id"]: "Down", online["id"]: "Up", unanswered["id"]: "Up"}
    assert elapsed < live_status.BUDGET_SECONDS + BUDGET_SLACK_SECONDS
    assert {d["id"]: d["status"] for d in fleet.api.get(
        f"/inventory_device/?organization={fleet.organization}").json_body["results"]} == statuses


def test_device_that_does_not_answer_in_time_keeps_its_stored_status_and_the_answer_comes_in_budget(fleet):
    device = fleet.device(status="Up")
    fleet.behave(device["id"], latency_ms=UNANSWERED_MS)
    before = fleet.api.get(f"/inventory_device/{device['id']}/")

    started = time.monotonic()
    live = fleet.api.get(f"/inventory_device/{device['id']}/?update_status=true")
    elapsed = time.monotonic() - started

    assert live.status_code == 200, live.body
    assert elapsed < live_status.BUDGET_SECONDS + BUDGET_SLACK_SECONDS
    assert live.json_body["status"] == "Up"
    assert live.headers["ETag"] == before.headers["ETag"]
    assert fleet.audit(device["id"], "update") == []
