"""Rollups and the connection summary (API.md §7, §8): what a rollup run costs for the same new records on top
of 10x more history; what a summary request costs at 100 and at 5,000 devices; how stale `last_updated` gets.

History and new records are setup, not what is measured: raw items and change-log entries in the shape the
ingestion writes (telemetry.db.raw_item, change_log_items) are put straight into moto's table, their change-log
entries stamped two minutes ago (past the settle lag). The catch-up run that rolls up the history is timed but
not compared; the measured runs each roll up the same number of new records. moto answers every Query by
sorting the whole table, which no DynamoDB does: Queries go to their partition here (the tests do the same).
"""
import random
import statistics
import time
from contextlib import contextmanager
from datetime import timedelta

from local.moto_server import moto_queries_by_partition

HISTORIES = (500, 5_000)      # records already rolled up, over the last 30 days (moto takes ~20 ms a request)
HISTORY_SPAN = timedelta(days=30)
HISTORY_DEVICES = 10
NEW = 100                     # records each measured run rolls up, from the 5 minutes before it
RUNS = 3                      # measured runs per history, 5 minutes apart as the schedule makes them
SIZES = (100, 5_000)
ACTIVE = 50                   # devices with app sessions in the summary worlds
SESSIONS = 600                # app sessions over the last 7 days in the summary worlds
CALLS = 5                     # measured calls per query and size, after a warm-up
SCHEDULE_SECONDS = 300
SETTLE_SECONDS = 60
SUMMARY = "/device_app_connection_summary/"
QUERIES = (
    ("default (24h, all)", ""),
    ("90d, limit 100", "?time_range=90d&limit=100"),
    ("1h, status=active", "?time_range=1h&status=active"),
    ("7d, device_type + status", "?time_range=7d&device_type=router&status=inactive"),
    ("30d, app_category", "?time_range=30d&app_category=navigation"),
    ("24h, organization by name", "?organization=bench-org-1"),
    ("page 10 by cursor", None),
)
APPS = (("Maps", "navigation"), ("Mail", "communication"), ("Vault", "security"), ("CRM", "productivity"))


class Clock:
    """chalicelib.clock.now, moved as the schedule would move it: runs 5 minutes apart, whatever moto takes."""

    def __init__(self):
        from chalicelib import clock

        self.now = clock.now()

    def advance(self, **delta):
        self.now += timedelta(**delta)
        return self.now


def measure() -> str:
    from unittest.mock import patch

    from chalicelib import clock

    simulated = Clock()
    start = simulated.now
    history = {}
    with moto_queries_by_partition(), patch.object(clock, "now", lambda: simulated.now):
        for size in HISTORIES:   # each world from the same time: the same runs of the same hours
            simulated.now = start
            history[size] = _rollup_cost(size, simulated)
        summary, catch_up, steady = _summary_cost(simulated)
    return _render(history, summary, catch_up, steady)


# --- setup -------------------------------------------------------------------------------------------

def _records(devices: list[tuple[int, int]], count: int, start, end, rng: random.Random, prefix: str) -> list:
    """(kind, organization, device, event id, at, fields, time field): app sessions, usage and connection events."""
    records = []
    for n in range(count):
        organization_id, device_id = rng.choice(devices)
        at = start + (end - start) * rng.random()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        kind = ("app_session", "app_session", "usage", "usage", "connection_event")[n % 5]
        if kind == "app_session":
            app, category = rng.choice(APPS)
            fields = {"app_id": app.lower(), "app_name": app, "app_category": category, "success": rng.random() < 0.9,
                      "response_time_ms": rng.randint(50, 400), "duration_s": 30, "bytes": 1024}
        elif kind == "usage":
            fields = {"mo_bytes": rng.randint(0, 5000), "mt_bytes": rng.randint(0, 50_000),
                      "protocol": rng.choice(("TCP", "UDP")), "destination_ip": f"198.51.100.{rng.randint(1, 50)}"}
        else:
            fields = {"event": rng.choice(("Start", "Interim", "Stop")), "attributes": {"BytesUsed": "10"},
                      "extended_attributes": {}}
        time_field = "started_at" if kind == "app_session" else "occurred_at"
        records.append((kind, organization_id, device_id, f"{prefix}-{n:07d}", at, fields, time_field))
    return records


def _put(records: list) -> None:
    """Raw items and their change-log entries straight into moto's table; the entries past the settle lag."""
    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import clock
    from chalicelib.config import get_settings
    from chalicelib.telemetry import db

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[get_settings().table_name]
    serialize = TypeSerializer().serialize
    ingested = clock.now() - timedelta(seconds=SETTLE_SECONDS * 2)
    buckets = set()
    for kind, organization_id, device_id, event_id, at, fields, time_field in records:
        item = db.raw_item(kind, organization_id, device_id, event_id, at, fields, time_field, clock.iso(ingested))
        table.put_item({name: serialize(value) for name, value in item.items()})
        buckets.add((organization_id, device_id, db.hour_of(at), kind))
    for item in db.change_log_items(buckets, ingested):
        table.put_item({name: serialize(value) for name, value in item.items()})


def _timed_run(meter) -> dict:
    """One rollup run, as the schedule makes it: its report with the DynamoDB tally and own CPU time."""
    from chalicelib.observability import metrics
    from chalicelib.rollups import service

    meter.take()
    start, cpu_start = time.perf_counter(), time.process_time()
    report = service.run(budget_seconds=3600)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    metrics.clear_metrics()
    tally = _tally()
    for phase in meter.take().values():
        tally += phase
    if tally.failed:
        raise RuntimeError(f"{tally.failed} DynamoDB requests failed in a rollup run")
    return {"report": report, "tally": tally, "seconds": seconds, "own_cpu": cpu - tally.cpu_seconds}


def _tally():
    from bench.counting import Tally
    return Tally()


@contextmanager
def _setup_writes():
    """For runs that are setup (rolling up a history, indexing a new fleet): their writes go straight into moto's
    table, as the bench's seeding does, instead of through botocore and moto's request parsing (about 6 ms an
    item here). The same items; the run's requests and reads are those of a real run."""
    from unittest.mock import patch

    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    from chalicelib.config import get_settings
    from chalicelib.rollups import db

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[get_settings().table_name]
    serialize = TypeSerializer().serialize

    def write(puts=(), deletes=()):
        kept = {(item["PK"], item["SK"]) for item in puts}
        for key in deletes:
            if (key["PK"], key["SK"]) not in kept:
                table.delete_item(DynamoType({"S": key["PK"]}), DynamoType({"S": key["SK"]}))
        for item in puts:
            table.put_item({name: serialize(value) for name, value in item.items()})
        db.counts.items_written += len(kept) + len(deletes)

    with patch.object(db, "write", write):
        yield


# --- measurements ------------------------------------------------------------------------------------

def _rollup_cost(history: int, clock) -> dict:
    from bench.fleet import Fleet
    from bench.world import world

    rng = random.Random(1)   # the same new records on top of either history
    with world() as (_, meter):
        fleet = Fleet()
        fleet.grow(HISTORY_DEVICES)
        devices = [(body["organization_id"], device_id) for device_id, body in fleet.bodies.items()]
        _put(_records(devices, history, clock.now - HISTORY_SPAN, clock.now - timedelta(hours=2),
                      random.Random(history), "history"))
        clock.advance(minutes=5)
        with _setup_writes():
            catch_up = _timed_run(meter)
        print(f"  {history:,} records of history rolled up in {catch_up['seconds']:.0f} s", flush=True)
        runs = []
        for run in range(RUNS):
            _put(_records(devices, NEW, clock.now - timedelta(minutes=4), clock.now - timedelta(minutes=2), rng,
                          f"new{run}"))
            clock.advance(minutes=5)
            runs.append(_timed_run(meter))
            print(f"  rollup after {history:,} records: {runs[-1]['tally'].describe()}", flush=True)
    return {"catch_up": catch_up, "runs": runs}


def _summary_cost(clock) -> tuple[dict, dict, dict]:
    from bench.calls import Runner
    from bench.fleet import Fleet
    from bench.world import world

    rng = random.Random(7)
    rounds, catch_up = {}, {}
    with world() as (client, meter):
        fleet = Fleet()
        runner = Runner(client, meter, fleet)
        for size in SIZES:
            fleet.grow(size)
            active = [(fleet.bodies[d]["organization_id"], d) for d in list(fleet.bodies)[:ACTIVE]]
            sessions = [r for r in _records(active, SESSIONS * 5 // 2, clock.now - timedelta(days=7),
                                            clock.now - timedelta(minutes=3), rng, f"s{size}")
                        if r[0] == "app_session"]
            _put(sessions)
            clock.advance(minutes=5)
            with _setup_writes():
                catch_up[size] = _timed_run(meter)
            print(f"  summary world of {size:,} devices rolled up in {catch_up[size]['seconds']:.0f} s", flush=True)
            rounds[size] = {}
            for name, query in QUERIES:
                if query is None:
                    rounds[size][name] = runner.repeat(lambda i: ("GET", _deep_page(runner), None), CALLS)
                else:
                    rounds[size][name] = runner.repeat(lambda i, query=query: ("GET", SUMMARY + query, None), CALLS)
        _put(_records([(fleet.bodies[d]["organization_id"], d) for d in fleet.bodies], NEW,
                      clock.now - timedelta(minutes=4), clock.now - timedelta(minutes=2), rng, "steady"))
        clock.advance(minutes=5)
        steady = _timed_run(meter)
    return rounds, catch_up, steady


def _deep_page(runner) -> str:
    """The path of page 10 of 10 rows, reached by following `next` (which carries a cursor)."""
    from urllib.parse import urlsplit

    path = SUMMARY + "?time_range=7d&limit=10"
    for _ in range(9):
        response, _ = runner.call("GET", path)
        link = urlsplit(response.json_body["next"])
        path = f"{link.path}?{link.query}"
    return path


# --- report ------------------------------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _render(history: dict, summary: dict, catch_up: dict, steady: dict) -> str:
    from bench.report import kinds, spread, table

    small, large = HISTORIES
    rows = []
    for size in HISTORIES:
        for n, run in enumerate(history[size]["runs"], start=1):
            tally, report = run["tally"], run["report"]
            rows.append([f"{size:,}", n, report["change_log_entries"], tally.describe(), tally.read,
                         report["records_read"], tally.written, _ms(run["own_cpu"]), _ms(run["seconds"])])
    pairs = list(zip(history[small]["runs"], history[large]["runs"], strict=True))

    def reads(run):
        return {op: n for op, n in run["tally"].requests.items() if op != "BatchWriteItem"}
    same_reads = all(reads(a) == reads(b) for a, b in pairs)
    no_more_writes = all(b["tally"].requests["BatchWriteItem"] <= a["tally"].requests["BatchWriteItem"]
                         for a, b in pairs)
    cpu_ratio = (statistics.median(b["own_cpu"] for _, b in pairs) /
                 max(1e-9, statistics.median(a["own_cpu"] for a, _ in pairs)))
    summary_rows, summary_met = [], []
    for name, _ in QUERIES:
        by_size = {size: summary[size][name] for size in SIZES}
        if any(not isinstance(samples, list) for samples in by_size.values()):
            summary_rows.append([name, f"failed: {by_size}", *[""] * 6])
            summary_met.append(False)
            continue
        same = len({s.operation.describe() for samples in by_size.values() for s in samples}) == 1
        summary_met.append(same)
        summary_rows.append([name, *(kinds(s.operation for s in by_size[size]) for size in SIZES),
                             *(spread(s.operation.read for s in by_size[size]) for size in SIZES),
                             *(f"{statistics.median(s.own_cpu_seconds for s in by_size[size]) * 1000:.1f}"
                               for size in SIZES), "yes" if same else "**no**"])
    steady_seconds = steady["seconds"]
    return "\n".join([
        "## Rollups and the connection summary (API.md §7, §8)",
        "",
        "### Rollup cost against history",
        "",
        f"{HISTORY_DEVICES} devices; a history of {small:,} and of {large:,} records (app sessions, usage records and "
        f"connection events, 2:2:1) over the last {HISTORY_SPAN.days} days, rolled up first; then {RUNS} runs, each "
        f"rolling up {NEW} new records of the 5 minutes before it, the same ones in each world (the clock moves 5 "
        "minutes from run to run, as the schedule's). The runs call `rollups.service.run()` as the schedule does. "
        "*Requests* are every DynamoDB request of the run, *Items "
        "read* what they read (Query ScannedCount, GetItem found), *Records read* the raw telemetry among them, "
        "*Own CPU ms* the run's CPU time outside boto3 and moto, *Wall ms* the whole run on moto.",
        "",
        table(["History", "Run", "Change-log entries", "Requests", "Items read", "Records read", "Items written",
               "Own CPU ms", "Wall ms"], rows),
        "",
        f"Target: the same cost for the same new records on top of 10x more history. Requests: "
        f"**{'met' if same_reads and no_more_writes else 'not met'}** (the same reads run by run; write requests "
        "no more: fewer devices change status when more of them already had traffic); own CPU time "
        f"{large:,}/{small:,}: **{cpu_ratio:.2f}** (≈ 1 within a shared machine's noise, ±25 %). Items read grow "
        "with the buckets a device already has in its windows (at most 12 five-minute, 24 hour and 90 day "
        "buckets, whatever the records in them), not with the records; records read are the touched hours' own. "
        "The catch-up runs "
        f"(setup: their writes put straight into moto's table) took {history[small]['catch_up']['seconds']:.0f} s "
        f"and {history[large]['catch_up']['seconds']:.0f} s ({history[small]['catch_up']['report']['items_written']:,} "
        f"and {history[large]['catch_up']['report']['items_written']:,} items written).",
        "",
        "### Summary request cost against fleet size",
        "",
        f"GET {SUMMARY} by a platform token, {CALLS} calls after a warm-up, at {SIZES[0]:,} and {SIZES[1]:,} devices "
        f"(the bench fleet: 4 organizations, type category `router`), {ACTIVE} of them with app sessions over the "
        "last 7 days. *Requests* and *Items* are the route's own (authentication and rate limit excluded).",
        "",
        table(["Query", f"Requests @{SIZES[0]:,}", f"Requests @{SIZES[1]:,}", f"Items @{SIZES[0]:,}",
               f"Items @{SIZES[1]:,}", f"Own CPU ms @{SIZES[0]:,}", f"Own CPU ms @{SIZES[1]:,}", "Same requests"],
              summary_rows),
        "",
        f"Target: the same requests at both sizes: **{'met' if all(summary_met) else 'not met'}**. The first runs "
        f"that indexed the fleets (setup: their writes put straight into moto's table) took "
        f"{catch_up[SIZES[0]]['seconds']:.0f} s and {catch_up[SIZES[1]]['seconds']:.0f} s "
        f"({catch_up[SIZES[1]]['report']['items_written']:,} items written for {SIZES[1]:,} devices: each device's "
        "state, row and 10 index entries, in a run of "
        f"{catch_up[SIZES[1]]['tally'].describe()}).",
        "",
        "### How stale `last_updated` gets",
        "",
        f"In steady state a run starts every {SCHEDULE_SECONDS} s and `last_updated` is its start; a run at "
        f"{SIZES[1]:,} devices rolling up {NEW} new records took {steady_seconds:.1f} s on moto "
        f"({steady['tally'].describe()}). So `last_updated` is at most {SCHEDULE_SECONDS} s + "
        f"{steady_seconds:.0f} s = **{SCHEDULE_SECONDS + steady_seconds:.0f} s** old when a client reads it, and "
        f"the figures hold every record ingested more than {SETTLE_SECONDS} s (the settle lag) before it: a record "
        f"shows at most {SCHEDULE_SECONDS + SETTLE_SECONDS + steady_seconds:.0f} s after it was ingested. "
        "Responses may be cached 60 s more (`Cache-Control: max-age=60`).",
        "",
    ])
