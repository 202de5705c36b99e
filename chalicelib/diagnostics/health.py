"""What a health check measures and how it is judged (docs/diagnostics.md has the tables).

A device type names its diagnostic helper (`diagnostic_helper`); the driver runs it on the device
(`Driver.diagnose`) and answers figures. A helper here is the set of figures that are kept and judged;
a name this module does not know is run and judged as `generic`.
"""
from dataclasses import dataclass

from chalicelib import clock

GENERIC = "generic"
# The figures each helper keeps: CPEs and LTE modems have no storage of their own to watch, and LoRaWAN
# radios report their link only.
HELPERS: dict[str, tuple[str, ...]] = {
    GENERIC: ("cpu_usage", "memory_usage", "disk_usage", "network_status"),
    "cwmp_basic": ("cpu_usage", "memory_usage", "network_status"),
    "lte_modem": ("cpu_usage", "memory_usage", "network_status"),
    "lorawan": ("network_status",),
}


@dataclass(frozen=True)
class Threshold:
    figure: str
    code: str
    label: str
    medium: float   # a figure strictly above a bound raises an issue of that severity
    high: float
    critical: float


THRESHOLDS: tuple[Threshold, ...] = (
    Threshold("cpu_usage", "CPU_HIGH", "CPU usage", 80, 90, 95),
    Threshold("memory_usage", "MEMORY_HIGH", "Memory usage", 80, 90, 95),
    Threshold("disk_usage", "DISK_LOW", "Disk usage", 80, 90, 95),
)
SEVERITY_ORDER = ("critical", "high", "medium", "low")
# A checked device's status follows its worst issue.
STATUS_BY_SEVERITY = {"critical": "critical", "high": "warning", "medium": "warning", "low": "warning"}


@dataclass(frozen=True)
class Outcome:
    """What one health check found: the fields of the entry it writes."""
    status: str
    details: dict
    issues: list[dict]


def figures_of(helper: str) -> tuple[str, ...]:
    return HELPERS.get(helper, HELPERS[GENERIC])


def assess(figures: dict) -> list[dict]:
    """The issues the figures raise, worst first."""
    issues = []
    for threshold in THRESHOLDS:
        value = figures.get(threshold.figure)
        if value is None:
            continue
        severity = next((name for name in ("critical", "high", "medium") if value > getattr(threshold, name)), None)
        if severity:
            bound = getattr(threshold, severity)
            issues.append(_issue(severity, threshold.code, f"{threshold.label} {value:g} % is above {bound:g} %."))
    if figures.get("network_status") == "disconnected":
        issues.append(_issue("critical", "NETWORK_DOWN", "The device reports its network link down."))
    return sorted(issues, key=lambda issue: SEVERITY_ORDER.index(issue["severity"]))


def status_of(issues: list[dict]) -> str:
    """healthy without issues, else after the worst one."""
    worst = min((issue["severity"] for issue in issues), default=None, key=SEVERITY_ORDER.index)
    return STATUS_BY_SEVERITY[worst] if worst else "healthy"


def measured(helper: str, figures: dict) -> Outcome:
    """The entry of a device that answered its helper."""
    kept = {name: figures[name] for name in figures_of(helper) if figures.get(name) is not None}
    issues = assess(kept)
    return Outcome(status_of(issues), {**kept, "last_ping": clock.iso(clock.now()), "helper": helper}, issues)


def unreachable(helper: str, code: str, message: str) -> Outcome:
    """The entry of a device that could not be reached."""
    return Outcome("offline", {"helper": helper, "error": {"code": code, "message": message}},
                   [_issue("critical", "DEVICE_UNREACHABLE", message)])


def no_answer(helper: str, timeout: float) -> Outcome:
    """The entry of a device that did not answer within the scheduled check's timeout."""
    message = f"The device did not answer the {helper} helper within {timeout:g} s."
    return Outcome("offline", {"helper": helper, "error": {"code": "TIMEOUT", "message": message}},
                   [_issue("high", "NO_ANSWER", message)])


def faulted(helper: str, code: str, message: str) -> Outcome:
    """The entry of a device that could not run its helper (fault code in details.error)."""
    return Outcome("failed", {"helper": helper, "error": {"code": code, "message": message}},
                   [_issue("medium", "HELPER_FAILED", f"The {helper} helper failed: {message} ({code}).")])


def _issue(severity: str, code: str, message: str) -> dict:
    return {"severity": severity, "message": message, "code": code}
