"""Shared by the device and audit tests: a faithful, faster moto transaction, and read-back helpers.

moto's TransactWriteItems (5.2.5) deep-copies the whole table once per item of the transaction to
roll back on failure, and restores that copy even if another thread wrote meanwhile. A device write
has a dozen items, so the suite spent most of its time copying tables, and concurrent writers could
erase each other. `faithful_transactions` backs a table up once per transaction, copying only the items
the transaction writes, and runs transactions one at a time, as DynamoDB's serializable transactions
appear to callers.
"""
import copy
import threading
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import moto.dynamodb.models as moto_dynamodb
import pytest
from chalice.test import Client
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models.dynamo_type import DynamoType

from app import app
from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.operations import drivers, queue
from chalicelib.store import dynamo
from chalicelib.tokens import service as token_service
from local.provision import provision
from tests.factories import Api

ROOT = Path(__file__).resolve().parents[2]
DEVICES = "/inventory_device/"
AUDIT = "/audit_log/"

_transaction = threading.local()
_serial = threading.RLock()


def _backup(table, transact_items: list[dict]):
    """What moto's deep copy of `table` restores on a cancelled transaction, at a fraction of its cost.

    The copy shares every item the transaction does not write. Puts and deletes replace or remove an item
    in the mapping, which the copy's own mapping undoes; updates change an item in place, so the items the
    transaction names are copied whole.
    """
    if not table.has_range_key:
        return copy.deepcopy(table)
    backup = copy.copy(table)
    backup.items = defaultdict(dict, {h: dict(ranges) for h, ranges in table.items.items()})
    for action in transact_items:
        (op,) = action.values()
        key = op.get("Key") or op.get("Item") or {}
        if op.get("TableName") != table.name or table.hash_key_attr not in key:
            continue
        hash_value, range_value = DynamoType(key[table.hash_key_attr]), DynamoType(key[table.range_key_attr])
        item = table.items.get(hash_value, {}).get(range_value)
        if item is not None:
            backup.items[hash_value][range_value] = copy.deepcopy(item)
    return backup


class _BackUpOncePerTransaction:
    """Stands in for the `copy` module inside moto's DynamoDB backend."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        backups = getattr(_transaction, "backups", None)
        if backups is None or not isinstance(value, moto_dynamodb.Table):
            return copy.deepcopy(value, memo)
        if id(value) not in backups:
            backups[id(value)] = _backup(value, _transaction.items)
        return backups[id(value)]


def _transact_write_items(original):
    def run(self, transact_items):
        with _serial:
            _transaction.backups, _transaction.items = {}, transact_items
            try:
                return original(self, transact_items)
            finally:
                _transaction.backups = _transaction.items = None
    return run


@pytest.fixture(scope="module", autouse=True)
def faithful_transactions():
    """Module-scoped, so that module-scoped worlds are built with it too; undone after each module."""
    backend = moto_dynamodb.DynamoDBBackend
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moto_dynamodb, "copy", _BackUpOncePerTransaction())
        patch.setattr(backend, "transact_write_items", _transact_write_items(backend.transact_write_items))
        yield


def _fresh_moto():
    get_settings.cache_clear()
    dynamo.forget_sequences()
    token_service.forget_cached_tokens()
    queue.forget_queue_urls()
    drivers.reset_driver()


@pytest.fixture
def moto():
    """tests/conftest.py's, but boto3 clients outlive a test: moto's stubber answers whichever mock is
    active, and making clients was a third of a test's set-up."""
    with mock_aws():
        _fresh_moto()
        yield


@pytest.fixture(scope="module")
def shared_api():
    """One moto world for a whole module, for tests that only read or are refused (each checks that it
    left the world as it found it). Set up as tests/conftest.py sets up `api`; never mix the two in a module.
    """
    with mock_aws():
        _fresh_moto()
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            yield Api(client)


@pytest.fixture
def refused():
    """Asserts an error answer (status, code, the envelope) and returns its `error` object."""
    def check(response, status: int, code: str) -> dict:
        assert response.status_code == status, response.body
        assert response.headers["Content-Type"] == "application/json"
        assert set(response.json_body) == {"error"}
        error = response.json_body["error"]
        assert error["code"] == code, error
        assert isinstance(error["message"], str) and error["message"]
        return error
    return check


def fields_named(error: dict) -> set[str]:
    return {detail["field"] for detail in error.get("details") or []}


def stored_items() -> list[dict]:
    """Every item of the table but the per-minute rate counters each request bumps."""
    pages = aws.dynamodb().get_paginator("scan").paginate(TableName=get_settings().table_name)
    return sorted((item for page in pages for item in page["Items"] if not item["PK"].startswith("RATE#")),
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
    """Items in the table but the per-minute rate counters each request bumps.

    Counted in moto's own store: a Scan, even with Select=COUNT, deep-copies every item in moto, and a
    failed-write check runs twice per test.
    """
    backend = moto_dynamodb.dynamodb_backends[DEFAULT_ACCOUNT_ID][aws.session().region_name]
    partitions = backend.get_table(get_settings().table_name).items
    return sum(len(items) for key, items in partitions.items() if not key.value.startswith("RATE#"))


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
