"""docs/load.md from a locust run's CSV files, and the rule that a load run only ever targets this machine.

No locust import here (importing locust patches the standard library with gevent's): the runner, the tests and
the locustfile all use this module.
"""
import csv
import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

GET_ITEM = "bare DynamoDB GetItem (boto3 → moto)"


def loopback_only(url: str) -> bool:
    """True when `url`'s host is a loopback address (127.0.0.0/8, ::1) or localhost: nothing else is a target."""
    host = urlsplit(url).hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:     # a name: never resolved here, so never reached
        return False


@dataclass
class Row:
    name: str
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float


def read_stats(prefix: Path) -> tuple[list[Row], list[tuple[str, int]]]:
    """(one row per request name, [(error, occurrences)]) from locust's `--csv <prefix>` files."""
    with open(f"{prefix}_stats.csv", newline="") as stats:
        rows = [Row(r["Name"], int(r["Request Count"]), int(r["Failure Count"]), float(r["50%"] or 0),
                    float(r["99%"] or 0)) for r in csv.DictReader(stats) if r["Name"] != "Aggregated"]
    failures = Path(f"{prefix}_failures.csv")
    errors = []
    if failures.exists():
        with failures.open(newline="") as listed:
            errors = [(f"{r['Name']}: {_reason(r['Error'])}", int(r["Occurrences"])) for r in csv.DictReader(listed)]
    return rows, errors


def _reason(error: str) -> str:
    """The failure as the locustfile said it: locust wraps it as CatchResponseError('<reason>')."""
    wrapped = re.fullmatch(r"CatchResponseError\('(.*)'\)", error)
    return wrapped.group(1) if wrapped else error


def report(rows: list[Row], errors: list[tuple[str, int]], *, command: str, seconds: int, users: int,
           load_before: float, locust_version: str,
           settle: str = "from when the first rollups of the demo's week of telemetry were done") -> str:
    """The Markdown of docs/load.md: p50/p99 per endpoint, errors, and each one's ratio to the bare GetItem."""
    base = next((row for row in rows if row.name == GET_ITEM), None)
    lines = [
        "# Load run against `make run`", "",
        f"Produced by `{command}` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {os.cpu_count()} CPUs: "
        f"locust {locust_version}, headless, {users} simulated users for {seconds} s with no wait between "
        "requests, over keep-alive connections to `chalice local` on 127.0.0.1, the demo fleet, the agent and "
        f"schedules running ({settle}), plus one more user timing a bare GetItem of a device item on the same "
        "moto server in the same run. Latencies in "
        "ms (locust rounds them: to 10 ms above 100 ms, to 100 ms above 1 s); the ratio is an endpoint's "
        "percentile over the bare GetItem's same percentile (our overhead per request to the stand-in). "
        "Everything shares this machine's cores (load average before the run: "
        f"{load_before:.1f}), so absolute figures are this machine's, not AWS's; the ratios travel better.", "",
        "| Endpoint | Requests | Errors | p50 ms | p99 ms | p50 ratio | p99 ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in sorted(rows, key=lambda r: (r.name == GET_ITEM, r.name)):
        ratios = ("—", "—")
        if base and row is not base and base.p50_ms and base.p99_ms:
            ratios = (f"{row.p50_ms / base.p50_ms:.1f}×", f"{row.p99_ms / base.p99_ms:.1f}×")
        lines.append(f"| {row.name} | {row.requests} | {row.failures} | {row.p50_ms:.0f} | {row.p99_ms:.0f} | "
                     f"{ratios[0]} | {ratios[1]} |")
    http = [row for row in rows if row is not base]
    total, failed = sum(r.requests for r in http), sum(r.failures for r in http)
    detail = ", ".join(f"{n} × {error}" for error, n in sorted(errors, key=lambda e: -e[1]))
    lines += ["", f"HTTP requests: {total} ({total / seconds:.0f}/s), errors: {failed}"
              + (f" ({detail})" if detail else " (target: none)") + "."]
    if base is None:
        lines += ["", "No bare GetItem was timed in this run: no ratios."]
    return "\n".join(lines) + "\n"
