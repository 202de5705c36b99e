"""The import layers of docs/operations.md: operations and bulk operations never reach back up into the device
use cases, and the shared lookups import no service. Read from the source (every import, also those inside
functions), so a lazy import cannot hide a circle."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_by(package: str) -> dict[str, set[str]]:
    """module path -> every chalicelib module it imports, at the top or inside a function."""
    found = {}
    for path in sorted((ROOT / "chalicelib" / package).glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chalicelib"):
                names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names if alias.name.startswith("chalicelib")}
        found[str(path.relative_to(ROOT))] = names
    return found


def test_operations_never_import_the_device_use_cases():
    for module, names in imported_by("operations").items():
        assert "chalicelib.devices.service" not in names, module
        assert not any(name.startswith("chalicelib.bulk") for name in names), module


def test_the_shared_lookups_import_no_service():
    [names] = [names for module, names in imported_by("devices").items() if module.endswith("lookup.py")]
    assert not any(name.endswith(".service") or name.startswith("chalicelib.operations") for name in names), names


def test_bulk_operations_read_devices_through_the_lookups_and_items_only():
    for module, names in imported_by("bulk").items():
        assert "chalicelib.devices.service" not in names, module
