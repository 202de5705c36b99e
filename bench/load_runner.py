"""`make load`: locust, headless and bounded, against the local system; the report into docs/load.md.

Starts the local system as `make run` does (`python -m local.run` as a child, waiting until it has written
.local/tokens.json and says it is up), writes the fleet file the locustfile reads (tokens, the demo devices,
a device item's key for the bare GetItem), waits for the first scheduled rollups to be done, then runs locust
headless for LOAD_SECONDS (default 30) with LOAD_THREADS (default 4) API users and one GetItem user, at most
LOAD_MAX_REQUESTS requests (default 100,000), against http://127.0.0.1:PORT only. Every answer other than the
expected status counts as an error, and so does an ingestion answer that rejected records. Writes docs/load.md
from locust's CSV statistics and stops everything; exits 1 when there were errors. Like `make run`, it writes
.local/tokens.json and .local/*.log: not beside another make run.

    make load                       # LOAD_SECONDS=30 LOAD_THREADS=4 LOAD_MAX_REQUESTS=100000; PORT, MOTO_PORT
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

from bench.load_report import read_stats, report
from local.processes import ChildProcess, StartFailed, Stopped, env_number, port_is_free, stop_on_signals

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "load.md"
STATE = ROOT / ".local"
TOKENS = STATE / "tokens.json"
FLEET = STATE / "load-fleet.json"
CSV_PREFIX = STATE / "load"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 300
# make run fires every schedule as it starts: the first rollups read the demo's week of telemetry. The load starts
# once they are done (the summary has figures), so that it measures the steady state rather than that catch-up.
SETTLE_TIMEOUT_SECONDS = 180
STOP_GRACE_SECONDS = 30        # locust's own stop, after --run-time, before it is ended


def fleet_file(port: int, tokens: dict) -> dict:
    """What the locustfile needs: tokens, the demo devices per organization, and a device item to GetItem."""
    from chalicelib.config import get_settings
    from chalicelib.store import schema

    devices = {}
    for org, pair in tokens["organizations"].items():
        request = urllib.request.Request(f"http://{HOST}:{port}/inventory_device/?limit=100",
                                         headers={"Authorization": f"Bearer {pair['admin']}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            devices[org] = [device["id"] for device in json.load(response)["results"]]
    devices = {org: ids for org, ids in devices.items() if ids}
    if not devices:
        raise StartFailed("the demo fleet has no devices; see .local/load-run.log")
    first = next(iter(devices.values()))[0]
    return {"tokens": tokens, "devices": devices, "table": get_settings().table_name,
            "item_key": schema.device_key(first)}


def settled(port: int, tokens: dict) -> bool:
    """True once the first scheduled rollups have run: the summary answers with a `last_updated`."""
    pair = next(iter(tokens["organizations"].values()))
    request = urllib.request.Request(f"http://{HOST}:{port}/device_app_connection_summary/?limit=1",
                                     headers={"Authorization": f"Bearer {pair['viewer']}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["summary"]["last_updated"] is not None
    except (OSError, ValueError, KeyError):
        return False


def run_locust(port: int, seconds: int, users: int, max_requests: int) -> int:
    """Locust headless against the local API; its statistics in CSV_PREFIX_*.csv."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLEETLINE_LOAD_FLEET": str(FLEET),
           "LOAD_MAX_REQUESTS": str(max_requests)}
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
            "--host", f"http://{HOST}:{port}", "--users", str(users + 1), "--spawn-rate", str(users + 1),
            "--run-time", f"{seconds}s", "--stop-timeout", "5", "--csv", str(CSV_PREFIX), "--only-summary",
            "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    return subprocess.run(argv, env=env, cwd=ROOT, timeout=seconds + STOP_GRACE_SECONDS).returncode


def _number(name: str, default: int, high: int) -> int:
    try:
        return env_number(name, default, high, "a number")
    except ValueError as problem:
        raise SystemExit(f"make load: {problem}") from None


def main() -> int:
    seconds, users = _number("LOAD_SECONDS", 30, 600), _number("LOAD_THREADS", 4, 64)
    max_requests = _number("LOAD_MAX_REQUESTS", 100_000, 1_000_000)
    port, moto_port = _number("PORT", 8000, 65535), _number("MOTO_PORT", 5000, 65535)
    busy = [str(p) for p in (port, moto_port) if not port_is_free(p)]
    if busy:
        print(f"make load: port {' and '.join(busy)} in use (a make run?); stop it or set PORT/MOTO_PORT",
              file=sys.stderr)
        return 1
    from local.run import local_environment, use_environment

    use_environment({**local_environment(moto_port), "PORT": str(port), "MOTO_PORT": str(moto_port)})
    stop_on_signals()
    started = time.time()
    system = ChildProcess("make run", [sys.executable, "-m", "local.run"], dict(os.environ),
                          STATE / "load-run.log", ROOT)
    try:
        system.wait_until(lambda: TOKENS.exists() and TOKENS.stat().st_mtime >= started
                          and "Fleetline is up" in system.log_path.read_text(errors="replace"),
                          START_TIMEOUT_SECONDS, "come up")
        tokens = json.loads(TOKENS.read_text())
        FLEET.write_text(json.dumps(fleet_file(port, tokens)))
        print("load: waiting for the first rollups of the demo's telemetry ...", file=sys.stderr)
        try:
            system.wait_until(lambda: settled(port, tokens) or time.sleep(2), SETTLE_TIMEOUT_SECONDS, "settle")
            settle = "from when the first rollups of the demo's week of telemetry were done"
        except StartFailed:
            if not system.alive():
                raise
            # A slow machine: the load is measured anyway, and the report says so.
            settle = f"the first rollups of the demo's week of telemetry still running after {SETTLE_TIMEOUT_SECONDS} s"
        for old in STATE.glob("load_*.csv"):
            old.unlink()
        load_before = os.getloadavg()[0]
        print(f"load: locust, {users} users + 1 GetItem user for {seconds} s against http://{HOST}:{port} ...",
              file=sys.stderr)
        status = run_locust(port, seconds, users, max_requests)
        if status != 0:
            raise StartFailed(f"locust exited with status {status}")
        rows, errors = read_stats(CSV_PREFIX)
        command = "make load" + "".join(f" {n}={os.environ[n]}" for n in ("LOAD_SECONDS", "LOAD_THREADS",
                                                                           "LOAD_MAX_REQUESTS") if n in os.environ)
        text = report(rows, errors, command=command, seconds=seconds, users=users, load_before=load_before,
                      locust_version=version("locust"), settle=settle)
        REPORT.write_text(text)
        print(text)
        return 1 if errors else 0
    except Stopped as stopped:
        print(f"\n{stopped}: stopping.", file=sys.stderr)
        return 130
    except (StartFailed, subprocess.TimeoutExpired) as error:
        print(f"make load: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        system.stop()


if __name__ == "__main__":
    sys.exit(main())
