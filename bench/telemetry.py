"""Telemetry (API.md §5, §6): what one 500-event connection-history page costs at a device history of 1,000 and
of 100,000 events, over a 1-day and a 90-day window; and what ingestion costs: DynamoDB write units and requests per
record at batches of 10 and of 1,000, records a second through the handler, and the writes each partition key takes
per 100,000 records.

The histories are setup, not what is measured: their raw items (telemetry.db.raw_item, the shape ingestion
writes) are put straight into moto's table, four times faster than BatchWriteItem through botocore, so that
the section stays near a minute. Ingestion goes through the API. Write units are counted from the size of every item
a request writes (DynamoDB's rules: attribute names and values, 1 unit per KB or part of one an item); moto's
ConsumedCapacity is not used (STYLE fact 8).
"""
import json
import math
import statistics
import time
from collections import Counter
from datetime import timedelta

from bench.calls import Sample
from bench.counting import Tally
from bench.report import kinds, spread, table
from chalicelib.telemetry.db import item_bytes

HISTORIES = (1_000, 100_000)
SPAN = timedelta(days=90)        # every history is spread evenly over the last 90 days
CALLS = 3                        # measured pages per case, after one warm-up page
BATCHES = ((10, 20), (1_000, 2))  # (records a request, requests measured) per ingestion case
DEVICES = 50                     # devices an ingestion batch spreads over
SPREAD_DEVICES = 1_000           # devices of the partition-key count
SPREAD_RECORDS = 10_000
ATTRIBUTES = {"BytesUsed": "5120", "InputBytes": "1024", "OutputBytes": "4096", "FramedIpAddress": "10.64.3.17",
              "AccountSessionId": "JRadius-967b493fa333", "NasIpAddress": "167772161"}
KIND_PATHS = {"usage": "/telemetry/usage/", "app_session": "/telemetry/app_sessions/",
              "connection_event": "/telemetry/connection_events/",
              "connection_event, 42 RADIUS attributes": "/telemetry/connection_events/"}
# The seed's connection event carries 42 RADIUS accounting attributes, names and values of about 20 characters.
RADIUS = {f"Acct-Attribute-{n:02d}": f"{n:02d}-value-0123456789" for n in range(42)}


class Writes:
    """Write units and writes per partition key of every BatchWriteItem, counted by a botocore hook."""

    def __init__(self):
        self.units = 0
        self.items = 0
        self.by_key: Counter = Counter()

    def __call__(self, params, model, **_):
        if model.name != "BatchWriteItem":
            return
        for requests in params["RequestItems"].values():
            for request in requests:
                item = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
                self.units += max(1, math.ceil(item_bytes(item) / 1024))   # DynamoDB: 1 unit per KB or part
                self.items += 1
                self.by_key[item["PK"]] += 1

    def take(self) -> "Writes":
        taken = Writes()
        taken.units, taken.items, taken.by_key = self.units, self.items, self.by_key
        self.units, self.items, self.by_key = 0, 0, Counter()
        return taken


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
    from chalicelib import aws, clock
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
        writes = Writes()
        aws.dynamodb().meta.events.register("provide-client-params.dynamodb", writes)
        _ingest(client, writes, devices, now, "usage", 1_000, 1, "warm-up")
        ingestion = {(kind, size): _ingest(client, writes, devices, now, kind, size, count, f"k{number}-{size}")
                     for size, count in BATCHES for number, kind in enumerate(KIND_PATHS)}
        spread_of_keys = _key_spread(client, writes, now)
        aws.dynamodb().meta.events.unregister("provide-client-params.dynamodb", writes)
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
    return _render(pages, carrier, ingestion, spread_of_keys, setup_seconds)


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


def _record(kind: str, device_id: int, at, n: int, name: str) -> dict:
    from chalicelib import clock

    record = {"event_id": f"{name}-{n}", "device_id": device_id}
    if kind == "usage":
        return record | {"occurred_at": clock.iso(at), "mo_bytes": 1_000 + n, "mt_bytes": 9_000 + n,
                         "protocol": ("TCP", "UDP", "ICMP")[n % 3], "destination_ip": f"198.51.100.{n % 250}"}
    if kind == "app_session":
        return record | {"started_at": clock.iso(at), "app_id": "com.example.maps", "app_name": "Maps",
                         "app_category": "navigation", "success": n % 10 != 0, "response_time_ms": 120 + n % 50,
                         "duration_s": 30.5, "bytes": 2048}
    return record | {"occurred_at": clock.iso(at), "event": ("Start", "Interim", "Stop")[n % 3],
                     "attributes": RADIUS if "RADIUS" in kind else ATTRIBUTES}


def _ingest(client: Client, writes: Writes, devices: list[int], now, kind: str, size: int, count: int,
            name: str) -> dict:
    """`count` requests of `size` new records of `kind`, each in the last hour: samples, write units, SQS requests."""
    samples, units, items, sqs = [], 0, 0, Counter()
    writes.take()
    for batch in range(count):
        records = [_record(kind, devices[(batch * size + n) % len(devices)],
                           now - timedelta(seconds=(n * 7919 + batch * 104729) % 3600), batch * size + n, name)
                   for n in range(size)]
        answer, sample = client.call("POST", KIND_PATHS[kind], {"records": records})
        if answer["accepted"] != size:
            raise RuntimeError(f"ingestion accepted {answer['accepted']} of {size}")
        samples.append(sample)
        taken = writes.take()
        units, items = units + taken.units, items + taken.items
        sqs += sample.operation.sqs
    return {"samples": samples, "records": size * count, "units": units, "items": items, "sqs": sqs}


def _key_spread(client: Client, writes: Writes, now) -> dict:
    """SPREAD_RECORDS records of the three kinds over SPREAD_DEVICES devices in 1,000-record requests: the writes
    each partition key took, scaled to 100,000 records."""
    from bench.fleet import Fleet

    fleet = Fleet()
    fleet.grow(SPREAD_DEVICES)
    devices = list(fleet.bodies)
    writes.take()
    for batch in range(SPREAD_RECORDS // 1_000):
        kind = ("usage", "app_session", "connection_event")[batch % 3]
        records = [_record(kind, devices[(batch * 1_000 + n) % len(devices)], now - timedelta(seconds=n % 3600),
                           batch * 1_000 + n, f"spread-{batch}") for n in range(1_000)]
        client.call("POST", KIND_PATHS[kind], {"records": records})
    by_key = writes.take().by_key
    scale = 100_000 / SPREAD_RECORDS
    groups: dict[str, list[int]] = {}
    for key, n in by_key.items():
        group = ("raw records (DEV#<id>#CONN|APP|USE)" if key.startswith("DEV#") else
                 "de-duplication guards (EVT#<org>#<KIND>#<id>)" if key.startswith("EVT#") else key.split("#")[0])
        groups.setdefault(group, []).append(n)
    # A guard is written once, with its record; a device's partitions with every record of its own.
    return {group: (len(counts), max(counts) * (scale if group.startswith("raw") else 1), sum(counts) * scale)
            for group, counts in groups.items()}


def _ms(values) -> str:
    return f"{statistics.median(values) * 1000:.1f}"


def _render(pages: dict, carrier: list, ingestion: dict, keys_spread: dict, setup_seconds: float) -> str:
    def row(name: str, samples: list[tuple[Sample, int]]) -> list:
        return [name, kinds(s.operation for s, _ in samples), spread(s.operation.read for s, _ in samples),
                spread(n for _, n in samples), _ms(s.seconds for s, _ in samples),
                _ms(s.own_cpu_seconds for s, _ in samples)]

    rows = [row(name, samples) for name, samples in pages.items()]
    same = len({(s.operation.describe(), s.operation.read) for samples in pages.values() for s, _ in samples}) == 1
    rows.append(row("carrier form by serial, 100,000 events, 90 days", carrier[:1]))
    rows.append(row("the same request again within 60 s", carrier[1:]))
    ingest_rows = []
    for (kind, size), run in ingestion.items():
        samples, records = run["samples"], run["records"]
        dynamo_requests = sum(sum(s.operation.requests.values()) for s in samples)
        sqs_requests = sum(run["sqs"].values())
        ingest_rows.append([f"{size:,}", kind, records, f"{run['units'] / records:.2f}",
                            f"{run['items'] / records:.2f}", f"{dynamo_requests / records:.3f}",
                            f"{sqs_requests / records:.3f}", f"{records / sum(s.seconds for s in samples):,.0f}",
                            _ms(s.own_cpu_seconds for s in samples)])
    within = all(run["units"] <= 2 * run["records"] for (_, size), run in ingestion.items() if size == 1_000)
    key_rows = [[group, f"{keys:,}", f"{busiest:,.0f}",
                 f"{busiest / 100_000 * 30_000:,.1f}" if group.startswith("raw") else "once, ever", f"{total:,.0f}"]
                for group, (keys, busiest, total) in sorted(keys_spread.items())]
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
        "### Ingestion",
        "",
        f"New records over {DEVICES} devices, each in the last hour, in requests of 10 and of 1,000 records "
        "(" + ", ".join(f"{count} of {size:,}" for size, count in BATCHES) + " per kind). *Write units* are "
        "DynamoDB's (1 per KB or part of one an item; counted from the items' sizes), *Items* the items written "
        "(raw records and de-duplication guards: there is no change log), *DynamoDB requests* every request of the "
        "route (device and guard look-ups, BatchWriteItem), *SQS requests* the announcements to the rollup lanes "
        "(one message per lane a request touches, 10 a SendMessageBatch).",
        "",
        table(["Records a request", "Kind", "Records", "Write units / record", "Items / record",
               "DynamoDB requests / record", "SQS requests / record", "Records/s (moto)", "Own CPU ms / request"],
              ingest_rows),
        "",
        f"Target, at most 2 write units a record at 1,000-record requests: **{'met' if within else 'not met'}** "
        "for these records: a raw record and its guard, each under 1 KB. A connection event whose attributes take it "
        "past 1 KB keeps them compressed (telemetry/db.py): the 42 attributes of the seed's example, 1.8 KB as "
        "they come, are stored in under 1 KB (the last rows).",
        "",
        f"Writes per partition key: {SPREAD_RECORDS:,} records (the three kinds, 1,000-record requests) over "
        f"{SPREAD_DEVICES:,} devices, scaled to 100,000 records (a guard key is written once, with its record); *At "
        "30,000/s* is the busiest key's writes a second at the peak target with this spread. A device's raw "
        "partitions take its own records only: at 1,000,000 devices a device's share is about 1/1,000,000, not the "
        "1/1,000 here (0.03 writes/s a key at 30,000 events/s); a single device would have to send 300 records a "
        "second to reach our ceiling.",
        "",
        table(["Partition keys", "Keys written", "Busiest key / 100,000 records", "Busiest key at 30,000/s",
               "All writes / 100,000 records"], key_rows),
        "",
    ])
