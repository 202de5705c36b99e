"""The device password is write-only: never returned, never logged, stored encrypted (API.md §2)."""
import io
import json
import logging

import pytest

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.devices.credentials import decrypt_password
from chalicelib.observability import logger
from chalicelib.store import schema
from tests.devices.support import DEVICES, audit_of, device_path, stored_items
from tests.factories import device_body

PASSWORD = "Tr0ub4dor&3-horse-battery"


@pytest.fixture
def ids(api) -> tuple[int, int]:
    return api.organization(), api.device_type()


def _raw_device(device_id: int) -> dict:
    return aws.dynamodb().get_item(TableName=get_settings().table_name, Key=schema.device_key(device_id))["Item"]


def _stored_password(device_id: int) -> str | None:
    ciphertext = _raw_device(device_id).get("password_ciphertext")
    return None if ciphertext is None else decrypt_password(bytes(ciphertext))


def _leaks(text: str | bytes, secret: str = PASSWORD) -> bool:
    return (secret.encode() if isinstance(text, bytes) else secret) in text


def test_password_is_in_no_response(api, ids):
    created = api.post(DEVICES, device_body(*ids, password=PASSWORD))
    path = device_path(created.json_body)
    put_body = {k: created.json_body[k] for k in ("name", "type", "organization_id", "serial_number")}
    responses = [created, api.get(path), api.get(f"{path}?pending=true"), api.get(DEVICES),
                 api.put(path, put_body | {"password": PASSWORD}), api.patch(path, {"password": PASSWORD + "-2"}),
                 api.patch(path, {"name": "renamed"}), api.get(f"/audit_log/?device_id={created.json_body['id']}")]
    for response in responses:
        assert response.status_code in (200, 201), response.body
        assert not _leaks(response.body)
        assert not _leaks(response.body, PASSWORD + "-2")
    for device in [created.json_body, responses[1].json_body, *responses[3].json_body["results"]]:
        assert "password" not in device and "password_ciphertext" not in device


def test_password_is_in_no_log_line(api, ids, caplog, monkeypatch):
    # GIVEN the application's logs captured at the configured level (INFO): the JSON lines the powertools
    # handler prints (its stream was bound at import, before any capture fixture) and the records behind them
    printed = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", printed)
    caplog.set_level(logging.INFO)
    device = api.device(*ids, password=PASSWORD)
    path = device_path(device)
    # WHEN the password passes through every write, including refused ones (which are logged)
    api.patch(path, {"password": PASSWORD, "latitude": "91"})
    api.post(DEVICES, device_body(*ids, serial_number=device["serial_number"], password=PASSWORD))
    api.post(DEVICES, raw=b'{"password": "' + PASSWORD.encode() + b'", oops}')
    api.put(path, {"name": "x", "type": ids[1], "organization_id": ids[0], "serial_number": "PW-1",
                   "password": PASSWORD})
    api.get(path)
    # THEN some log lines were written, and none holds the password
    lines = printed.getvalue().splitlines()
    records = [repr(record.__dict__) for record in caplog.records]
    assert len([line for line in lines if json.loads(line)["message"] == "request refused"]) == 3
    assert not any(_leaks(line) for line in lines)
    assert not any(_leaks(record) for record in records)


def test_password_is_stored_only_encrypted(api, ids):
    device = api.device(*ids, password=PASSWORD)
    raw = _raw_device(device["id"])
    assert "password" not in raw
    assert not _leaks(bytes(raw["password_ciphertext"]))
    assert _stored_password(device["id"]) == PASSWORD
    for item in stored_items():  # nowhere else either: guards, counters, audit
        assert not _leaks(repr(item))
        assert not any(_leaks(bytes(v)) for v in item.values() if hasattr(v, "value") and isinstance(v.value, bytes))


def test_put_without_a_password_keeps_the_stored_one(api, ids):
    device = api.device(*ids, password=PASSWORD)
    body = {k: device[k] for k in ("name", "type", "organization_id", "serial_number")} | {"description": "new"}
    assert api.put(device_path(device), body).status_code == 200
    assert _stored_password(device["id"]) == PASSWORD


def test_patch_with_a_password_replaces_it_and_null_removes_it(api, ids):
    device = api.device(*ids, password=PASSWORD)
    assert api.patch(device_path(device), {"password": "n3w-Secret"}).status_code == 200
    assert _stored_password(device["id"]) == "n3w-Secret"
    assert api.patch(device_path(device), {"password": None}).status_code == 200
    assert _stored_password(device["id"]) is None


def test_patch_without_a_password_keeps_it(api, ids):
    device = api.device(*ids, password=PASSWORD)
    assert api.patch(device_path(device), {"name": "renamed"}).status_code == 200
    assert _stored_password(device["id"]) == PASSWORD


def test_audit_shows_password_changes_masked(api, ids):
    device = api.device(*ids, password=PASSWORD)
    api.patch(device_path(device), {"password": "n3w-Secret"})
    api.patch(device_path(device), {"password": None})
    cleared, changed, created = audit_of(api, device["id"])
    assert created["changes"]["password"] == {"old": None, "new": "***"}
    assert changed["changes"]["password"] == {"old": "***", "new": "***"}
    assert cleared["changes"]["password"] == {"old": "***", "new": None}
