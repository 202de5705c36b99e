"""The drivers package sits below operations and diagnostics (STYLE.md, "Where the house goes next", item 1)."""
import ast
from pathlib import Path

import chalicelib.drivers
from chalicelib.drivers.protocol import OPERATIONS
from chalicelib.operations.models import QUEUE_ORDER

PACKAGE = Path(chalicelib.drivers.__file__).parent
# Only the simulator's admin use cases (PUT/GET /admin/simulator/) look a device up through the device service.
ABOVE = ("chalicelib.operations", "chalicelib.diagnostics", "chalicelib.devices", "chalicelib.api")
ALLOWED = {"simulator_settings": ("chalicelib.devices",)}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_driver_module_imports_the_capabilities_that_use_drivers():
    offending = {(path.stem, name) for path in PACKAGE.glob("*.py") for name in imported_modules(path)
                 if name.startswith(ABOVE) and not name.startswith(ALLOWED.get(path.stem, ()))}
    assert offending == set()


def test_protocol_and_errors_are_the_bottom_of_the_package():
    for bottom in ("protocol", "errors"):
        assert not {name for name in imported_modules(PACKAGE / f"{bottom}.py") if name.startswith("chalicelib.")}


def test_the_operations_a_driver_carries_out_are_those_a_patch_can_queue():
    assert sorted(OPERATIONS) == sorted(QUEUE_ORDER)
