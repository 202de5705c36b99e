"""Every key string is built in chalicelib/store/schema.py (STYLE, "Where the house goes next", item 2).

A key prefix that schema.py uses (`DEV#`, `AUDIT#`, `COUNT#` ...) or a whole partition key it defines
(`ORGS`, `OPEN_OPS` ...), written as a string literal anywhere else in chalicelib/, is a key built outside
it: sharding a key (or renaming it) would then miss that copy, as reading the fleet's audit trail from
"AUDIT" once would have missed every shard.
"""
import ast
import re
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
SCHEMA = CHALICELIB / "store" / "schema.py"
PREFIX = re.compile(r"(?<![A-Za-z0-9_])([A-Z][A-Z0-9_]+)#")
PARTITION_KEYS = {"PK", "GSI1PK", "GSI2PK", "GSI3PK"}


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal, f-strings' literal parts included."""
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _docstrings(tree: ast.AST) -> set[int]:
    """Ids of docstring nodes: prose may name keys."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _code_literals(tree: ast.AST) -> list[tuple[int, str]]:
    docs = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs]


def schema_prefixes() -> set[str]:
    return {match for _, text in _code_literals(ast.parse(SCHEMA.read_text())) for match in PREFIX.findall(text)}


def schema_whole_keys() -> set[str]:
    """Partition keys schema.py writes as whole strings: `*_PK` constants and PK values of its key dicts."""
    tree = ast.parse(SCHEMA.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.Tuple)):
            names = [t.id for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple)
                                                                else [target]) if isinstance(t, ast.Name)]
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            found |= {v.value for name, v in zip(names, values, strict=False)
                      if name.endswith("_PK") and isinstance(v, ast.Constant) and isinstance(v.value, str)}
        if isinstance(node, ast.Dict):
            found |= {value.value for key, value in zip(node.keys, node.values, strict=True)
                      if isinstance(key, ast.Constant) and key.value in PARTITION_KEYS
                      and isinstance(value, ast.Constant) and isinstance(value.value, str)}
    return found


def test_schema_defines_the_prefixes_and_partition_keys_this_test_looks_for():
    assert {"DEV", "ORG", "AUDIT", "COUNT", "SEQ", "DEVICES", "PENDING", "SERIAL"} <= schema_prefixes()
    assert {"ORGS", "TOKENS", "FIRMWARE", "DTYPES", "DUE", "IDEMPOTENCY"} <= schema_whole_keys()


def test_no_key_prefix_or_partition_key_is_written_outside_store_schema():
    prefixes, whole = schema_prefixes(), schema_whole_keys()
    found = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        if path == SCHEMA:
            continue
        for line, text in _code_literals(ast.parse(path.read_text())):
            built = set(PREFIX.findall(text)) & prefixes
            if built or text in whole:
                found.append(f"{path.relative_to(CHALICELIB.parent)}:{line}: {text!r}")
    assert found == [], "key strings built outside chalicelib/store/schema.py:\n" + "\n".join(found)
