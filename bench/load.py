"""`make load`: a bounded mixed load against `make run`, from outside, beside a bare DynamoDB GetItem.

Starts the local system as `make run` does (`python -m local.run` as a child, waiting until it has
written .local/tokens.json and prints that it is up), then for LOAD_SECONDS (default 30) runs
LOAD_THREADS (default 4) HTTP clients over keep-alive connections with a mixed workload: device reads
and lists, telemetry ingestion, summary reads, reboots and operation lists. One more thread meanwhile
times a bare GetItem of a device item on the same moto server with boto3, so the ratio of an
endpoint's latency to it is our overhead (Chalice, middleware, auth, rate limit, our queries) over
one request to the same stand-in under the same load. A route app.py does not declare (yet) is
skipped and said so. Every answer other than the expected status counts as an error; so does an
ingestion answer that rejected records. Writes docs/load.md; Ctrl-C or the end stops every process.
Like `make run`, it writes .local/tokens.json and .local/*.log: not beside another make run.

    make load                       # LOAD_SECONDS=30 LOAD_THREADS=4, ports as make run (PORT, MOTO_PORT)
"""
import http.client
import itertools
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from local.processes import ChildProcess, StartFailed, Stopped, env_number, port_is_free, stop_on_signals

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "load.md"
TOKENS = ROOT / ".local" / "tokens.json"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 300
RECORDS_PER_POST = 10
GET_ITEM = "bare DynamoDB GetItem (boto3 → moto)"


@dataclass
class Endpoint:
    name: str
    method: str
    route: str         # as declared in app.py, to skip what is not there
    weight: int
    expect: int


ENDPOINTS = [
    Endpoint("GET /inventory_device/{id}/", "GET", "/inventory_device/{device_id}", 30, 200),
    Endpoint("GET /inventory_device/?limit=20", "GET", "/inventory_device", 15, 200),
    Endpoint("POST /telemetry/connection_events/ (10 records)", "POST", "/telemetry/connection_events", 15, 202),
    Endpoint("POST /telemetry/app_sessions/ (10 records)", "POST", "/telemetry/app_sessions", 15, 202),
    Endpoint("GET /device_app_connection_summary/?time_range=24h", "GET", "/device_app_connection_summary", 10, 200),
    Endpoint("PATCH /inventory_device/{id}/ reboot", "PATCH", "/inventory_device/{device_id}", 5, 200),
    Endpoint("GET /inventory_device/{id}/operations/", "GET", "/inventory_device/{device_id}/operations", 10, 200),
]


@dataclass
class Tally:
    seconds: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


class Results:
    def __init__(self):
        self._lock = threading.Lock()
        self.by_name: dict[str, Tally] = {}

    def add(self, name: str, seconds: float, error: str | None = None) -> None:
        with self._lock:
            tally = self.by_name.setdefault(name, Tally())
            tally.seconds.append(seconds)
            if error:
                tally.errors[error] += 1


class Fleet:
    """Tokens and device ids of the demo fleet; each reboot goes to a device not rebooted yet in this run."""

    def __init__(self, tokens: dict, devices: dict[str, list[int]]):
        self.tokens = tokens
        self.devices = devices
        self._rebootable = itertools.cycle([(org, d) for org, ids in devices.items() for d in ids])
        self._lock = threading.Lock()

    def next_reboot(self) -> tuple[str, int]:
        with self._lock:
            return next(self._rebootable)


def request(connection: http.client.HTTPConnection, method: str, path: str, token: str, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def call(endpoint: Endpoint, fleet: Fleet, rng: random.Random) -> tuple[str, str, str, object]:
    """(method, path, token, body) of one request to `endpoint`."""
    org = rng.choice(list(fleet.devices))
    admin, viewer = fleet.tokens["organizations"][org]["admin"], fleet.tokens["organizations"][org]["viewer"]
    device = rng.choice(fleet.devices[org])
    if endpoint.route == "/inventory_device/{device_id}" and endpoint.method == "GET":
        return "GET", f"/inventory_device/{device}/", viewer, None
    if endpoint.route == "/inventory_device":
        return "GET", "/inventory_device/?limit=20", viewer, None
    if endpoint.route.startswith("/telemetry/"):
        return "POST", endpoint.route + "/", admin, {"records": [
            _record(endpoint.route, rng.choice(fleet.devices[org]), rng) for _ in range(RECORDS_PER_POST)]}
    if endpoint.route == "/device_app_connection_summary":
        return "GET", "/device_app_connection_summary/?time_range=24h", viewer, None
    if endpoint.method == "PATCH":
        org, device = fleet.next_reboot()
        return "PATCH", f"/inventory_device/{device}/", fleet.tokens["organizations"][org]["admin"], {"reboot": True}
    return "GET", f"/inventory_device/{device}/operations/", viewer, None


def _record(route: str, device: int, rng: random.Random) -> dict:
    at = (datetime.now(UTC) - timedelta(minutes=rng.randint(1, 600))).isoformat(timespec="seconds")
    if route.endswith("connection_events"):
        return {"event_id": str(uuid.uuid4()), "device_id": device, "occurred_at": at,
                "event": rng.choice(["Start", "Interim", "Stop"]),
                "attributes": {"BytesUsed": str(rng.randint(0, 10**7)), "FramedIpAddress": "10.0.0.7"}}
    return {"event_id": str(uuid.uuid4()), "device_id": device, "started_at": at, "app_id": "app-7",
            "app_name": "Telemetry Uplink", "app_category": "iot", "success": rng.random() < 0.95,
            "response_time_ms": rng.randint(20, 400), "duration_s": rng.randint(1, 600), "bytes": rng.randint(0, 10**6)}


STOPPING = threading.Event()   # set on Ctrl-C, so no thread calls a server being stopped


def client_loop(port: int, fleet: Fleet, endpoints: list[Endpoint], results: Results, until: float, seed: int):
    rng = random.Random(seed)
    weights = [e.weight for e in endpoints]
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    while time.monotonic() < until and not STOPPING.is_set():
        endpoint = rng.choices(endpoints, weights)[0]
        method, path, token, body = call(endpoint, fleet, rng)
        started = time.perf_counter()
        try:
            status, payload = request(connection, method, path, token, body)
        except (OSError, http.client.HTTPException) as error:
            results.add(endpoint.name, time.perf_counter() - started, type(error).__name__)
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
            continue
        elapsed = time.perf_counter() - started
        error = None
        if status != endpoint.expect:
            error = f"{status} {_code(payload)}"
        elif endpoint.route.startswith("/telemetry/") and json.loads(payload).get("rejected"):
            error = "records rejected"
        results.add(endpoint.name, elapsed, error)
    connection.close()


def _code(payload: bytes) -> str:
    try:
        return json.loads(payload)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""


def get_item_loop(table: str, key: dict, results: Results, until: float) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib import aws

    client = aws.dynamodb()   # the app's own client settings; AWS_ENDPOINT_URL points it at moto
    client.get_item(TableName=table, Key=key)   # the connection is made before timing starts
    while time.monotonic() < until and not STOPPING.is_set():
        started = time.perf_counter()
        try:
            error = None if "Item" in client.get_item(TableName=table, Key=key) else "item missing"
        except (BotoCoreError, ClientError) as failure:
            error = type(failure).__name__
        results.add(GET_ITEM, time.perf_counter() - started, error)


def demo_devices(port: int, tokens: dict) -> dict[str, list[int]]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    devices = {}
    for org, pair in tokens["organizations"].items():
        status, payload = request(connection, "GET", "/inventory_device/?limit=100", pair["admin"])
        if status != 200:
            raise StartFailed(f"listing the demo devices answered {status} {payload[:200]!r}; see .local/api.log")
        devices[org] = [d["id"] for d in json.loads(payload)["results"]]
    connection.close()
    return {org: ids for org, ids in devices.items() if ids}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(results: Results, seconds: int, threads: int, skipped: list[Endpoint], command: str,
           load_before: float) -> str:
    base = results.by_name.get(GET_ITEM)
    base_p50, base_p99 = (percentile(base.seconds, 50), percentile(base.seconds, 99)) if base else (None, None)
    lines = [
        "# Load run against `make run`", "",
        f"Produced by `{command}` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"{os.cpu_count()} CPUs: {threads} HTTP client threads for {seconds} s over keep-alive connections "
        "to `chalice local` on 127.0.0.1, the demo fleet, the agent and schedules running, plus one thread "
        "timing a bare GetItem on the same moto server in the same run. Latencies in ms; the ratio is an "
        "endpoint's percentile over the bare GetItem's same percentile (our overhead per request to the "
        "stand-in). Everything shares this machine's cores (load average before the run: "
        f"{load_before:.1f}), so absolute figures are this machine's, not AWS's; the ratios travel better.", "",
        "| Endpoint | Requests | Errors | p50 ms | p99 ms | p50 ratio | p99 ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total, errors = 0, Counter()
    for name, tally in sorted(results.by_name.items(), key=lambda item: (item[0] == GET_ITEM, item[0])):
        p50, p99 = percentile(tally.seconds, 50), percentile(tally.seconds, 99)
        ratios = ("—", "—") if name == GET_ITEM or not base else (f"{p50 / base_p50:.1f}×", f"{p99 / base_p99:.1f}×")
        lines.append(f"| {name} | {len(tally.seconds)} | {sum(tally.errors.values())} | {p50 * 1000:.1f} | "
                     f"{p99 * 1000:.1f} | {ratios[0]} | {ratios[1]} |")
        if name != GET_ITEM:
            total += len(tally.seconds)
            errors.update(tally.errors)
    lines += ["", f"HTTP requests: {total} ({total / seconds:.0f}/s), errors: {sum(errors.values())}"
              + (f" ({', '.join(f'{n} × {e}' for e, n in errors.most_common())})" if errors else " (target: none)")
              + "."]
    if skipped:
        lines += ["", "Skipped (route not in app.py when this ran): "
                  + ", ".join(f"`{e.method} {e.route}`" for e in skipped) + "."]
    return "\n".join(lines) + "\n"


def _number(name: str, default: int, high: int) -> int:
    try:
        return env_number(name, default, high, "a number")
    except ValueError as problem:
        raise SystemExit(f"make load: {problem}") from None


def main() -> int:
    seconds, threads = _number("LOAD_SECONDS", 30, 600), _number("LOAD_THREADS", 4, 64)
    port, moto_port = _number("PORT", 8000, 65535), _number("MOTO_PORT", 5000, 65535)
    busy = [str(p) for p in (port, moto_port) if not port_is_free(p)]
    if busy:
        print(f"make load: port {' and '.join(busy)} in use (a make run?); stop it or set PORT/MOTO_PORT",
              file=sys.stderr)
        return 1
    from local.run import local_environment, use_environment

    use_environment({**local_environment(moto_port), "PORT": str(port), "MOTO_PORT": str(moto_port)})
    from app import app  # after the environment: settings and powertools read it at import

    endpoints = [e for e in ENDPOINTS if e.method in app.routes.get(e.route, {})]
    skipped = [e for e in ENDPOINTS if e not in endpoints]
    stop_on_signals()
    started = time.time()
    workers: list[threading.Thread] = []
    system = ChildProcess("make run", [sys.executable, "-m", "local.run"], dict(os.environ),
                          ROOT / ".local" / "load-run.log", ROOT)
    try:
        system.wait_until(lambda: TOKENS.exists() and TOKENS.stat().st_mtime >= started
                          and "Fleetline is up" in system.log_path.read_text(errors="replace"),
                          START_TIMEOUT_SECONDS, "come up")
        tokens = json.loads(TOKENS.read_text())
        fleet = Fleet(tokens, demo_devices(port, tokens))
        for endpoint in skipped:
            print(f"skipped {endpoint.method} {endpoint.route}: not declared in app.py", file=sys.stderr)
        print(f"load: {threads} threads for {seconds} s against http://{HOST}:{port} ...", file=sys.stderr)
        from chalicelib.config import get_settings
        from chalicelib.store import schema

        load_before = os.getloadavg()[0]
        results = Results()
        until = time.monotonic() + seconds
        first_device = next(iter(fleet.devices.values()))[0]
        workers += [threading.Thread(target=client_loop, args=(port, fleet, endpoints, results, until, i),
                                     daemon=True) for i in range(threads)]
        workers.append(threading.Thread(target=get_item_loop, daemon=True, args=(
            get_settings().table_name, schema.device_key(first_device), results, until)))
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():   # join in slices, so Ctrl-C is seen at once
                worker.join(0.5)
        command = "make load" + "".join(f" {n}={os.environ[n]}" for n in ("LOAD_SECONDS", "LOAD_THREADS")
                                        if n in os.environ)
        text = report(results, seconds, threads, skipped, command, load_before)
        REPORT.write_text(text)
        print(text)
        errors = sum(sum(t.errors.values()) for t in results.by_name.values())
        return 1 if errors else 0
    except Stopped as stopped:
        print(f"\n{stopped}: stopping.", file=sys.stderr)
        STOPPING.set()
        for worker in workers:
            worker.join(5)
        return 130
    except StartFailed as error:
        print(f"make load: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        system.stop()


if __name__ == "__main__":
    sys.exit(main())
