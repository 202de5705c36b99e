"""Telemetry (API.md §5, §6): what one 500-event connection-history page costs at a device history of 1,000 and
of 100,000 events, over a 1-day and a 90-day window; and ingestion throughput through the handler.

The histories are setup, not what is measured: their raw items (telemetry.db.raw_item, the shape ingestion
writes) are put straight into moto's table, four times faster than BatchWriteItem through botocore, so that
the section stays near a minute. Ingestion goes through the API, 1,000 records a request.
"""
import json
import statistics
import time
from datetime import timedelta

from bench.calls import Sample
from bench.counting import Tally
from bench.report import kinds, spread, table

HISTORIES = (1_000, 100_000)
SPAN = timedelta(days=90)        # every history is spread evenly over the last 90 days
CALLS = 3                        # measured pages per case, after one warm-up page
INGEST_BATCHES = 2               # measured 1,000-record requests per ingestion case, after one warm-up request
BATCH = 1_000
DEVICES = 50                     # devices an ingestion batch spreads over
ATTRIBUTES = {"BytesUsed": "5120", "InputBytes": "1024", "OutputBytes": "4096", "FramedIpAddress": "10.64.3.17",
              "AccountSessionId": "JRadius-967b493fa333", "NasIpAddress": "167772161"}


class Client:
    """chalice.test.Client calls with the Meter's tallies of the route itself, per call."""

    def __init__(self, client, meter, token: str):
        self.client, self.meter, self.token = client, meter, token

    def call(self, method: str, path: str, body=None) -> tuple[dict, Sample]:
        from chalicelib.observability import metrics

        headers = {"content-type": "application/json", "authorization": f"Bearer {self.token}"}
        self.meter.take()
        start, cpu_start = time.perf_counter(), time.process_time()
        response = self.client.http.request(method, path, headers=headers,
                                            body=json.dumps(body).encode() if body is not None else b"")
        sample = Sample(time.perf_counter() - start, time.process_time() - cpu_start)
        tallies = self.meter.take()
        metrics.clear_metrics()   # as bench.calls does: nothing flushes them here
        # A failed DynamoDB request is not always a fault: a repeat's duplicate-request record is a refused
        # conditional PutItem (the Tally counts it as failed).
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.body[:200]!r}")
        sample.overhead, sample.operation = (tallies.get(phase, Tally()) for phase in ("overhead", "operation"))
        return response.json_body, sample


def measure() -> str:
    from bench.world import world
    from chalicelib import clock
    from chalicelib.tokens import service as tokens
    from chalicelib.tokens.models import PERMISSIONS, TokenCreate

    with world() as (chalice_client, meter):
        platform = tokens.create_token(None, TokenCreate(name="bench-telemetry", permissions=list(PERMISSIONS),
                                                         rate_limit_per_minute=100_000))["token"]
        client = Client(chalice_client, meter, platform)
        organization = client.call("POST", "/admin/organizations/", {"name": "telemetry-bench"})[0]["id"]
        type_id = client.call("POST", "/admin/device_types/", {
            "short_name": "bench_lte", "name": "LTE router", "category": "router", "manufacturer": "Bench",
            "product_class": "R1"})[0]["id"]
        devices = [client.call("POST", "/inventory_device/", {
            "name": f"lte-{n}", "serial_number": f"BENCH-TM-{n:04d}", "type": type_id,
            "organization_id": organization})[0]["id"] for n in range(DEVICES)]

        now = clock.now().replace(microsecond=0)
        # Ingestion first, while the table is small: moto's Query walks every item of the table (DynamoDB reads
        # only the partition's range), and ingestion's look-ups are no Queries anyway.
        _ingest(client, devices, now, timedelta(minutes=5), "warm-up", measured=False)
        ingestion = {
            "recent (each record in the last hour)": _ingest(client, devices, now, timedelta(hours=1), "recent"),
            "backfill (spread over 30 days)": _ingest(client, devices, now, timedelta(days=30), "backfill"),
        }
        started = time.perf_counter()
        for device_id, size in zip(devices, HISTORIES, strict=False):
            _put_history(device_id, organization, size, now)
        setup_seconds = time.perf_counter() - started
        small, large = devices[0], devices[1]
        cases = {
            f"{HISTORIES[0]:,} events, 90-day window": (small, now - SPAN, now),
            f"{HISTORIES[1]:,} events, 90-day window": (large, now - SPAN, now),
            f"{HISTORIES[1]:,} events, 1-day window": (large, now - timedelta(days=1), now),
        }
        _pages(client, small, now - SPAN, now - timedelta(hours=1))   # warm-up: first-use imports, not per call
        pages = {name: _pages(client, *case) for name, case in cases.items()}
        carrier = _carrier_pages(client, now)
    return _render(pages, carrier, ingestion, setup_seconds)


def _put_history(device_id: int, organization_id: int, size: int, now) -> None:
    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import clock
    from chalicelib.config import get_settings
    from chalicelib.telemetry import db

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[get_settings().table_name]
    serialize = TypeSerializer().serialize
    step = (SPAN - timedelta(minutes=1)) / size
    ingested = clock.iso(now)
    for n in range(size):
        at = now - SPAN + timedelta(seconds=30) + step * n
        item = db.raw_item("connection_event", organization_id, device_id, f"bench-{n:07d}", at,
                           {"event": ("Start", "Interim", "Stop")[n % 3], "attributes": ATTRIBUTES,
                            "extended_attributes": {}}, "occurred_at", ingested)
        table.put_item({name: serialize(value) for name, value in item.items()})


def _pages(client: Client, device_id: int, earliest, latest) -> list[tuple[Sample, int]]:
    """CALLS first pages of the REST form; each call's latest differs by 1 ms, or the 60-s duplicate-request rule
    would answer the repeats from the first response. Only the first case is warmed up (first-use imports):
    on moto every call at 100,000 events costs seconds (see the section's text)."""
    from chalicelib import clock

    samples = []
    for i in range(CALLS):
        path = (f"/inventory_device/{device_id}/connection_history/?earliest={clock.iso(earliest)}"
                f"&latest={clock.iso(latest - timedelta(milliseconds=i + 1))}")
        body, sample = client.call("GET", path)
        samples.append((sample, len(body["connection_history"])))
    return samples


def _carrier_pages(client: Client, now) -> list[tuple[Sample, int]]:
    """The carrier form by serial number (one GetItem more: the serial's guard), and a repeat within 60 s."""
    from chalicelib import clock

    body = {"deviceId": {"kind": "serial", "id": "BENCH-TM-0001"}, "earliest": clock.iso(now - SPAN),
            "latest": clock.iso(now)}
    client.call("POST", "/devices/connections/actions/list", body | {"latest": clock.iso(now - timedelta(hours=1))})
    first = client.call("POST", "/devices/connections/actions/list", body)
    repeat = client.call("POST", "/devices/connections/actions/list", body)
    return [(sample, len(answer["connectionHistory"])) for answer, sample in (first, repeat)]


def _ingest(client: Client, devices: list[int], now, spread_over: timedelta, name: str,
            measured: bool = True) -> list[tuple[Sample, dict]]:
    from chalicelib import clock

    samples = []
    for batch in range(INGEST_BATCHES if measured else 1):
        records = []
        for n in range(BATCH):
            at = now - spread_over * ((n * 7919 + batch * 104729) % 10_000 / 10_000)
            records.append({"event_id": f"{name}-{batch}-{n}", "device_id": devices[n % DEVICES],
                            "occurred_at": clock.iso(at), "mo_bytes": 1_000 + n, "mt_bytes": 9_000 + n,
                            "protocol": ("TCP", "UDP", "ICMP")[n % 3], "destination_ip": f"198.51.100.{n % 250}"})
        answer, sample = client.call("POST", "/telemetry/usage/", {"records": records})
        if answer["accepted"] != BATCH:
            raise RuntimeError(f"ingestion accepted {answer['accepted']} of {BATCH}")
        samples.append((sample, answer))
    return samples


def _ms(values) -> str:
    return f"{statistics.median(values) * 1000:.1f}"


def _render(pages: dict, carrier: list, ingestion: dict, setup_seconds: float) -> str:
    def row(name: str, samples: list[tuple[Sample, int]]) -> list:
        return [name, kinds(s.operation for s, _ in samples), spread(s.operation.read for s, _ in samples),
                spread(n for _, n in samples), _ms(s.seconds for s, _ in samples),
                _ms(s.own_cpu_seconds for s, _ in samples)]

    rows = [row(name, samples) for name, samples in pages.items()]
    same = len({(s.operation.describe(), s.operation.read) for samples in pages.values() for s, _ in samples}) == 1
    rows.append(row("carrier form by serial, 100,000 events, 90 days", carrier[:1]))
    rows.append(row("the same request again within 60 s", carrier[1:]))
    ingest_rows = []
    for name, samples in ingestion.items():
        records = BATCH * len(samples)
        tallies = [s.operation for s, _ in samples]
        ingest_rows.append([name, f"{records / sum(s.seconds for s, _ in samples):,.0f}",
                            f"{sum(t.requests['BatchWriteItem'] for t in tallies) / records:.3f}",
                            f"{sum(t.written for t in tallies) / records:.2f}",
                            spread(t.requests["BatchGetItem"] for t in tallies),
                            _ms(s.seconds for s, _ in samples), _ms(s.own_cpu_seconds for s, _ in samples)])
    return "\n".join([
        "## Telemetry: connection history and ingestion (API.md §5, §6)",
        "",
        f"One device with {HISTORIES[0]:,} connection events and one with {HISTORIES[1]:,}, each spread evenly over "
        f"the last 90 days ({len(ATTRIBUTES)} RADIUS attributes an event; put into moto's table directly as setup, "
        f"{setup_seconds:.0f} s). Each case is the first page of `GET /inventory_device/{{id}}/connection_history/` "
        f"(500 events), {CALLS} calls after warm-up calls. *Requests* and *Read* are the route's own DynamoDB "
        "requests and items read (authentication and rate limit excluded); *Median ms* the whole in-process "
        "request on moto, *Own CPU ms* its CPU time outside boto3 and moto (the handler's own code: models, "
        "paging, the response's JSON). The PutItem and UpdateItem are the 60-s duplicate-request record "
        "(powertools); a repeat within 60 s finds that record (its PutItem is refused, answering the stored "
        "response) and reads no event. moto's Query walks every item of the table, sorts the whole partition and "
        "compares each sort key up to the page, so on moto the wall time grows with the table, the history and "
        "the window's distance from its start; DynamoDB reads only the page's range: the requests and items read "
        "are what carry over, and the own CPU time.",
        "",
        table(["Case", "Requests", "Read", "Events", "Median ms", "Own CPU ms"], rows),
        "",
        f"Target, the same figures whatever the history and the window: **{'met' if same else 'not met'}** "
        "(requests and items read identical in every history case; the Query reads the page + 1 events).",
        "",
        f"Ingestion: `POST /telemetry/usage/`, {INGEST_BATCHES} requests of {BATCH:,} new records over {DEVICES} "
        "devices after a warm-up request. *Write requests / record* counts BatchWriteItem requests (raw records, "
        "change log, guards; 25 items each); *Items written / record* every item (raw record + guard + its share "
        "of the change log, one entry per device, hour and kind of the batch); *BatchGetItem / request* the "
        "device and guard look-ups.",
        "",
        table(["Batch", "Records/s", "Write requests / record", "Items written / record", "BatchGetItem / request",
               "Median ms / request", "Own CPU ms / request"], ingest_rows),
        "",
    ])
