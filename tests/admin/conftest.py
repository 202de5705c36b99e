"""Checks shared by the admin tests: the error envelope, and the table as stored."""
import pytest

from chalicelib import aws
from chalicelib.config import get_settings


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


@pytest.fixture
def stored(client):
    """Every item in the table, but the per-minute rate counters that each request bumps."""
    def read() -> list[dict]:
        pages = aws.dynamodb().get_paginator("scan").paginate(TableName=get_settings().table_name)
        items = [item for page in pages for item in page["Items"] if not item["PK"].startswith("RATE#")]
        return sorted(items, key=lambda item: (item["PK"], item["SK"]))
    return read
