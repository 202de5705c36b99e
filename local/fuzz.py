"""`make fuzz`: schemathesis against the running system, from outside, as a client would call it.

Starts the local system as `make run` does (`python -m local.run` as a child, waiting until it has written
.local/tokens.json and says it is up), then runs the schemathesis CLI against http://127.0.0.1:PORT/openapi.json
with the demo platform admin's token: every phase (examples, coverage, fuzzing, stateful), valid and invalid
requests, at most FUZZ_EXAMPLES cases per operation and phase, and the checks below. Writes docs/fuzz.md (the
command, the number of requests generated, the outcome) and stops everything; exits with schemathesis's status.

The demo world is fair game: the fuzzer deletes devices, cancels operations and revokes tokens, except the token
it calls with (a schemathesis hook in this module swaps that id for an unknown one: else every later answer is 401).

    make fuzz          # FUZZ_EXAMPLES=15 FUZZ_SEED=1 FUZZ_WORKERS=1 DEMO_DEVICES=60; PORT, MOTO_PORT as make run
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import schemathesis

from local.processes import ChildProcess, StartFailed, port_is_free

ROOT = Path(__file__).resolve().parent.parent
TOKENS = ROOT / ".local" / "tokens.json"
REPORT_JSON = ROOT / ".local" / "fuzz-report.json"
CONFIG = ROOT / ".local" / "schemathesis.toml"
DOCUMENT = ROOT / "docs" / "fuzz.md"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 300
RUN_TIMEOUT_SECONDS = 3600
# API Gateway's integration time-out: an answer later than this is a 504 there.
REQUEST_TIMEOUT_SECONDS = 29
DEMO_DEVICES = 60
SETTINGS = ("FUZZ_EXAMPLES", "FUZZ_SEED", "FUZZ_WORKERS", "DEMO_DEVICES", "PORT", "MOTO_PORT")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
KEPT_TOKEN = "FUZZ_KEPT_TOKEN_ID"
NO_SUCH_TOKEN = 9_999_999_999
TOKEN_VARIABLE = "FUZZ_TOKEN"
# The token comes from the environment (schemathesis resolves ${...}): no secret on a command line or in a file.
# TRACE and QUERY never reach the app: `chalice local`'s HTTP server answers them 501 itself, and API Gateway
# refuses them before any Lambda runs. The coverage phase sends every other method a path does not declare.
# No crash cache either: a run replays nothing from an earlier one, so its figures depend on the seed only.
CONFIG_TEXT = f"""\
hooks = "local.fuzz"

[cache]
enabled = false

[headers]
Authorization = "Bearer ${{{TOKEN_VARIABLE}}}"

[phases.coverage]
unexpected-methods = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
"""


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Never revoke the token the run calls with (the CLI loads this module: `hooks` in CONFIG_TEXT): its id is
    swapped for one that names no token. Every phase calls this, unlike the filter hooks (coverage skips those)."""
    kept = os.environ.get(KEPT_TOKEN)
    parameters = case.path_parameters or {}
    if kept is not None and str(parameters.get("token_id")) == kept:
        parameters["token_id"] = NO_SUCH_TOKEN


class Stopped(Exception):
    """SIGINT or SIGTERM: unwind to the clean-up."""


def _stop(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def _number(name: str, default: int, high: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise ValueError(f"{name}={value!r} is not a number from 1 to {high}")
    return int(value)


def _token_id(port: int, token: str, name: str = "demo platform admin") -> int:
    request = urllib.request.Request(f"http://{HOST}:{port}/admin/tokens/?limit=200",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return next(t["id"] for t in json.load(response)["results"] if t["name"] == name)


def schemathesis_command(url: str, examples: int, seed: int, workers: int) -> list[str]:
    return [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(CONFIG), "run", url,
            "--checks", ",".join(CHECKS), "--max-examples", str(examples), "--seed", str(seed),
            "--workers", str(workers), "--request-timeout", str(REQUEST_TIMEOUT_SECONDS),
            "--report", "json", "--report-json-path", str(REPORT_JSON)]


def report(summary: dict, command: str, seconds: float) -> str:
    """docs/fuzz.md from schemathesis's JSON report."""
    cases, operations = summary["test_cases"], summary["operations"]
    failures = summary.get("failures") or []
    errors = summary.get("errors") or []
    outcome = "**passed**: no 5xx and no answer outside the description" if not failures and not errors else (
        f"**failed**: {cases['with_failures']} requests with failures ({cases['unique_failures']} distinct), "
        f"{cases['errored']} without an answer (the console output has a curl command for each)")
    lines = [
        "# Fuzzing the API with schemathesis",
        "",
        "Generated by `make fuzz` (local/fuzz.py): the local system (`make run`) with its demo world, called from",
        "outside over HTTP by the schemathesis CLI with the demo platform admin's token, against the OpenAPI 3.1",
        "description it serves at `/openapi.json`. Valid and invalid requests (path, query, headers and bodies),",
        "in every phase: examples, coverage (boundary values, missing and wrong parameters, undeclared methods),",
        "fuzzing and stateful sequences. Checks: " + ", ".join(f"`{c}`" for c in CHECKS) + ".",
        "CI runs a bounded pass of the same checks in process (tests/fuzz/test_schemathesis.py, part of `make test`).",
        "",
        f"- Command: `{command}`; it ran `{summary['command'].replace(str(ROOT) + '/', '')}`",
        f"- Schemathesis {summary['schemathesis_version']}, seed {summary['seed']}, run on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d')} in {seconds:.0f} s",
        f"- Operations: {operations['tested']} tested of {operations['total']}",
        f"- Requests generated: **{cases['generated']}** (schemathesis test cases, one request each)",
        f"- Outcome: {outcome}",
        "",
        "| Phase | Result |",
        "| --- | --- |",
        *(f"| {name} | {phase['status']}{' (' + phase['skip_reason'] + ')' if phase.get('skip_reason') else ''} |"
          for name, phase in summary["phases"].items()),
        "",
        *(["The examples phase has nothing to send: the description carries no examples.", ""]
          if summary["phases"].get("examples", {}).get("status") == "skip" else []),
    ]
    if failures:
        lines += ["| Failure | Count | Operations |", "| --- | --- | --- |",
                  *(f"| {f['code']} {f['title']} | {f['count']} | {', '.join(f['operations'])} |" for f in failures),
                  ""]
    if errors:
        lines += ["| Error (no answer) | Count |", "| --- | --- |",
                  *(f"| {e['title']} | {e['count']} |" for e in errors), ""]
    warnings = {name: ops for name, ops in (summary.get("warnings") or {}).items() if ops}
    if warnings:
        lines += ["Warnings (not failures; mostly generated ids that name nothing in the demo world):", "",
                  *(f"- {name}: {', '.join(ops)}" for name, ops in warnings.items()), ""]
    return "\n".join(lines)


def main() -> int:
    given = {name: os.environ[name] for name in SETTINGS if name in os.environ}   # for the command in docs/fuzz.md
    try:
        examples, seed = _number("FUZZ_EXAMPLES", 15, 10_000), _number("FUZZ_SEED", 1, 2**31)
        workers = _number("FUZZ_WORKERS", 1, 16)
        port, moto_port = _number("PORT", 8000, 65535), _number("MOTO_PORT", 5000, 65535)
    except ValueError as error:
        print(f"make fuzz: {error}", file=sys.stderr)
        return 2
    busy = [str(p) for p in (port, moto_port) if not port_is_free(p)]
    if busy:
        print(f"make fuzz: port {' and '.join(busy)} in use (a make run?); stop it or set PORT/MOTO_PORT",
              file=sys.stderr)
        return 1
    from local.run import local_environment, use_environment

    # A smaller demo than make run's by default: moto answers in time proportional to what the table holds.
    use_environment({**local_environment(moto_port), "PORT": str(port), "MOTO_PORT": str(moto_port),
                     "DEMO_DEVICES": os.environ.get("DEMO_DEVICES", str(DEMO_DEVICES))})
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    started = time.time()
    system = ChildProcess("make run", [sys.executable, "-m", "local.run"], dict(os.environ),
                          ROOT / ".local" / "fuzz-run.log", ROOT)
    fuzzer = None
    try:
        system.wait_until(lambda: TOKENS.exists() and TOKENS.stat().st_mtime >= started
                          and "Fleetline is up" in system.log_path.read_text(errors="replace"),
                          START_TIMEOUT_SECONDS, "come up")
        token = json.loads(TOKENS.read_text())["platform_admin"]
        CONFIG.write_text(CONFIG_TEXT)
        REPORT_JSON.unlink(missing_ok=True)
        url = f"http://{HOST}:{port}/openapi.json"
        argv = schemathesis_command(url, examples, seed, workers)
        env = {**os.environ, KEPT_TOKEN: str(_token_id(port, token)), TOKEN_VARIABLE: token, "PYTHONPATH": str(ROOT)}
        print(f"fuzz: schemathesis against {url}, {examples} examples per operation and phase ...", file=sys.stderr)
        fuzz_started = time.monotonic()
        fuzzer = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
        status = fuzzer.wait(RUN_TIMEOUT_SECONDS)
        seconds = time.monotonic() - fuzz_started
        if not REPORT_JSON.exists():
            print(f"make fuzz: schemathesis exited with {status} without a report", file=sys.stderr)
            return status or 1
        command = "".join(f"{name}={value} " for name, value in given.items()) + "make fuzz"
        DOCUMENT.write_text(report(json.loads(REPORT_JSON.read_text()), command, seconds))
        print(f"fuzz: wrote {DOCUMENT.relative_to(ROOT)}", file=sys.stderr)
        return status
    except Stopped as stopped:
        print(f"\n{stopped}: stopping.", file=sys.stderr)
        return 130
    except (StartFailed, subprocess.TimeoutExpired) as error:
        print(f"make fuzz: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if fuzzer is not None and fuzzer.poll() is None:
            os.killpg(fuzzer.pid, signal.SIGTERM)
            fuzzer.wait(10)
        system.stop()


if __name__ == "__main__":
    sys.exit(main())
