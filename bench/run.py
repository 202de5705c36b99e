"""`make bench`: cold start, DynamoDB cost and handler time per API call, and the remote operations' requests
and agent throughput; writes docs/benchmarks.md."""
import gc
import os
import sys
import time
import warnings
from importlib import import_module

from bench import ENV, ROOT

# Before anything imports boto3 or powertools, as tests/conftest.py does (STYLE facts 5 and 6).
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(ENV)

from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from app import app  # noqa: E402
from bench import calls, coldstart, operations, report  # noqa: E402
from bench.counting import Meter  # noqa: E402
from bench.fleet import Fleet  # noqa: E402
from chalicelib import aws, process_state  # noqa: E402
from chalicelib.config import get_settings  # noqa: E402
from chalicelib.tokens import service as token_service  # noqa: E402
from local.moto_server import dynamodb_requests_one_at_a_time, transactions_backing_up_items  # noqa: E402
from local.provision import provision  # noqa: E402

SIZES = (100, 5_000)
CALLS = 11        # measured calls per operation and size
DEEP_PAGE = 50
# Per run, a sync and a reboot on each of OPERATIONS / 2 devices: 3 runs at 100 devices for the throughput's median,
# one shorter run at 5,000 to check that an operation costs the same there (each operation takes ~65 ms on moto).
OPERATIONS = {100: 200, 5_000: 100}
OPERATION_RUNS = {100: 3, 5_000: 1}
OUTPUT = ROOT / "docs" / "benchmarks.md"
# Sections of later capabilities: each module's measure() runs in its own bench.world.world() and returns
# its Markdown section, appended to the report.
SECTIONS: tuple[str, ...] = ("bench.telemetry", "bench.analytics", "bench.rollups", "bench.writes", "bench.bulk")


def measure_api():
    """Each operation CALLS times at each fleet size then the remote operations, the cold-token overhead,
    and a deep page."""
    meter = Meter()
    app.register_middleware(meter.route_phase, "http")
    rounds, seeding, remote = {}, {}, {}
    # make run's moto: same answers, no table copies, one request at a time (lists read their shards in parallel)
    with mock_aws(), dynamodb_requests_one_at_a_time(), transactions_backing_up_items():
        aws.reset_clients()
        process_state.forget()
        meter.attach(aws.session())  # before provision() makes the first client
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            fleet = Fleet()
            runner = calls.Runner(client, meter, fleet)
            for size in SIZES:
                start = time.perf_counter()
                fleet.grow(size)
                seeding[size] = time.perf_counter() - start
                if failed := sum(tally.failed for tally in meter.take().values()):
                    raise RuntimeError(f"{failed} requests failed while seeding")
                # moto's table lives in this process; left to the garbage collector, its full collections
                # would land in handler time and grow with the fleet. A Lambda holds no such table.
                gc.collect()
                gc.freeze()
                print(f"seeded {fleet.size:,} devices in {seeding[size]:.0f} s; measuring", flush=True)
                rounds[size] = {}
                for name, make_call, token in calls.operations(fleet):
                    rounds[size][name] = result = runner.repeat(make_call, CALLS, token)
                    if isinstance(result, calls.CallFailed):
                        print(f"  {name} failed: {result}", flush=True)
                start = time.perf_counter()
                try:
                    remote[size] = operations.measure(app, runner, meter, fleet, OPERATIONS[size],
                                                      OPERATION_RUNS[size])
                    print(f"  remote operations: {len(remote[size].runs)} × {OPERATIONS[size]} in "
                          f"{time.perf_counter() - start:.0f} s, {remote[size].per_second:.1f} ops/s", flush=True)
                except operations.OperationsFailed as failure:
                    remote[size] = failure
                    print(f"  remote operations failed: {failure}", flush=True)
            token_service.forget_cached_tokens()
            _, cold_token = runner.call("GET", f"{calls.DEVICES}{fleet.pick(0)}/")
            deep = calls.deep_page(runner, DEEP_PAGE)
    return rounds, seeding, cold_token, deep, remote


def from_outside() -> str:
    """The runs against `make run` over HTTP, which take their own commands (`make fuzz`, `make load`): their
    latest records, copied here so that every measured figure is in this one file."""
    parts = ["## From outside: fuzzing and load\n",
             "Copied from the records of the latest `make fuzz` and `make load` runs, each with its own command and "
             "date; run those commands to refresh them.\n"]
    for name in ("fuzz.md", "load.md"):
        path = ROOT / "docs" / name
        if path.exists():
            body = path.read_text().split("\n", 1)[1]   # below the record's own title
            parts.append(f"### docs/{name}\n{body}")
    return "\n".join(parts)


SECTIONS_HEADER = ("# Benchmarks: capability sections\n\nProduced by `.venv/bin/python -m bench.run --sections "
                   "[module ...]`, each section on the date it names; `make bench` measures the same sections as "
                   "part of docs/benchmarks.md.\n")


def sections_only(names: list[str]) -> None:
    """`python -m bench.run --sections [module ...]`: the capability sections alone (all, or those named), into
    docs/benchmarks-sections.md; a named section replaces its own block there and leaves the others as they were
    (the full `make bench` writes the same sections into docs/benchmarks.md)."""
    path = ROOT / "docs" / "benchmarks-sections.md"
    text = path.read_text() if names and path.exists() else SECTIONS_HEADER
    for name in names or SECTIONS:
        print(f"measuring {name}", flush=True)
        opening, closing = f"<!-- {name} -->", f"<!-- /{name} -->"
        block = (f"{opening}\n_Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}._\n\n"
                 f"{import_module(name).measure()}{closing}\n")
        start, end = text.find(opening), text.find(closing)
        text = (text[:start] + block + text[end + len(closing) + 1:] if 0 <= start < end
                else f"{text}\n{block}")
    path.write_text(text)
    print(text)
    print(f"written to {path.relative_to(ROOT)}")


def main() -> None:
    warnings.filterwarnings("ignore", "No application metrics to publish")  # as pytest does
    if "--sections" in sys.argv[1:]:
        return sections_only(sys.argv[sys.argv.index("--sections") + 1:])
    start = time.perf_counter()
    print("timing cold start", flush=True)
    cold = coldstart.measure()
    print(f"cold start measured in {time.perf_counter() - start:.0f} s", flush=True)
    rounds, seeding, cold_token, deep, remote = measure_api()
    sections = []
    for name in SECTIONS:
        print(f"measuring {name}", flush=True)
        sections.append(import_module(name).measure())
    text = "\n".join([report.render(cold, rounds, seeding, cold_token, deep, DEEP_PAGE, CALLS, remote,
                                     time.perf_counter() - start), *sections, from_outside()])
    OUTPUT.write_text(text)
    print(text)
    print(f"written to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
