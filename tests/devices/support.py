"""Shared by the device and audit tests: a module-wide moto world for read-only tests, and read-back helpers."""
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import moto.dynamodb.models as moto_dynamodb
import pytest
from chalice.test import Client
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from app import app
from chalicelib import aws
from chalicelib.config import get_settings
from local.provision import provision
from tests.conftest import forget_process_state, kept_by_a_refused_request
from tests.factories import Api

ROOT = Path(__file__).resolve().parents[2]
DEVICES = "/inventory_device/"
AUDIT = "/audit_log/"

@pytest.fixture(scope="module")
def shared_api():
    """One moto world for a whole module, for tests that only read or are refused (each checks that it
    left the world as it found it). Set up as tests/conftest.py sets up `api`; never mix the two in a module.
    """
    with mock_aws():
        forget_process_state()
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            yield Api(client)


def fields_named(error: dict) -> set[str]:
    return {detail["field"] for detail in error.get("details") or []}


def stored_items() -> list[dict]:
    """Every item of the table but what a refused request may still write (kept_by_a_refused_request)."""
    pages = aws.dynamodb().get_paginator("scan").paginate(TableName=get_settings().table_name)
    return sorted((item for page in pages for item in page["Items"] if not kept_by_a_refused_request(item["PK"])),
                  key=lambda item: (item["PK"], item["SK"]))


def follow(api, url: str, **kw):
    """GET an absolute next/previous URL through the test client (which takes a path)."""
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc
    return api.get(f"{parts.path}?{parts.query}", **kw)


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def world(api) -> dict:
    """What a failed write must leave as it was: how many items the table holds, the device count, and the
    newest device and audit entry as served. Kept small: moto takes seconds to serialise long answers."""
    devices = api.get(f"{DEVICES}?limit=1")
    audit = api.get(f"{AUDIT}?limit=1")
    assert devices.status_code == 200 and audit.status_code == 200
    return {"items": stored_count(), "devices": devices.json_body, "audit": audit.json_body}


def stored_count() -> int:
    """Items in the table but what a refused request may still write (kept_by_a_refused_request).

    Counted in moto's own store: a Scan, even with Select=COUNT, deep-copies every item in moto, and a
    failed-write check runs twice per test.
    """
    backend = moto_dynamodb.dynamodb_backends[DEFAULT_ACCOUNT_ID][aws.session().region_name]
    partitions = backend.get_table(get_settings().table_name).items
    return sum(len(items) for key, items in partitions.items() if not kept_by_a_refused_request(key.value))


def device_path(device: dict | int) -> str:
    return f"{DEVICES}{device['id'] if isinstance(device, dict) else device}/"


def audit_of(api, device_id: int, **kw) -> list[dict]:
    response = api.get(f"{AUDIT}?device_id={device_id}&limit=200", **kw)
    assert response.status_code == 200, response.body
    return response.json_body["results"]


def token_id(api, name: str) -> int:
    """The id of the token called `name` (Api.token answers only the secret)."""
    tokens = api.get("/admin/tokens/?limit=200").json_body["results"]
    return next(t["id"] for t in tokens if t["name"] == name)
