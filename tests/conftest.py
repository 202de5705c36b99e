"""Every test runs against moto (mock_aws) and the real app through chalice.test.Client."""
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Before anything imports boto3 or powertools (STYLE facts 5 and 6). The dev stage's own names
# (.chalice/config.json), so that what tests provision is what the app's handlers look for.
_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update({**_config["environment_variables"], **_config["stages"]["dev"]["environment_variables"]})
os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_SESSION_TOKEN="testing", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="INFO")

import pytest  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from app import app  # noqa: E402
from chalicelib import aws, process_state  # noqa: E402
from chalicelib.config import get_settings  # noqa: E402
from local.moto_server import dynamodb_requests_one_at_a_time, transactions_copying_tables_once  # noqa: E402
from local.provision import provision  # noqa: E402
from tests.factories import Api  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def moto_one_request_at_a_time():
    """moto as released, answering one DynamoDB request at a time (local/moto_server.py): moto's DynamoDB is
    not thread-safe, and requests come from several threads (concurrent writers, a list's parallel reads of
    its shards, the health checks' driver calls). Its transactions copy the table once each rather than once
    per action (about fifteen for a device write, 0.5 s each at a few hundred items); a cancelled transaction
    still rolls back as moto does it, to its own copy."""
    with dynamodb_requests_one_at_a_time(), transactions_copying_tables_once():
        yield


def forget_process_state() -> None:
    """What a warm Lambda remembers between requests: cleared for a fresh moto world."""
    process_state.forget()


@pytest.fixture
def moto():
    with mock_aws():
        # moto is imported before any boto3 client exists, and its stubber answers whichever mock is
        # active: clients can outlive a test.
        forget_process_state()
        yield


@pytest.fixture
def client(moto):
    with Client(app, stage_name="dev", project_dir=str(ROOT)) as chalice_client:
        get_settings.cache_clear()
        provision()
        yield chalice_client


@pytest.fixture
def api(client) -> Api:
    """The HTTP API with a platform admin token and helpers to make organizations, types and tokens."""
    return Api(client)


@pytest.fixture
def refused():
    """Asserts an error answer (status, code, the envelope as JSON) and returns its `error` object."""
    def check(response, status: int, code: str) -> dict:
        assert response.status_code == status, response.body
        assert response.headers["Content-Type"] == "application/json"
        error = response.json_body["error"]
        assert set(response.json_body) == {"error"}
        assert set(error) <= {"code", "message", "details"}
        assert error["code"] == code
        assert isinstance(error["message"], str) and error["message"]
        return error
    return check


def kept_by_a_refused_request(pk: str) -> bool:
    """What a refused request may still have written: the per-minute rate counter every request bumps, and
    the id allocator's and writer slots' items (store/sequences.py), which a process advances when it needs
    a block of ids or its counter shard, whatever then happens to the write (ids are unique, not dense)."""
    return pk.startswith(("RATE#", "SEQ#"))


@pytest.fixture
def stored(client):
    """Every item in the table, but what a refused request may still write (kept_by_a_refused_request)."""
    def read() -> list[dict]:
        pages = aws.dynamodb().get_paginator("scan").paginate(TableName=get_settings().table_name)
        items = [item for page in pages for item in page["Items"] if not kept_by_a_refused_request(item["PK"])]
        return sorted(items, key=lambda item: (item["PK"], item["SK"]))
    return read
