"""Cold start: `import app` in fresh processes beside the floor `import boto3, chalice`, and where it goes;
and what the agent Lambda imports on top before its first batch."""
import functools
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass

from bench import ENV, ROOT

APP = "import app"
FLOOR = "import boto3, chalice"
# The agent Lambda: app.py, its handler (whose capability loads on first use), the agent module, then the
# driver its first operation builds (drivers.get_driver imports the simulator there).
AGENT_STEPS = (APP, 'app.app.handler_map["operations_agent_handler"]; import chalicelib.operations.agent',
               "import chalicelib.drivers.simulator")
AGENT = "; ".join(AGENT_STEPS)
FIRST_PARTY = ("app", "chalicelib")
# Timed inside the child, so interpreter start-up (the same for both) is left out.
_TIMED = "import time; start = time.perf_counter(); {statement}; print(time.perf_counter() - start)"
# The agent's steps timed one after the other in one child: the time of each, in order.
_STEPS = "import time; mark = time.perf_counter(); " + "".join(
    f"{step}; now = time.perf_counter(); print(now - mark); mark = now; " for step in AGENT_STEPS)


@dataclass
class ColdStart:
    app_ms: float
    floor_ms: float
    runs: int
    by_package: list[tuple[str, float, bool]]      # (package or our module, self ms, the floor imports it too)
    lazy_candidates: list[tuple[str, str, float]]  # (our module, what it imports, cumulative ms)
    agent_steps_ms: list[float]                    # median ms of each of AGENT_STEPS, in one process
    agent_ms: float                                # median of the whole agent path (the sum, per process)
    agent_by_package: list[tuple[str, float]]      # what the agent path adds to `import app`, self ms

    @property
    def ratio(self) -> float:
        return self.app_ms / self.floor_ms


def _python(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"} | ENV
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)


def time_import(statement: str) -> float:
    return float(_python("-c", _TIMED.format(statement=statement)).stdout.split()[-1])


def time_steps() -> list[float]:
    return [float(line) for line in _python("-c", _STEPS).stdout.split()[-len(AGENT_STEPS):]]


def measure(runs: int = 7, top: int = 12) -> ColdStart:
    """`import app` is the first of the agent's steps, timed in the same processes."""
    floor: list[float] = []
    steps: list[list[float]] = []
    for _ in range(runs):  # interleaved, so that a slow moment of the machine hits both alike
        floor.append(time_import(FLOOR))
        steps.append(time_steps())
    step_ms = [statistics.median(run[i] for run in steps) * 1000 for i in range(len(AGENT_STEPS))]
    agent_ms = statistics.median(sum(run) for run in steps) * 1000
    return ColdStart(step_ms[0], statistics.median(floor) * 1000, runs, *import_costs(top), step_ms, agent_ms,
                     agent_additions(top // 2))


def _first_party(module: str) -> bool:
    return module.split(".")[0] in FIRST_PARTY


def _package(module: str) -> str:
    return module.split(".")[0]


@functools.cache
def _import_rows(statement: str) -> list[tuple[int, str, int, int]]:
    """`python -X importtime`: (depth, module, self µs, cumulative µs) of what `statement` imported,
    children printed before their parent."""
    rows = []
    for line in _python("-X", "importtime", "-c", statement).stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
            rows.append(((len(name) - len(name.lstrip()) - 1) // 2, name.strip(), int(self_us), int(cumulative_us)))
    # Interpreter start-up imports come first; keep the rows after the last top-level one of those.
    first = statement.split()[1].rstrip(",;")
    end = next(i for i, row in enumerate(rows) if row[0] == 0 and row[1] == first)
    start = max((i for i, row in enumerate(rows[:end]) if row[0] == 0), default=-1) + 1
    return rows[start:]


def import_costs(top: int) -> tuple[list[tuple[str, float, bool]], list[tuple[str, str, float]]]:
    """Self time of `import app` by top-level package (our modules one by one; True if the floor
    imports it too), and the third-party packages our modules import directly that the floor does
    not, by cumulative time: what to import lazily."""
    rows = _import_rows(APP)
    floor = {_package(module) for _, module, _, _ in _import_rows(FLOOR)}
    by_package: dict[str, int] = defaultdict(int)
    for _, module, self_us, _ in rows:
        by_package[module if _first_party(module) else _package(module)] += self_us
    direct: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)  # (ours, package) -> imports
    waiting: dict[int, list[int]] = defaultdict(list)  # depth -> rows whose parent is not printed yet
    for i, (depth, module, _, _) in enumerate(rows):
        for child in waiting.pop(depth + 1, []):
            imported = rows[child][1]
            if _first_party(module) and not _first_party(imported) and _package(imported) not in floor:
                direct[module, _package(imported)].append((rows[child][3], imported))
        waiting[depth].append(i)
    candidates = [(ours, min((name for _, name in imports), key=len), sum(us for us, _ in imports) / 1000)
                  for (ours, _), imports in direct.items()]
    ranked = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    return ([(name, us / 1000, _package(name) in floor) for name, us in ranked],
            sorted(candidates, key=lambda candidate: -candidate[2])[:top])


def agent_additions(top: int) -> list[tuple[str, float]]:
    """Self time of what the agent path imports that `import app` does not, by package (ours one by one)."""
    loaded_by_app = {module for _, module, _, _ in _import_rows(APP)}
    by_package: dict[str, int] = defaultdict(int)
    for _, module, self_us, _ in _import_rows(AGENT):
        if module not in loaded_by_app:
            by_package[module if _first_party(module) else _package(module)] += self_us
    return [(name, us / 1000) for name, us in sorted(by_package.items(), key=lambda item: -item[1])[:top]]
