"""Rollups (API.md §7, §8; docs/rollups.md): what aggregating the same 1,000 new records costs on top of an
organization of 1,000 and of 50,000 devices; how many records a second one lane (one worker Lambda) aggregates, and
so how many lanes the targets need; what a window's slide costs per device; how stale `last_updated` gets.

Setup is not what is measured: devices are seeded in bulk (bench/fleet.py), raw records put straight into moto's
table in the shape ingestion writes (telemetry.db.raw_item) and announced to their lanes as ingestion does
(rollups.lanes.announce_records), and the runs that build the states write straight into moto's table too. The
measured runs are real: a tick to every lane, each lane's messages handled by the worker (rollups.worker), every
DynamoDB request counted by bench/counting.py. moto answers every Query by sorting the whole table: Queries go to their
partition here, as in the tests.
"""
import json
import random
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from local.moto_server import moto_queries_by_partition

SIZES = (1_000, 50_000)        # devices of the organization
ACTIVE = 0.10                  # share of them with records in the last hour
NEW = 1_000                    # records each measured run aggregates, over devices both organizations have
THROUGHPUT_RECORDS = 4_000     # records one lane aggregates in the throughput run
THROUGHPUT_DEVICES = 400
TICK_SECONDS = 120             # the schedule (app.py)
TARGET_EVENTS = 30_000         # events/s at peak (DEVELOPERS.md)
AWS_REQUEST_SECONDS = 0.010    # a DynamoDB request from Lambda, as the extrapolation assumes it
APPS = (("Maps", "navigation"), ("Mail", "communication"), ("Vault", "security"), ("CRM", "productivity"))


def _prod_lanes() -> int:
    from bench import ROOT

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return int(config["stages"]["prod"]["environment_variables"]["ROLLUP_LANES"])


class Clock:
    """chalicelib.clock.now, moved by the bench: runs at set times whatever moto takes."""

    def __init__(self, now):
        self.now = now


def measure() -> str:
    from unittest.mock import patch

    from chalicelib import clock

    start = clock.now().replace(minute=0, second=10, microsecond=0)   # early in a 5-minute slot
    simulated = Clock(start)
    costs = {}
    with moto_queries_by_partition(), patch.object(clock, "now", lambda: simulated.now):
        for size in SIZES:
            simulated.now = start
            costs[size] = _organization_cost(size, simulated)
        throughput = _throughput(simulated)
    return _render(costs, throughput)


# --- setup -------------------------------------------------------------------------------------------

def _records(devices: list[tuple[int, int]], count: int, start, end, rng: random.Random, prefix: str) -> list:
    """(kind, organization, device, event id, at, fields, time field): app sessions, usage and connection events."""
    records = []
    for n in range(count):
        organization_id, device_id = devices[n % len(devices)] if count >= len(devices) else rng.choice(devices)
        at = start + (end - start) * rng.random()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        kind = ("app_session", "usage", "connection_event")[n % 3]
        if kind == "app_session":
            app, category = rng.choice(APPS)
            fields = {"app_id": app.lower(), "app_name": app, "app_category": category, "success": rng.random() < 0.9,
                      "response_time_ms": rng.randint(50, 400), "duration_s": 30, "bytes": 1024}
        elif kind == "usage":
            fields = {"mo_bytes": rng.randint(0, 5000), "mt_bytes": rng.randint(0, 50_000),
                      "protocol": rng.choice(("TCP", "UDP")), "destination_ip": f"198.51.100.{rng.randint(1, 20)}"}
        else:
            fields = {"event": rng.choice(("Start", "Interim", "Stop")), "attributes": {"BytesUsed": "10"},
                      "extended_attributes": {}}
        time_field = "started_at" if kind == "app_session" else "occurred_at"
        records.append((kind, organization_id, device_id, f"{prefix}-{n:07d}", at, fields, time_field))
    return records


def _put(records: list) -> None:
    """Raw items straight into moto's table, then announced to their lanes as ingestion announces them."""
    from chalicelib import clock
    from chalicelib.rollups import lanes
    from chalicelib.telemetry import db

    table, serialize = _table()
    buckets = set()
    for kind, organization_id, device_id, event_id, at, fields, time_field in records:
        item = db.raw_item(kind, organization_id, device_id, event_id, at, fields, time_field, clock.iso(clock.now()))
        table.put_item({name: serialize(value) for name, value in item.items()})
        buckets.add((organization_id, device_id, db.hour_of(at), kind))
    lanes.announce_records(buckets)


def _table():
    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.config import get_settings

    return (dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[get_settings().table_name],
            TypeSerializer().serialize)


@contextmanager
def _setup_writes():
    """For runs that are setup: their writes go straight into moto's table instead of through botocore and moto's
    request parsing (milliseconds an item here). The same items; the runs' reads are those of real runs."""
    from unittest.mock import patch

    from moto.dynamodb.models.dynamo_type import DynamoType

    from chalicelib.rollups import db

    table, serialize = _table()

    def write(puts=(), deletes=()):
        puts = list(puts)
        kept = {(item["PK"], item["SK"]) for item in puts}
        for key in deletes:
            if (key["PK"], key["SK"]) not in kept:
                table.delete_item(DynamoType({"S": key["PK"]}), DynamoType({"S": key["SK"]}))
        for item in puts:
            table.put_item({name: serialize(value) for name, value in item.items()})

    with patch.object(db, "write", write):
        yield


def _run(clock, meter) -> dict:
    """One tick at the clock's time, every lane's messages handled by the worker until each lane is done: the
    tally of its DynamoDB and SQS requests, its wall and own CPU time, and the units' report. Measured on one thread
    (db.THREADS = 1): deployed, a unit's requests overlap, but here the CPU time of the code and of boto3 and moto
    must be told apart, and threads share one CPU clock."""
    from unittest.mock import patch

    from moto.core.botocore_stubber import BotocoreStubber

    from chalicelib import clock as app_clock
    from chalicelib.observability import metrics
    from chalicelib.rollups import db, lanes, service, unit, worker

    # moto answers inside this process: the CPU of its answers is told apart from boto3's own (serializing requests,
    # parsing answers), which a Lambda pays.
    real_call, moto = BotocoreStubber.__call__, {"cpu": 0.0}

    def timed(self, *args, **kwargs):
        started = time.process_time()
        try:
            return real_call(self, *args, **kwargs)
        finally:
            moto["cpu"] += time.process_time() - started

    with patch.object(db, "THREADS", 1), patch.object(BotocoreStubber, "__call__", timed):
        run = _measured_run(clock, meter, app_clock, metrics, db, lanes, service, unit, worker)
    return {**run, "boto_cpu": run["tally"].cpu_seconds - moto["cpu"]}


def _measured_run(clock, meter, app_clock, metrics, db, lanes, service, unit, worker) -> dict:

    at = app_clock.iso(clock.now)
    meter.take()
    counts_before = db.counts.as_dict()
    tally = unit.Tally()
    start, cpu_start = time.perf_counter(), time.process_time()
    lanes.send_ticks(at, f"bench-{uuid.uuid4().hex}")
    while [lane for lane, state in _states(service).items() if state < at]:
        worker.consume_once(time.monotonic() + 3600, tally, wait_seconds=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    metrics.clear_metrics()
    requests = _total(meter.take())
    counts = {name: value - counts_before[name] for name, value in db.counts.as_dict().items()}
    return {"tally": requests, "seconds": seconds, "own_cpu": cpu - requests.cpu_seconds, "units": tally.units,
            "devices": tally.devices, **counts}


def _states(service) -> dict[int, str]:
    from chalicelib.rollups import lanes

    states = service.lane_states()
    return {lane: (states.get(lane) or {}).get("computed_at", "") for lane in range(lanes.lane_count())}


def _total(tallies: dict):
    from bench.counting import Tally

    total = Tally()
    for phase in tallies.values():
        total += phase
    return total


def _bootstrap(clock, meter, devices: list[tuple[int, int]], active: list[tuple[int, int]], prefix: str) -> float:
    """The states of every device and the records of the active ones, built by setup runs; their seconds."""
    from chalicelib.rollups import devices as audit

    started = time.perf_counter()
    _put(_records(active, len(active) * 3, clock.now - timedelta(minutes=50), clock.now - timedelta(minutes=1),
                  random.Random(len(devices)), prefix))
    with _setup_writes():
        audit.audit_pass(clock.now)   # the first pass: every device once
        _run(clock, meter)
    return time.perf_counter() - started


# --- measurements ------------------------------------------------------------------------------------

def _organization_cost(size: int, clock) -> dict:
    import bench.fleet as bench_fleet
    from bench.fleet import Fleet
    from bench.world import world

    with world() as (_, meter):
        organizations, bench_fleet.ORGANIZATIONS = bench_fleet.ORGANIZATIONS, 1   # one organization of `size`
        try:
            started = time.perf_counter()
            fleet = Fleet()
            fleet.grow(size)
        finally:
            bench_fleet.ORGANIZATIONS = organizations
        seeded = time.perf_counter() - started
        devices = [(body["organization_id"], device_id) for device_id, body in fleet.bodies.items()]
        active = devices[:: int(1 / ACTIVE)]
        setup = _bootstrap(clock, meter, devices, active, f"setup{size}")
        print(f"  {size:,} devices: seeded in {seeded:.0f} s, states built in {setup:.0f} s", flush=True)
        # The same new records in either organization: devices both have (the first 1,000 ids), the last 2 minutes.
        clock.now += timedelta(seconds=30)   # the same 5-minute slot: no window moves, only the records count
        _put(_records(devices[:SIZES[0]], NEW, clock.now - timedelta(minutes=2), clock.now - timedelta(seconds=1),
                      random.Random(7), "new"))
        measured = _run(clock, meter)
        print(f"  {size:,} devices, {NEW:,} new records: {measured['tally'].describe()}", flush=True)
        # Half an hour on, nothing new: the 1h windows of the devices whose oldest 5-minute bucket left them move.
        clock.now += timedelta(minutes=30)
        slide = _run(clock, meter)
        print(f"  {size:,} devices, 30 minutes on: {slide['tally'].describe()}", flush=True)
    return {"seeded": seeded, "setup": setup, "run": measured, "slide": slide}


def _throughput(clock) -> dict:
    """Records a second one lane aggregates: THROUGHPUT_RECORDS new records of its devices, one tick."""
    from bench.fleet import Fleet
    from bench.world import world
    from chalicelib.rollups import lanes

    with world() as (_, meter):
        fleet = Fleet()
        fleet.grow(THROUGHPUT_DEVICES * lanes.lane_count())
        devices = [(body["organization_id"], device_id) for device_id, body in fleet.bodies.items()]
        with _setup_writes():
            from chalicelib.rollups import devices as audit
            audit.audit_pass(clock.now)
            _run(clock, meter)
        clock.now += timedelta(seconds=30)
        mine = [(organization, device) for organization, device in devices if lanes.lane_of(device) == 0]
        _put(_records(mine, THROUGHPUT_RECORDS, clock.now - timedelta(hours=2), clock.now - timedelta(seconds=1),
                      random.Random(11), "load"))
        run = _run(clock, meter)
    print(f"  one lane, {THROUGHPUT_RECORDS:,} records: {run['seconds']:.1f} s ({run['tally'].describe()})", flush=True)
    return run


# --- report ------------------------------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _render(costs: dict, throughput: dict) -> str:
    from bench.report import table
    from chalicelib.rollups import db, lanes, unit, worker

    small, large = SIZES
    rows = []
    for size in SIZES:
        for name, run in (("1,000 new records", costs[size]["run"]), ("30 minutes on, nothing new",
                                                                      costs[size]["slide"])):
            tally = run["tally"]
            rows.append([f"{size:,}", name, tally.describe(), sum(tally.requests.values()), tally.read,
                         run["records_read"], tally.written, run["units"], _ms(run["own_cpu"]), _ms(run["seconds"])])
    a, b = (sum(costs[size]["run"]["tally"].requests.values()) for size in SIZES)
    ratio = b / a
    slide_small, slide_large = (costs[size]["slide"] for size in SIZES)
    records = THROUGHPUT_RECORDS
    run = throughput
    requests = sum(run["tally"].requests.values())
    per_record = requests / records
    own_cpu_per_record = run["own_cpu"] / records
    boto_cpu_per_record = run["boto_cpu"] / records
    moto_rate = records / run["seconds"]
    # On AWS: the lane's CPU (its own and boto3's) plus its requests at AWS_REQUEST_SECONDS each, db.THREADS at a
    # time, as if they never overlapped the CPU (they do: the figure errs on the slow side).
    cpu_per_record = own_cpu_per_record + boto_cpu_per_record
    aws_seconds_per_record = cpu_per_record + per_record * AWS_REQUEST_SECONDS / db.THREADS
    aws_rate = 1 / aws_seconds_per_record
    lanes_needed = TARGET_EVENTS / aws_rate
    prod = _prod_lanes()
    per_lane = TARGET_EVENTS / prod
    unit_seconds = per_lane * TICK_SECONDS * aws_seconds_per_record
    return "\n".join([
        "## Rollups (API.md §7, §8; docs/rollups.md)",
        "",
        "### The same new records on top of a small and a large organization",
        "",
        f"One organization of {small:,} and one of {large:,} devices (bench fleet, seeded in bulk), {ACTIVE:.0%} of "
        "them with records in the last hour (an app session, a usage record and a connection event each), every "
        "device's state built by setup runs. Then, 30 s later (the same 5-minute slot: no window moves), the same "
        f"{NEW:,} new records (app sessions, usage records, connection events, 1:1:1) of devices both organizations "
        "have, aggregated by one tick: the schedule's tick to every lane, each lane's messages handled by the worker "
        "(`rollups.worker`), as deployed. Then 30 minutes on with nothing new: the tick slides the 1h windows of the "
        f"devices whose oldest 5-minute bucket left them. Lanes: {lanes.lane_count()}; one thread (deployed, "
        f"{db.THREADS} per unit). *Requests* are every DynamoDB "
        "request (SQS apart), *Items read* what they read, *Records read* the raw records among them, *Own CPU ms* "
        "the run's CPU time outside boto3 and moto, *Wall ms* the whole run on moto.",
        "",
        table(["Devices", "Run", "Requests", "Total", "Items read", "Records read", "Items written", "Units",
               "Own CPU ms", "Wall ms"], rows),
        "",
        f"Target, the same requests for the same new records (within 10 %): {large:,}/{small:,} = **{ratio:.2f}** "
        f"(**{'met' if abs(ratio - 1) <= 0.10 else 'not met'}**). What the records touch is read (their device-hours' "
        "raw records, their devices' items); nothing of the organization's other devices is. A slide costs per "
        "device whose window moves (the buckets leaving it, read by key): "
        f"{sum(slide_small['tally'].requests.values())} and {sum(slide_large['tally'].requests.values())} requests "
        f"for {slide_small['devices']} and {slide_large['devices']} devices due, "
        f"{slide_small['records_read'] + slide_large['records_read']} records read. Setup: seeding took "
        f"{costs[small]['seeded']:.0f} s and {costs[large]['seeded']:.0f} s, building the states "
        f"{costs[small]['setup']:.0f} s and {costs[large]['setup']:.0f} s.",
        "",
        "### One lane's throughput, and the lanes the targets need",
        "",
        f"{THROUGHPUT_RECORDS:,} new records over {THROUGHPUT_DEVICES} devices of one lane, spread over its last 2 "
        f"hours, one tick: {run['seconds']:.1f} s on moto (**{moto_rate:,.0f} records/s**), {requests:,} requests "
        f"({run['tally'].describe()}), **{per_record:.2f} requests and {cpu_per_record * 1000:.2f} ms of CPU a "
        f"record** ({own_cpu_per_record * 1000:.2f} ms the rollups' own code, {boto_cpu_per_record * 1000:.2f} ms "
        f"boto3's, moto's apart), in {run['units']} unit(s) of at most {unit.UNIT_ENTRIES:,} pending entries.",
        "",
        f"Extrapolated to AWS: a unit's requests run {db.THREADS} at a time (its thread pools), DynamoDB answering one "
        f"in about {AWS_REQUEST_SECONDS * 1000:.0f} ms from Lambda (moto took "
        f"{_ms((run['seconds'] - run['own_cpu']) / max(1, requests))} ms a request here, boto3 included), so a record "
        f"costs {cpu_per_record * 1000:.2f} ms CPU + {per_record:.2f} × "
        f"{AWS_REQUEST_SECONDS * 1000:.0f} ms / {db.THREADS} = **{aws_seconds_per_record * 1000:.2f} ms**: one lane "
        "aggregates "
        f"about **{aws_rate:,.0f} records/s**, and {TARGET_EVENTS:,} events/s need **{lanes_needed:.0f} lanes** "
        f"at one vCPU each (the worker's 1,769 MB) (`ROLLUP_LANES`; the stage `prod` sets {prod}, {per_lane:,.0f} "
        f"events/s a lane, {per_lane * aws_seconds_per_record:.0%} of what one aggregates).",
        "",
        "### How stale `last_updated` gets",
        "",
        f"A tick every {TICK_SECONDS} s; at the peak target each of {prod} lanes takes {per_lane:,.0f} events/s, "
        f"{per_lane * TICK_SECONDS:,.0f} records a tick, aggregated in about {unit_seconds:.0f} s "
        f"({aws_seconds_per_record * 1000:.2f} ms a record, above). `last_updated` (the oldest lane's tick time) is at "
        f"most {TICK_SECONDS} s + {unit_seconds:.0f} s = **{TICK_SECONDS + unit_seconds:.0f} s** behind "
        f"(target 300 s), and a record shows in the figures at most that long after its ingest was answered. "
        f"In `make run` the same bound is {TICK_SECONDS} s plus a tick's duration; a worker Lambda stops starting "
        f"units {worker.MARGIN_SECONDS} s before its time-out and leaves its lane a tick for the rest.",
        "",
    ])

