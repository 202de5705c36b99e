"""`make load` on locust (bench/locustfile.py, bench/load_runner.py, bench/load_report.py): the workload calls routes
that exist and gets the answers it expects, a run stops by itself at its request count, it only ever targets this
machine, and the report gives p50/p99 per endpoint, errors and each one's ratio to the bare GetItem.

Locust runs in a subprocess (importing it here would patch this process's standard library with gevent's),
against `chalice local`'s server in this process (tests/docs/server.py) and a small fleet made through the API.
"""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import app
from bench.load_report import GET_ITEM, Row, loopback_only, read_stats, report
from tests.docs.server import serving

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
CALL = re.compile(r'self\._call\([^,]+,\s*"(?P<method>[A-Z]+)",\s*f?"(?P<path>/[^"?]*)')


def route_pattern(route: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "/?$")


def test_every_call_of_the_locustfile_is_a_route_of_app_py():
    calls = {(m["method"], re.sub(r"\{[^}]+\}", "1", m["path"])) for m in CALL.finditer(LOCUSTFILE.read_text())}
    assert len(calls) == 7
    routes = [(method, route_pattern(path)) for path, methods in app.routes.items() for method in methods]
    missing = [call for call in calls if not any(m == call[0] and p.match(call[1]) for m, p in routes)]
    assert not missing


@pytest.mark.parametrize("url, allowed", [
    ("http://127.0.0.1:8000", True), ("http://127.9.9.9", True), ("http://[::1]:5000", True),
    ("http://localhost:8000", True), ("http://10.0.0.1:8000", False), ("http://192.168.1.2", False),
    ("https://api.example.com", False), ("http://0.0.0.0:8000", False), ("", False)])
def test_only_loopback_addresses_are_load_targets(url, allowed):
    assert loopback_only(url) is allowed


def test_the_report_gives_each_endpoint_its_ratio_to_the_bare_get_item_and_counts_errors():
    rows = [Row(GET_ITEM, 100, 0, 20, 60), Row("GET /x/", 100, 1, 60, 300)]
    text = report(rows, [("GET /x/: 500 INTERNAL_ERROR", 1)], command="make load", seconds=10, users=2,
                  load_before=0.5, locust_version="2.47.0")
    assert "| GET /x/ | 100 | 1 | 60 | 300 | 3.0× | 5.0× |" in text
    assert f"| {GET_ITEM} | 100 | 0 | 20 | 60 | — | — |" in text
    assert "HTTP requests: 100 (10/s), errors: 1 (1 × GET /x/: 500 INTERNAL_ERROR)." in text


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """The local API, and the fleet file the locustfile reads: two organizations with their tokens and devices."""
    with serving() as served:
        api, tokens, devices = served.api, {"organizations": {}}, {}
        device_type = api.device_type()
        for name in ("load-a", "load-b"):
            org = api.organization(name)
            tokens["organizations"][str(org)] = {
                "admin": api.token(org, ("devices:read", "devices:write", "devices:operate", "telemetry:write"),
                                   rate_limit_per_minute=100_000),
                "viewer": api.token(org, ("devices:read", "reports:read"), rate_limit_per_minute=100_000)}
            devices[str(org)] = [api.device(org, device_type)["id"] for _ in range(3)]
        path = tmp_path_factory.mktemp("load") / "fleet.json"
        path.write_text(json.dumps({"tokens": tokens, "devices": devices}))
        yield served.url, path


def locust(url: str, fleet_path: Path, csv: Path, max_requests: int, **env) -> tuple[subprocess.CompletedProcess,
                                                                                     float]:
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url, "--users", "3",
            "--spawn-rate", "3", "--run-time", "120s", "--stop-timeout", "2", "--csv", str(csv), "--only-summary",
            "--loglevel", "WARNING", "ApiUser"]      # the GetItem user needs moto's server: not here
    started = time.monotonic()
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=180, env={
        "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "FLEETLINE_LOAD_FLEET": str(fleet_path),
        "LOAD_MAX_REQUESTS": str(max_requests), "AWS_ENDPOINT_URL": "http://127.0.0.1:1", **env})
    return run, time.monotonic() - started


def test_locust_runs_the_mix_headless_and_stops_by_itself_at_its_request_count(fleet, tmp_path):
    url, fleet_path = fleet
    run, seconds = locust(url, fleet_path, tmp_path / "load", max_requests=20)
    assert run.returncode == 0, run.stdout + run.stderr
    rows, errors = read_stats(tmp_path / "load")
    assert errors == [] and all(row.failures == 0 for row in rows), errors
    # Stopped by the count long before --run-time's 120 s: no request starts past it.
    assert sum(row.requests for row in rows) == 20
    assert seconds < 100
    assert "| GET /inventory_device/{id}/ |" in report(rows, errors, command="test", seconds=1, users=3,
                                                       load_before=0, locust_version="test")


def test_locust_refuses_an_aws_endpoint_that_is_not_this_machine(fleet, tmp_path):
    # The API host is loopback here, so even a broken guard would send nothing elsewhere: ApiUser never calls AWS.
    url, fleet_path = fleet
    run, _ = locust(url, fleet_path, tmp_path / "refused", max_requests=10, AWS_ENDPOINT_URL="http://192.0.2.1")
    assert run.returncode != 0
    assert "only 127.0.0.0/8, ::1 or localhost are load targets" in run.stdout + run.stderr
    assert not (tmp_path / "refused_stats.csv").exists() or read_stats(tmp_path / "refused")[0] == []
