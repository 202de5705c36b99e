"""HTTP stays at the edge (STYLE.md, "Where the house goes next", item 4): the domain never imports chalicelib.api."""
from pathlib import Path

import chalicelib
from tests.drivers.test_layering import imported_modules

ROOT = Path(chalicelib.__file__).parent
# snapstart.py primes the HTTP models before the snapshot is taken: importing them is its purpose.
EDGE = {ROOT / "api", ROOT / "snapstart.py"}


def test_no_domain_module_imports_the_http_edge():
    offending = {(str(path.relative_to(ROOT)), name) for path in ROOT.rglob("*.py")
                 if not any(path == edge or edge in path.parents for edge in EDGE)
                 for name in imported_modules(path) if name == "chalicelib.api" or name.startswith("chalicelib.api.")}
    assert offending == set()
