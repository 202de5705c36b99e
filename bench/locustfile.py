"""`make load`'s workload for locust: a mixed load on the API, and one user timing a bare DynamoDB GetItem.

Run by bench/load_runner.py, which starts the local system and writes the fleet file this reads
(FLEETLINE_LOAD_FLEET: tokens, device ids per organization, the table and a device item's key). Locust refuses a
host that is not this machine's loopback, and stops by itself after LOAD_MAX_REQUESTS requests whatever
`--run-time` says. The runner's command line, to run it by hand against a system that is up:

    PYTHONPATH=. FLEETLINE_LOAD_FLEET=.local/load-fleet.json .venv/bin/python -m locust -f bench/locustfile.py \
        --headless --users 5 --spawn-rate 5 --run-time 30s --host http://127.0.0.1:8000
"""
import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import gevent
from locust import FastHttpUser, User, constant, events, stats, task
from locust.exception import StopUser

from bench.load_report import GET_ITEM, loopback_only

RECORDS_PER_POST = 10
FLEET = json.loads(open(os.environ["FLEETLINE_LOAD_FLEET"]).read()) if os.environ.get("FLEETLINE_LOAD_FLEET") else {}
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "100000"))
_sent = itertools.count(1)
_started = itertools.count(1)
# Each reboot goes to a device not rebooted yet in this run (a second one would be coalesced into the first).
_rebootable = itertools.cycle([(org, device) for org, ids in FLEET.get("devices", {}).items() for device in ids])


@events.init.add_listener
def only_this_machine(environment, **_):
    """A load run sends traffic to this machine only: the API's host and the AWS stand-in's must be loopback."""
    targets = [environment.host or "", os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1")]
    if not all(loopback_only(target) for target in targets):
        raise SystemExit(f"load: refusing {targets}: only 127.0.0.0/8, ::1 or localhost are load targets")

    @environment.events.request.add_listener
    def stop_after_max_requests(**_):
        if next(_sent) == MAX_REQUESTS:     # once; from a greenlet of its own, not the user's
            gevent.spawn(_stop_then_quit, environment.runner)


def _stop_then_quit(runner) -> None:
    """Stop the users, then quit once the CSV writer, which writes every CSV_STATS_INTERVAL_SEC and not at exit,
    has written the final figures (a run shorter than one interval would otherwise leave empty files)."""
    runner.stop()
    gevent.sleep(stats.CSV_STATS_INTERVAL_SEC + 0.5)
    runner.quit()


class ApiUser(FastHttpUser):
    """A caller of the API: device reads and lists, telemetry, the summary, reboots and operation lists."""
    wait_time = constant(0)

    def on_start(self):
        self.rng = random.Random()

    def _pick(self) -> tuple[str, dict, int]:
        """(organization, its tokens, one of its devices)."""
        org = self.rng.choice(list(FLEET["devices"]))
        return org, FLEET["tokens"]["organizations"][org], self.rng.choice(FLEET["devices"][org])

    def _call(self, name: str, method: str, path: str, token: str, expect: int, body=None) -> None:
        if next(_started) > MAX_REQUESTS:   # users in flight when the count is reached send nothing more
            raise StopUser()
        with self.client.request(method, path, name=name, json=body, catch_response=True,
                                 headers={"Authorization": f"Bearer {token}"}) as response:
            if response.status_code != expect:
                response.failure(f"{response.status_code} {_code(response)}")
            elif path.startswith("/telemetry/") and response.json().get("rejected"):
                response.failure("records rejected")

    @task(30)
    def get_device(self):
        _, tokens, device = self._pick()
        self._call("GET /inventory_device/{id}/", "GET", f"/inventory_device/{device}/", tokens["viewer"], 200)

    @task(15)
    def list_devices(self):
        _, tokens, _ = self._pick()
        self._call("GET /inventory_device/?limit=20", "GET", "/inventory_device/?limit=20", tokens["viewer"], 200)

    @task(15)
    def ingest_connection_events(self):
        org, tokens, _ = self._pick()
        self._call(f"POST /telemetry/connection_events/ ({RECORDS_PER_POST} records)", "POST",
                   "/telemetry/connection_events/", tokens["admin"], 202, self._records("connection_event", org))

    @task(15)
    def ingest_app_sessions(self):
        org, tokens, _ = self._pick()
        self._call(f"POST /telemetry/app_sessions/ ({RECORDS_PER_POST} records)", "POST",
                   "/telemetry/app_sessions/", tokens["admin"], 202, self._records("app_session", org))

    @task(10)
    def read_summary(self):
        _, tokens, _ = self._pick()
        self._call("GET /device_app_connection_summary/?time_range=24h", "GET",
                   "/device_app_connection_summary/?time_range=24h", tokens["viewer"], 200)

    @task(5)
    def reboot(self):
        org, device = next(_rebootable)
        self._call("PATCH /inventory_device/{id}/ reboot", "PATCH", f"/inventory_device/{device}/",
                   FLEET["tokens"]["organizations"][org]["admin"], 200, {"reboot": True})

    @task(10)
    def list_operations(self):
        _, tokens, device = self._pick()
        self._call("GET /inventory_device/{id}/operations/", "GET", f"/inventory_device/{device}/operations/",
                   tokens["viewer"], 200)

    def _records(self, kind: str, org: str) -> dict:
        """A batch of `kind` records of `org`'s devices (sent with that organization's token)."""
        records = []
        for _ in range(RECORDS_PER_POST):
            device = self.rng.choice(FLEET["devices"][org])
            at = (datetime.now(UTC) - timedelta(minutes=self.rng.randint(1, 600))).isoformat(timespec="seconds")
            if kind == "connection_event":
                records.append({"event_id": str(uuid.uuid4()), "device_id": device, "occurred_at": at,
                                "event": self.rng.choice(["Start", "Interim", "Stop"]),
                                "attributes": {"BytesUsed": str(self.rng.randint(0, 10**7)),
                                               "FramedIpAddress": "10.0.0.7"}})
            else:
                records.append({"event_id": str(uuid.uuid4()), "device_id": device, "started_at": at,
                                "app_id": "app-7", "app_name": "Telemetry Uplink", "app_category": "iot",
                                "success": self.rng.random() < 0.95, "response_time_ms": self.rng.randint(20, 400),
                                "duration_s": self.rng.randint(1, 600), "bytes": self.rng.randint(0, 10**6)})
        return {"records": records}


class GetItemUser(User):
    """One user timing a bare GetItem of a device item on the same moto server, with the app's own client."""
    fixed_count = 1
    wait_time = constant(0)

    def on_start(self):
        from chalicelib import aws

        self.dynamodb = aws.dynamodb()   # AWS_ENDPOINT_URL points it at moto
        self.dynamodb.get_item(TableName=FLEET["table"], Key=FLEET["item_key"])   # connect before timing

    @task
    def get_item(self):
        from botocore.exceptions import BotoCoreError, ClientError

        started = time.perf_counter()
        error = None
        try:
            if "Item" not in self.dynamodb.get_item(TableName=FLEET["table"], Key=FLEET["item_key"]):
                error = LookupError("item missing")
        except (BotoCoreError, ClientError) as failure:
            error = failure
        self.environment.events.request.fire(request_type="DynamoDB", name=GET_ITEM, response_length=0,
                                             response_time=(time.perf_counter() - started) * 1000, exception=error,
                                             context={})


def _code(response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
