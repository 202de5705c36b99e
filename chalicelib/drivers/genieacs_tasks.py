"""What the GenieACS driver sends and what it reads back: task documents, parameter paths as GenieACS
parses them, the device document (its id, data-model root, last inform, software version, values).

Sources, all in genieacs/genieacs: lib/api-functions.ts `sanitizeTask` (task fields, `expiry` in seconds
from the task's own timestamp), lib/common/path.ts `Path.parse` (paths), lib/cwmp.ts `nextRpc` (what each
task becomes in the device's session), lib/db.ts `fetchDevice`/`saveDevice` (the device document).
"""
import math
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

from chalicelib import clock
from chalicelib.drivers.errors import DeviceFault

FIRMWARE_FILE_TYPE = "1 Firmware Upgrade Image"
# No standard TR-069 parameter turns debugging on: a GenieACS virtual parameter maps it per vendor.
DEBUG_PARAMETER = "VirtualParameters.FleetlineDebug"
# The data-model roots: TR-181 (Device) and TR-098 (InternetGatewayDevice). Every CWMP device reports
# DeviceInfo.SoftwareVersion in each Inform (a forced parameter), so the one present names the root.
ROOTS = ("Device", "InternetGatewayDevice")
SOFTWARE_VERSION = "DeviceInfo.SoftwareVersion"
# Path.parse splits at "." and trims each segment; "[" opens an alias, ":" ends the path and "*" is a
# wildcard. A path we send must parse back to itself, with no empty segment (the trailing-dot form
# "Device.DeviceInfo." is rejected by every release, as a script.Error fault in the session).
_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")


def check_path(path: str) -> str:
    """`path`, when GenieACS's Path.parse reads it as this very path and it names something (not the root).

    Raises:
        DeviceFault: INVALID_PARAMETER_PATH (nothing is sent).
    """
    if not isinstance(path, str) or not path or not all(_SEGMENT.fullmatch(part) for part in path.split(".")):
        raise DeviceFault("INVALID_PARAMETER_PATH",
                          f"{path!r} is not a parameter path GenieACS accepts (no empty, wildcard or alias "
                          "segment, no trailing dot).")
    return path


def task_for(operation: str, parameters: dict, root: str) -> dict:
    """The NBI task of an operation on a device whose data model starts at `root`.

    Raises:
        DeviceFault: INVALID_PARAMETERS (a firmware update without the image's url), INVALID_PARAMETER_PATH.
    """
    if operation == "reboot":
        return {"name": "reboot"}
    if operation in ("factory", "device_factory"):
        return {"name": "factoryReset"}
    if operation == "sync":
        # The whole data model, named by its root object: "" is refused by master's sanitizeTask.
        return {"name": "refreshObject", "objectName": root}
    if operation == "debug":
        return {"name": "setParameterValues",
                "parameterValues": [[DEBUG_PARAMETER, bool(parameters.get("enabled")), "xsd:boolean"]]}
    if operation == "reconf":
        values = parameter_values(parameters.get("configuration") or {})
        if values:
            return {"name": "setParameterValues", "parameterValues": values}
        # Nothing to set: a read that opens a session, in which the ACS re-applies its presets. A task's
        # 200 comes after the session ended; a bare connection request's 200 comes before it started.
        return {"name": "getParameterValues", "parameterNames": [f"{root}.{SOFTWARE_VERSION}"]}
    return {"name": "download", "fileType": FIRMWARE_FILE_TYPE, "fileName": firmware_file(parameters)}


def firmware_file(parameters: dict) -> str:
    """The image's name on the ACS's file server: the last segment of its url."""
    name = unquote(urlsplit(parameters.get("url") or "").path.rsplit("/", 1)[-1])
    if not name:
        raise DeviceFault("INVALID_PARAMETERS", "A firmware update needs the image's url.")
    return name


def parameter_values(configuration: dict) -> list[list]:
    # GenieACS accepts string, number and boolean values only (sanitizeTask's validParamValue).
    return [[check_path(path), value] for path, value in sorted(configuration.items())
            if isinstance(value, str | bool | int | float)]


def unique_key(operation: str, operation_id: int | None) -> str:
    """One task per operation: the ACS replaces a still-stored task with the same key (insertTasks)."""
    return f"fleetline-{operation}" if operation_id is None else f"fleetline-{operation}-{operation_id}"


def expiry_seconds(deadline: datetime | None, fallback: float) -> int:
    """`expiry` in seconds from the task's own timestamp (the ACS's clock, so no skew between the two)."""
    seconds = (deadline - clock.now()).total_seconds() if deadline is not None else fallback
    return max(1, math.ceil(seconds))


@dataclass(frozen=True)
class AcsDevice:
    """A device as the ACS knows it (its document, projected)."""
    id: str
    root: str
    last_inform: datetime | None
    software_version: str | None

    @classmethod
    def from_document(cls, document: dict) -> "AcsDevice":
        root = next((name for name in ROOTS if isinstance(document.get(name), dict)), ROOTS[0])
        version = value_at(document, f"{root}.{SOFTWARE_VERSION}")
        return cls(id=str(document.get("_id")), root=root, last_inform=parse_time(document.get("_lastInform")),
                   software_version=str(version) if version is not None else None)


def device_projection(*paths: str) -> str:
    """What a device lookup reads: the id, the identity the device reports, its last inform, and its
    software version under either root (which also tells the root)."""
    return ",".join(("_id", "_deviceId", "_lastInform", *(f"{root}.{SOFTWARE_VERSION}" for root in ROOTS), *paths))


def value_at(document: dict, path: str):
    """The `_value` of `path` in a device document, or None."""
    node = document
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node.get("_value") if isinstance(node, dict) else None


def has_parameter(document: dict, path: str) -> bool:
    node = document
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return isinstance(node, dict) and "_value" in node


def same_value(stored, sent) -> bool:
    """GenieACS stores a set value converted to the parameter's type (lib/device.ts sanitizeParameterValue)."""
    if isinstance(sent, bool):
        return str(stored).lower() in (("true", "1") if sent else ("false", "0"))
    if isinstance(sent, int | float):
        try:
            return float(stored) == float(sent)
        except (TypeError, ValueError):
            return False
    return str(stored) == sent


def writable_values(node: dict, prefix: str = "") -> dict:
    """{parameter path: value} of the writable parameters of (part of) a GenieACS device document."""
    values = {}
    for key, child in node.items():
        if key.startswith("_") or not isinstance(child, dict):
            continue
        if "_value" in child:
            if child.get("_writable"):
                values[prefix + key] = child["_value"]
        else:
            values |= writable_values(child, f"{prefix}{key}.")
    return values


# Diagnostic figures (TR-181 names, under the device's root): CPU and memory are refreshed by `diagnose`,
# disk and link are as the ACS last saw them.
CPU_USAGE = "DeviceInfo.ProcessStatus.CPUUsage"
MEMORY_TOTAL, MEMORY_FREE = "DeviceInfo.MemoryStatus.Total", "DeviceInfo.MemoryStatus.Free"
DISK_CAPACITY = "Services.StorageService.1.LogicalVolume.1.Capacity"
DISK_USED = "Services.StorageService.1.LogicalVolume.1.UsedSpace"
LINK_STATUS = "IP.Interface.1.Status"
DIAGNOSTIC_PARAMETERS = (CPU_USAGE, MEMORY_TOTAL, MEMORY_FREE, DISK_CAPACITY, DISK_USED, LINK_STATUS)


def diagnostic_figures(document: dict, root: str) -> dict:
    """cpu_usage, memory_usage, disk_usage (percent) and network_status from a device document, each only
    when its parameters are there."""
    def number(path: str) -> float | None:
        found = value_at(document, f"{root}.{path}")
        if isinstance(found, bool):
            return None
        try:
            return float(found) if isinstance(found, str | int | float) else None
        except ValueError:
            return None

    def percent(part, whole) -> float | None:
        if part is None or whole is None or whole <= 0:
            return None
        return round(min(100.0, max(0.0, 100 * part / whole)), 1)

    total, free = number(MEMORY_TOTAL), number(MEMORY_FREE)
    figures = {"cpu_usage": percent(number(CPU_USAGE), 100),
               "memory_usage": percent(total - free, total) if total is not None and free is not None else None,
               "disk_usage": percent(number(DISK_USED), number(DISK_CAPACITY))}
    link = value_at(document, f"{root}.{LINK_STATUS}")
    if isinstance(link, str):
        figures["network_status"] = "connected" if link == "Up" else "disconnected"
    return {name: figure for name, figure in figures.items() if figure is not None}


def parse_time(value) -> datetime | None:
    try:
        return clock.parse_iso(value) if isinstance(value, str) else None
    except ValueError:
        return None
