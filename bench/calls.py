"""The API calls the bench measures, made in-process through chalice.test.Client, one Sample each."""
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.counting import Meter, Tally
from bench.fleet import Fleet
from chalicelib.observability import metrics

DEVICES = "/inventory_device/"
PAGE = 20


@dataclass
class Sample:
    seconds: float                                      # the whole request, wall time, in-process
    cpu_seconds: float                                  # the same in CPU time of this process
    overhead: Tally = field(default_factory=Tally)      # authentication and rate limit
    operation: Tally = field(default_factory=Tally)     # the route itself

    @property
    def own_cpu_seconds(self) -> float:
        """CPU time outside boto3 and moto: what the handler's own code costs, whatever else the machine runs."""
        return self.cpu_seconds - self.overhead.cpu_seconds - self.operation.cpu_seconds


class CallFailed(Exception):
    """The API refused or failed a call: the operation is reported as failed, the bench goes on."""


class Runner:
    def __init__(self, client, meter: Meter, fleet: Fleet):
        self.client, self.meter, self.fleet = client, meter, fleet

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """(response, Sample).

        Raises:
            CallFailed: an answer other than 2xx.
            RuntimeError: a DynamoDB request failed: with moto's transaction snapshots off, a cancelled
                transaction may have left part of its writes, so nothing after it can be trusted.
        """
        headers = {"content-type": "application/json", "authorization": f"Bearer {token or self.fleet.platform}"}
        data = json.dumps(body).encode() if body is not None else b""
        self.meter.take()
        start, cpu_start = time.perf_counter(), time.process_time()
        response = self.client.http.request(method, path, headers=headers, body=data)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        tallies = self.meter.take()
        # With POWERTOOLS_METRICS_DISABLED (the tests' setting) log_metrics keeps what it does not print,
        # and powertools prints the set anyway once a metric holds 100 values.
        metrics.clear_metrics()
        if failed := sum(t.failed for t in tallies.values()):
            raise RuntimeError(f"{method} {path}: {failed} DynamoDB requests failed")
        if response.status_code >= 300:
            error = response.json_body.get("error", {}) if isinstance(response.json_body, dict) else {}
            raise CallFailed(f"HTTP {response.status_code} {error.get('code', '')}".strip())
        if method == "POST":
            self.fleet.created.append(response.json_body["id"])
        overhead, operation = (tallies.get(phase, Tally()) for phase in ("overhead", "operation"))
        return response, Sample(seconds, cpu_seconds, overhead, operation)

    def repeat(self, make_call, calls: int, token: str | None = None) -> list[Sample] | CallFailed:
        """`calls` samples of make_call(i) -> (method, path, body), after one unmeasured warm-up call
        (first-use imports and client creation are cold start, not per-call cost); or why it failed."""
        try:
            self.call(*make_call(-1), token=token)
            return [self.call(*make_call(i), token=token)[1] for i in range(calls)]
        except CallFailed as failure:
            return failure


def operations(fleet: Fleet) -> list[tuple[str, object, str | None]]:
    """(name, make_call, token) in the order measured: reads first, then writes; DELETE removes
    what the creates added."""
    def device(i: int) -> str:
        return f"{DEVICES}{fleet.pick(i)}/"

    def patch_serial(i: int):
        device_id = fleet.pick(i + 1)
        fleet.bodies[device_id]["serial_number"] = fleet.fresh("SERIAL")
        return "PATCH", f"{DEVICES}{device_id}/", {"serial_number": fleet.bodies[device_id]["serial_number"]}

    def put(i: int):
        device_id = fleet.pick(i + 2)
        fleet.bodies[device_id]["name"] = fleet.fresh("replaced-")
        return "PUT", f"{DEVICES}{device_id}/", fleet.bodies[device_id]

    return [
        ("GET device", lambda i: ("GET", device(i), None), None),
        ("List page", lambda i: ("GET", f"{DEVICES}?limit={PAGE}", None), None),
        ("List page, type filter", lambda i: ("GET", f"{DEVICES}?limit={PAGE}&type={fleet.types[1]}", None), None),
        ("List page, status filter", lambda i: ("GET", f"{DEVICES}?limit={PAGE}&status=1", None), None),
        ("List page, org token", lambda i: ("GET", f"{DEVICES}?limit={PAGE}", None), fleet.org_token),
        ("Create", lambda i: ("POST", DEVICES, fleet.body()), None),
        ("Create with password", lambda i: ("POST", DEVICES, fleet.body(password="s3cret-pass")), None),
        ("PATCH one field", lambda i: ("PATCH", device(i), {"name": fleet.fresh("renamed-")}), None),
        ("PATCH serial number", patch_serial, None),
        ("PUT", put, None),
        ("DELETE", lambda i: ("DELETE", f"{DEVICES}{fleet.created.pop()}/", None), None),
    ]


def deep_page(runner: Runner, pages: int) -> tuple[Sample, Sample]:
    """Page 1, and page `pages` reached by following `next` (which carries a cursor)."""
    response, first = runner.call("GET", f"{DEVICES}?limit={PAGE}")
    for _ in range(pages - 1):
        link = urlsplit(response.json_body["next"])
        response, deep = runner.call("GET", f"{link.path}?{link.query}")
    return first, deep
