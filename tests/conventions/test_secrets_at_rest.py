"""No secret rests in the table, nor an unsalted digest of one (API.md §1): after every call that carries a secret
(a token's create, a device password in a create, PUT or PATCH), the whole table is read back and searched for
the secret, for its MD5/SHA-1/SHA-256/SHA-512 (hex and base64), and for those digests of the request bodies that
carried it (what powertools' idempotency records would keep of a payload)."""
import base64
import hashlib
import json

from chalicelib import aws
from chalicelib.config import get_settings
from tests.factories import device_body

DIGESTS = (hashlib.md5, hashlib.sha1, hashlib.sha256, hashlib.sha512)


def _forms(data: bytes) -> set[str]:
    forms = set()
    for digest in DIGESTS:
        raw = digest(data).digest()
        forms |= {raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return forms


def _bodies(body: dict) -> list[bytes]:
    """The serialisations of a body a digest could have been taken of."""
    return [json.dumps(body).encode(), json.dumps(body, sort_keys=True).encode(),
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
            json.dumps(body, separators=(",", ":")).encode()]


def assert_table_keeps_no(secret: str, *bodies: dict) -> None:
    """Every item of the table, scanned whole (rate counters included), against the secret and its digests."""
    pages = aws.dynamodb().get_paginator("scan").paginate(TableName=get_settings().table_name)
    text = json.dumps([item for page in pages for item in page["Items"]], default=repr)
    assert secret not in text
    needles = _forms(secret.encode())
    for body in bodies:
        for form in _bodies(body):
            needles |= _forms(form) | {form.decode()}
    found = [needle for needle in needles if needle in text]
    assert not found, f"a digest of the secret rests in the table: {found[:3]}"


def test_a_created_token_leaves_neither_its_secret_nor_a_plain_digest_of_it(api):
    body = {"name": "ci", "organization_id": None, "permissions": ["admin"]}
    created = api.post("/admin/tokens/", body, headers={"Idempotency-Key": "token-1"})
    assert created.status_code == 201
    secret = created.json_body["token"]
    assert secret and api.get("/admin/tokens/", token=secret).status_code == 200
    assert_table_keeps_no(secret, body)
    assert_table_keeps_no(api.platform)     # the fixture's own token, made through the same use case


def test_a_replayed_token_create_answers_the_token_without_its_secret_and_says_so(api):
    body = {"name": "ci", "organization_id": None, "permissions": ["admin"]}
    first = api.post("/admin/tokens/", body, headers={"Idempotency-Key": "token-1"})
    again = api.post("/admin/tokens/", body, headers={"Idempotency-Key": "token-1"})
    assert first.status_code == again.status_code == 201
    assert first.json_body["token"].startswith("flt_") and "secret_withheld" not in first.json_body
    assert again.json_body["token"] is None
    assert "stored nowhere" in again.json_body["secret_withheld"]
    assert {k: v for k, v in again.json_body.items() if k not in ("token", "secret_withheld")} == \
        {k: v for k, v in first.json_body.items() if k != "token"}
    assert len(api.get("/admin/tokens/").json_body["results"]) == 2      # created once (and the fixture's)
    assert_table_keeps_no(first.json_body["token"], body)


def test_device_passwords_rest_nowhere_after_create_replace_and_patch(api):
    org, dtype = api.organization(), api.device_type()
    created_body = device_body(org, dtype, password="first-Secret-42", username="admin")
    created = api.post("/inventory_device/", created_body, headers={"Idempotency-Key": "device-1"})
    assert created.status_code == 201
    assert_table_keeps_no("first-Secret-42", created_body)

    path = f"/inventory_device/{created.json_body['id']}/"
    replaced_body = device_body(org, dtype, password="second-Secret-42", serial_number=created_body["serial_number"])
    assert api.put(path, replaced_body).status_code == 200
    assert_table_keeps_no("second-Secret-42", replaced_body)

    patch_body = {"password": "third-Secret-42"}
    assert api.patch(path, patch_body, headers={"Idempotency-Key": "patch-1"}).status_code == 200
    assert_table_keeps_no("third-Secret-42", patch_body)
    for earlier in ("first-Secret-42", "second-Secret-42"):
        assert_table_keeps_no(earlier)


def test_the_same_idempotency_key_with_another_password_is_still_a_422(api, refused):
    org, dtype = api.organization(), api.device_type()
    body = device_body(org, dtype, password="one-Secret-42")
    assert api.post("/inventory_device/", body, headers={"Idempotency-Key": "device-1"}).status_code == 201
    other = body | {"password": "two-Secret-42"}
    refused(api.post("/inventory_device/", other, headers={"Idempotency-Key": "device-1"}), 422,
            "IDEMPOTENCY_KEY_REUSED")
