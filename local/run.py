"""`make run`: the whole system on this machine, with moto's server standing in for AWS (API.md §10).

moto server -> table, queues and key (local/provision.py) -> `chalice local` -> demo fleet and
.local/tokens.json -> the API answers -> background workers -> curl examples. Ctrl-C or SIGTERM stops
everything it started and exits 0. moto keeps its state in memory, so every run starts afresh.
"""
import os
import signal
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from chalicelib.cli import stage_environment
from local.demo_catalogue import DEFAULT_DEVICES
from local.processes import (
    ChildProcess,
    StartFailed,
    Stopped,
    accepts_connections,
    env_number,
    port_is_free,
    stop_on_signals,
)

STARTED = time.monotonic()
ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"
TOKENS_PATH = STATE_DIR / "tokens.json"
HOST = "127.0.0.1"
STAGE = "dev"
START_TIMEOUT_SECONDS = 30


Worker = Callable[[threading.Event], None]


class BackgroundWorkers:
    """What `chalice local` does not run (STYLE fact 9): queue consumers and schedules, as threads of make run.

    A worker is a function that loops until the event it is given is set: for example one that
    long-polls the operations queue and hands each batch to app.handler_map["operations_agent_handler"],
    deleting what succeeded, or one that calls a scheduled handler every time its rate comes round.
    """

    def __init__(self):
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def add(self, name: str, worker: Worker) -> None:
        self._threads.append(threading.Thread(target=self._run, args=(name, worker), name=name, daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5) -> None:
        self.stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _run(self, name: str, worker: Worker) -> None:
        try:
            worker(self.stopping)
        except Exception:  # a thread's exception is otherwise lost; say which worker died and why
            print(f"background worker {name} stopped:", file=sys.stderr)
            traceback.print_exc()


def background_workers() -> BackgroundWorkers:
    """The workers started once the API answers: the operations agent, the rollups' consumers and the schedules."""
    from app import app  # imported here: the environment must be set first
    from chalicelib.config import get_settings
    from local.workers import agent_loop, bulk_loop, lanes_loop, schedule_loop

    workers = BackgroundWorkers()
    workers.add("agent", agent_loop(app))
    for n in range(get_settings().rollup_lanes):   # one consumer a lane, as Lambda runs one per busy message group
        workers.add(f"rollups-{n}", lanes_loop(app))
    workers.add("schedules", schedule_loop(app))
    workers.add("bulk operations", bulk_loop(app))
    return workers


def local_environment(moto_port: int) -> dict[str, str]:
    """The dev stage's variables, pointed at moto with fake credentials."""
    return {
        **stage_environment(STAGE),
        "AWS_ENDPOINT_URL": f"http://{HOST}:{moto_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        # No CloudWatch here: metric blobs would only clutter the console and the logs.
        "POWERTOOLS_METRICS_DISABLED": "true",
        # The audit trail (a GSI) is read up to this long ago: the rollups that fire as the workers start must see the
        # demo's devices created just before (chalicelib/rollups/devices.py). moto's GSIs are never behind.
        "ROLLUP_SETTLE_SECONDS": "2",
    }


def use_environment(env: dict[str, str]) -> None:
    """Put env in os.environ for this process and its children, dropping what would lead boto3 elsewhere."""
    for name in list(os.environ):
        # A profile outranks the fake keys, and a per-service endpoint outranks AWS_ENDPOINT_URL.
        if name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN") or name.startswith(
                "AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update(env)


def api_answers(port: int, token: str) -> bool:
    request = urllib.request.Request(f"http://{HOST}:{port}/inventory_device/?limit=1",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    try:
        api_port = env_number("PORT", 8000, 65535, "a port number")
        moto_port = env_number("MOTO_PORT", 5000, 65535, "a port number")
        demo_devices = env_number("DEMO_DEVICES", DEFAULT_DEVICES, 100_000, "a number of devices")
    except ValueError as error:
        print(f"make run: {error}", file=sys.stderr)
        return 2
    busy = [f"{name}={port}" for name, port in (("MOTO_PORT", moto_port), ("PORT", api_port)) if not port_is_free(port)]
    if busy:
        print(f"make run: {' and '.join(busy)} already in use on {HOST} (another make run?). "
              f"Stop what listens there, or choose other ports: PORT=8001 MOTO_PORT=5001 make run", file=sys.stderr)
        return 1

    use_environment(local_environment(moto_port))
    stop_on_signals()
    children: list[ChildProcess] = []
    workers = background_workers()
    try:
        moto = ChildProcess("moto server",
                            [sys.executable, "-m", "local.moto_server", "-H", HOST, "-p", str(moto_port)],
                            dict(os.environ), STATE_DIR / "moto.log", ROOT)
        children.append(moto)
        moto.wait_until(lambda: accepts_connections(moto_port), START_TIMEOUT_SECONDS, f"listen on port {moto_port}")

        # Imported only now: settings, boto3 and powertools read the environment set above.
        from local.demo import load_demo, write_tokens
        from local.examples import curl_examples
        from local.provision import provision
        from local.telemetry_demo import load_demo_telemetry

        provision()
        # Started before the demo loads, so its start-up overlaps the loading.
        # chalice's own CLI, with a listen backlog for concurrent clients (local/chalice_local.py).
        api = ChildProcess("chalice local", [sys.executable, "-m", "local.chalice_local", "local", "--host", HOST,
                                             "--port", str(api_port), "--stage", STAGE, "--no-autoreload"],
                           dict(os.environ), STATE_DIR / "api.log", ROOT)
        children.append(api)

        load_started = time.monotonic()
        fleet = load_demo(devices=demo_devices)
        load_demo_telemetry(fleet.devices)   # a week of connection events, app sessions and usage records
        load_seconds = time.monotonic() - load_started
        write_tokens(fleet, TOKENS_PATH)
        api.wait_until(lambda: api_answers(api_port, fleet.tokens["platform_admin"]), START_TIMEOUT_SECONDS,
                       f"answer on port {api_port}")
        workers.start()

        base_url = f"http://{HOST}:{api_port}"
        print(f"\nFleetline is up in {time.monotonic() - STARTED:.1f} s "
              f"(demo fleet of {demo_devices} devices loaded in {load_seconds:.1f} s).\n"
              f"  API   {base_url}  (log: {api.log_path.relative_to(ROOT)})\n"
              f"  AWS   http://{HOST}:{moto_port}  moto, in memory (log: {moto.log_path.relative_to(ROOT)})\n"
              f"  Tokens  {TOKENS_PATH.relative_to(ROOT)}\n\n"
              f"{curl_examples(base_url, fleet)}\n\nCtrl-C stops everything.", flush=True)
        return supervise(children)
    except Stopped as stopped:
        print(f"\n{stopped}: stopping the API and moto.", file=sys.stderr)
        return 0
    except StartFailed as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        workers.stop()
        for child in reversed(children):  # the API before the AWS stand-in it calls
            child.stop()


def supervise(children: list[ChildProcess]) -> int:
    """Wait for a signal; if a child dies meanwhile, say so and stop the rest (status 1)."""
    while True:
        time.sleep(0.5)
        for child in children:
            if not child.alive():
                print(f"make run: {child.name} exited unexpectedly; see {child.log_path}:\n{child.log_tail()}",
                      file=sys.stderr)
                return 1


if __name__ == "__main__":
    sys.exit(main())
