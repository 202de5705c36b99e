"""Diagnostic helpers (API.md §4 update_status): thresholds, each outcome, the request's budget."""
import time
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.diagnostics import health
from chalicelib.drivers.protocol import DeviceRef
from chalicelib.drivers.simulator import measured
from chalicelib.operations import live_status
from tests.factories import BUDGET_SLACK_SECONDS

FIGURES = {"cpu_usage", "memory_usage", "disk_usage", "network_status", "last_ping", "helper"}
# Far above the request's whole budget: the device never answers in time.
UNANSWERED_MS = 20_000


def fresh(diags, device_id: int, token=...) -> dict:
    """update_status=true for one device: the newest entry, which the check just stored."""
    page = diags.page(f"?id={device_id}&update_status=true", token=token)
    return page["results"][0]


# --- thresholds --------------------------------------------------------------------------------------

@pytest.mark.parametrize("figure, code", [("cpu_usage", "CPU_HIGH"), ("memory_usage", "MEMORY_HIGH"),
                                          ("disk_usage", "DISK_LOW")])
@pytest.mark.parametrize("value, severity", [(0, None), (80, None), (80.1, "medium"), (90, "medium"),
                                             (90.1, "high"), (95, "high"), (95.1, "critical"), (100, "critical")])
def test_each_threshold_is_crossed_strictly_above_its_bound(figure, code, value, severity):
    issues = health.assess({figure: value})
    assert [(i["code"], i["severity"]) for i in issues] == ([(code, severity)] if severity else [])
    expected_status = {None: "healthy", "medium": "warning", "high": "warning", "critical": "critical"}[severity]
    assert health.measured("generic", {figure: value}).status == expected_status


def test_network_down_is_critical_and_issues_come_worst_first():
    issues = health.assess({"cpu_usage": 85, "disk_usage": 91, "network_status": "disconnected"})
    assert [(i["code"], i["severity"]) for i in issues] == [
        ("NETWORK_DOWN", "critical"), ("DISK_LOW", "high"), ("CPU_HIGH", "medium")]
    assert issues[1]["message"] == "Disk usage 91 % is above 90 %."
    assert health.assess({"network_status": "connected"}) == []


@pytest.mark.parametrize("helper, kept", [
    ("generic", {"cpu_usage", "memory_usage", "disk_usage", "network_status"}),
    ("cwmp_basic", {"cpu_usage", "memory_usage", "network_status"}),
    ("lte_modem", {"cpu_usage", "memory_usage", "network_status"}),
    ("lorawan", {"network_status"}),
    ("acme_probe", {"cpu_usage", "memory_usage", "disk_usage", "network_status"}),
])
def test_each_helper_keeps_and_judges_its_own_figures(helper, kept):
    outcome = health.measured(helper, {"cpu_usage": 1, "memory_usage": 2, "disk_usage": 99,
                                       "network_status": "connected", "temperature": 70})
    assert set(outcome.details) == kept | {"last_ping", "helper"}
    assert outcome.status == ("critical" if "disk_usage" in kept else "healthy")


def test_simulated_figures_are_steady_within_an_hour_varied_across_devices_and_hours_and_healthy(monkeypatch):
    one, two = (DeviceRef(id=n, serial_number=f"S{n}", manufacturer=None, product_class=None, address=None)
                for n in (1, 2))
    start = clock.now().replace(minute=0, second=1)
    monkeypatch.setattr(clock, "now", lambda: start)
    first = measured(one)
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=58))
    assert measured(one) == first
    assert measured(two) != first
    seen = []
    for hour in range(24):
        monkeypatch.setattr(clock, "now", lambda hour=hour: start + timedelta(hours=hour))
        seen.append(measured(one))
        assert health.assess(seen[-1]) == []
    assert len({figures["cpu_usage"] for figures in seen}) > 12


# --- update_status=true through the API -----------------------------------------------------------------

def test_update_status_stores_a_fresh_health_check_of_a_healthy_device(api, diags):
    device = diags.device(update_frequency=7200)
    token = api.token(diags.organization, permissions=("diagnostics:read",))   # reading is enough to ask

    page = diags.page(f"?id={device['id']}&update_status=true", token=token)

    [entry] = page["results"]
    assert page["count"] == 1
    assert (entry["diagnostic_type"], entry["status"], entry["issues"]) == ("health_check", "healthy", [])
    assert set(entry["details"]) == FIGURES
    assert entry["details"]["helper"] == "generic" and entry["details"]["network_status"] == "connected"
    assert entry["last_check"] == entry["created_at"] == entry["details"]["last_ping"]
    assert clock.parse_iso(entry["next_check_due"]) - clock.parse_iso(entry["last_check"]) == timedelta(hours=2)
    assert (entry["device_id"], entry["device_serial"]) == (device["id"], device["serial_number"])
    assert entry["performed_by"] == api.get("/admin/tokens/").json_body["results"][-1]["name"]
    assert diags.page(f"?id={device['id']}")["results"] == [entry]


@pytest.mark.parametrize("update_frequency, hours", [(None, 4), (60, 1), (3600, 1), (5400, 1.5), (86400, 24)])
def test_next_check_due_follows_update_frequency_never_sooner_than_an_hour(diags, update_frequency, hours):
    device = diags.device(update_frequency=update_frequency)
    entry = fresh(diags, device["id"])
    assert clock.parse_iso(entry["next_check_due"]) - clock.parse_iso(entry["last_check"]) == timedelta(hours=hours)


def test_forced_figures_raise_their_issues(diags):
    device = diags.device()
    diags.behave(device["id"], diagnostics={"disk_usage": 92.5})
    entry = fresh(diags, device["id"])
    assert (entry["status"], entry["details"]["disk_usage"]) == ("warning", 92.5)
    assert entry["issues"] == [{"severity": "high", "message": "Disk usage 92.5 % is above 90 %.", "code": "DISK_LOW"}]

    diags.behave(device["id"], diagnostics={"cpu_usage": 99, "network_status": "disconnected"})
    entry = fresh(diags, device["id"])
    assert entry["status"] == "critical"
    assert [(i["code"], i["severity"]) for i in entry["issues"]] == [("CPU_HIGH", "critical"),
                                                                     ("NETWORK_DOWN", "critical")]
    assert diags.page(f"?id={device['id']}&status=critical")["count"] == 1


def test_offline_device_gets_an_offline_entry(diags):
    device = diags.device()
    diags.behave(device["id"], online=False)
    entry = fresh(diags, device["id"])
    assert entry["status"] == "offline"
    assert [(i["code"], i["severity"]) for i in entry["issues"]] == [("DEVICE_UNREACHABLE", "critical")]
    assert entry["details"]["error"]["code"] == "CONNECTION_REQUEST_FAILED"


def test_device_that_cannot_run_its_helper_gets_a_failed_entry(diags):
    device = diags.device()
    diags.behave(device["id"], diagnostics={"supported": False})
    entry = fresh(diags, device["id"])
    assert entry["status"] == "failed"
    assert [(i["code"], i["severity"]) for i in entry["issues"]] == [("HELPER_FAILED", "medium")]
    assert entry["details"] == {"helper": "generic", "error": {"code": "NOT_SUPPORTED", "message": entry["details"][
        "error"]["message"]}}


def test_the_device_types_helper_decides_what_is_kept(api, diags):
    basic = api.device(diags.organization, api.device_type(diagnostic_helper="cwmp_basic"))
    unknown = api.device(diags.organization, api.device_type(diagnostic_helper="acme_probe"))
    for device in (basic, unknown):
        diags.behave(device["id"], diagnostics={"disk_usage": 99})
    entry = fresh(diags, basic["id"])
    assert (entry["details"]["helper"], entry["status"], entry["issues"]) == ("cwmp_basic", "healthy", [])
    assert "disk_usage" not in entry["details"]
    # A helper name Fleetline does not know is run and judged as generic.
    entry = fresh(diags, unknown["id"])
    assert (entry["details"]["helper"], entry["status"]) == ("acme_probe", "critical")


def test_a_device_that_does_not_answer_in_budget_gets_no_entry_and_the_answer_comes_in_time(diags):
    device = diags.device()
    diags.behave(device["id"], latency_ms=UNANSWERED_MS)
    before = diags.page(f"?id={device['id']}")

    started = time.monotonic()
    page = diags.page(f"?id={device['id']}&update_status=true")
    elapsed = time.monotonic() - started

    assert elapsed < live_status.BUDGET_SECONDS + BUDGET_SLACK_SECONDS
    assert page == before == {"count": 0, "next": None, "previous": None, "results": []}


def test_without_id_the_devices_on_the_page_are_checked_concurrently(diags):
    quick, slow, other, unlisted = diags.device(), diags.device(), diags.device(), diags.device()
    for device in (quick, slow, other):
        diags.create(device["id"], diagnostic_type="issue_report")
    diags.behave(slow["id"], latency_ms=UNANSWERED_MS)
    diags.behave(other["id"], latency_ms=400)

    started = time.monotonic()
    page = diags.page("?update_status=true")
    elapsed = time.monotonic() - started

    assert elapsed < live_status.BUDGET_SECONDS + BUDGET_SLACK_SECONDS
    checks = {entry["device_id"] for entry in page["results"] if entry["diagnostic_type"] == "health_check"}
    assert checks == {quick["id"], other["id"]}
    assert page["count"] == 5
    assert diags.page(f"?id={unlisted['id']}")["count"] == 0


def test_simulator_takes_forced_figures_and_refuses_bad_ones(api, diags, refused):
    device = diags.device()
    path = f"/admin/simulator/{device['id']}/"
    response = api.put(path, {"diagnostics": {"disk_usage": 95, "network_status": "disconnected"}})
    assert response.status_code == 200, response.body
    expected = {"device_id": device["id"], "online": True, "latency_ms": 0, "fail": [],
                "diagnostics": {"cpu_usage": None, "memory_usage": None, "disk_usage": 95.0,
                                "network_status": "disconnected", "supported": True}}
    assert response.json_body == api.get(path).json_body == expected
    for bad in ({"disk_usage": 101}, {"cpu_usage": -1}, {"network_status": "flaky"}, {"temperature": 80}):
        refused(api.put(path, {"diagnostics": bad}), 422, "VALIDATION_FAILED")
