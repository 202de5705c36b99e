"""The ingest records of the OpenAPI description (api/record_schemas.py) mirror what ingest validates record by
record (telemetry/models.py): the same fields and required ones, every example and every edge the description
allows accepted, and every value a described constraint forbids rejected. Ingest itself (partial accept, the
answer's shape) is tested in tests/telemetry; here, only that the description tells the truth about it.
"""
from datetime import timedelta, timezone

import pytest
from pydantic import ValidationError

from app import app
from chalicelib import clock
from chalicelib.api import openapi, record_schemas
from chalicelib.telemetry.models import RECORD_MODELS, validate_record

KINDS = list(record_schemas.BATCHES)
# (accepted, refused) values of each address format
ADDRESSES = {"ipv4": (["93.184.216.34", "0.0.0.0"], ["256.1.1.1", "1.2.3", 17]),
             "ipv6": (["2001:db8::1", "::1"], ["2001:db8:::1", "fe80::g"])}


def spec() -> dict:
    return openapi.document(app.routes, "http://localhost")


def schema_of(kind: str) -> dict:
    """The record's schema as the served document holds it, its $refs resolved."""
    components = spec()["components"]["schemas"]
    return components[record_schemas.BATCHES[kind][2].__name__], components


def example(kind: str) -> dict:
    """The record's documented example, its time moved to an hour ago (records over 90 days old are refused)."""
    record = dict(record_schemas.BATCHES[kind][2].model_config["json_schema_extra"]["examples"][0])
    record[RECORD_MODELS[kind].time_field] = clock.iso(clock.now() - timedelta(hours=1))
    return record


def accepted(kind: str, record: dict) -> bool:
    try:
        validate_record(kind, record)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_each_ingest_route_describes_its_own_record_kind(kind):
    path, batch, record = record_schemas.BATCHES[kind]
    body = spec()["paths"][f"/telemetry/{path}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{batch.__name__}"}
    records = spec()["components"]["schemas"][batch.__name__]["properties"]["records"]
    assert records["items"] == {"$ref": f"#/components/schemas/{record.__name__}"}
    assert records["maxItems"] == 1000


@pytest.mark.parametrize("kind", KINDS)
def test_described_fields_and_required_ones_are_those_ingest_validates(kind):
    described, _ = schema_of(kind)
    real = RECORD_MODELS[kind].model_fields
    assert described["properties"].keys() == real.keys()
    assert set(described["required"]) == {name for name, field in real.items() if field.is_required()}
    assert described["additionalProperties"] is False       # an unknown field: the record is rejected


@pytest.mark.parametrize("kind", KINDS)
def test_the_documented_example_and_every_described_edge_are_accepted(kind):
    described, components = schema_of(kind)
    assert accepted(kind, example(kind))
    for name, value in edges(described, components, accept=True):
        assert accepted(kind, example(kind) | {name: value}), (name, value)


@pytest.mark.parametrize("kind", KINDS)
def test_every_value_a_described_constraint_forbids_is_rejected(kind):
    described, components = schema_of(kind)
    for name in described["required"]:
        assert not accepted(kind, {k: v for k, v in example(kind).items() if k != name}), f"{name} missing"
    assert not accepted(kind, example(kind) | {"unknown_field": 1})
    bad = list(edges(described, components, accept=False))
    assert len(bad) >= len(described["properties"])    # at least one forbidden value per field
    for name, value in bad:
        assert not accepted(kind, example(kind) | {name: value}), (name, value)


def edges(schema: dict, components: dict, accept: bool):
    """(field, value) pairs at the limits the schema states: just inside them (accept) or just outside."""
    for name, field in schema["properties"].items():
        for option in field.get("anyOf", [field]):
            option = components[option["$ref"].rsplit("/", 1)[1]] if "$ref" in option else option
            for value in (_inside(option, components) if accept else _outside(option)):
                yield name, value


def _inside(field: dict, components: dict) -> list:
    kind = field.get("type")
    if "enum" in field:
        return list(field["enum"])
    if kind == "string" and field.get("format") == "date-time":
        return [clock.iso(clock.now() - timedelta(days=89)),
                (clock.now() - timedelta(hours=2)).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()]
    if field.get("format") in ADDRESSES:
        return ADDRESSES[field["format"]][0]
    if kind == "string":
        longest = "A" * field.get("maxLength", 8)
        return [longest] if "pattern" in field or field.get("minLength") else [longest, ""]
    if kind in ("integer", "number"):
        return [field["minimum"], field["maximum"]] + ([0.5] if kind == "number" else [])
    if kind == "boolean":
        return [True, False]
    if kind == "object" and "maxProperties" in field:
        return [{}, {f"K{n}": "v" * field["additionalProperties"]["maxLength"] for n in range(field["maxProperties"])}]
    if kind == "object":      # an identifier object: each kind with a valid-looking id
        return [{"kind": "serial", "id": "SN-NOT-THERE"}]
    raise AssertionError(f"no edge for {field}")


def _outside(field: dict) -> list:
    kind = field.get("type")
    if "enum" in field:
        return ["Nope", 1]
    if kind == "string" and field.get("format") == "date-time":
        return ["not a time", 1700000000, "2026-12-01T10:00:00"]     # the last: no offset
    if field.get("format") in ADDRESSES:
        return ADDRESSES[field["format"]][1]
    if kind == "string":
        values = [1, "A" * (field["maxLength"] + 1)]
        if field.get("minLength"):
            values.append("")
        if "pattern" in field:
            values.append("has space")
        return values
    if kind in ("integer", "number"):
        values = [field["minimum"] - 1, field["maximum"] + 1, "12", True]
        return values + ([1.5] if kind == "integer" else [])
    if kind == "boolean":
        return ["yes", 1]
    if kind == "object" and "maxProperties" in field:
        keys = field["propertyNames"]
        return [{f"K{n}": "v" for n in range(field["maxProperties"] + 1)},
                {"K" * (keys["maxLength"] + 1): "v"}, {"": "v"},
                {"K": "v" * (field["additionalProperties"]["maxLength"] + 1)}, {"K": 1}, ["K", "v"]]
    if kind == "object":
        return [{"kind": "imei"}, {"kind": "imei", "id": ""}, {"kind": "imei", "id": "1", "extra": "x"}, "imei:1"]
    raise AssertionError(f"no edge for {field}")
