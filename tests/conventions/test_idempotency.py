"""Idempotency-Key on POST and PATCH (API.md §1 Idempotency): a retry returns the first response."""
import warnings

ORGS = "/admin/organizations/"


def _post_org(api, name: str, key: str | None, path: str = ORGS, **kw):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.post(path, {"name": name}, headers=headers, **kw)


def _org_names(api) -> list[str]:
    return [o["name"] for o in api.get(ORGS).json_body["results"]]


def test_retry_with_the_same_key_and_body_returns_the_first_response_and_creates_once(api):
    first = _post_org(api, "acme", "key-1")
    again = _post_org(api, "acme", "key-1")
    assert first.status_code == again.status_code == 201
    assert again.json_body == first.json_body
    assert _org_names(api) == ["acme"]


def test_retry_without_the_trailing_slash_is_the_same_request(api):
    first = _post_org(api, "acme", "key-1", path="/admin/organizations")
    again = _post_org(api, "acme", "key-1", path="/admin/organizations/")
    assert again.status_code == 201
    assert again.json_body == first.json_body
    assert _org_names(api) == ["acme"]


def test_same_key_with_another_body_is_422_and_creates_nothing(api, refused, stored):
    _post_org(api, "acme", "key-1")
    before = stored()
    refused(_post_org(api, "globex", "key-1"), 422, "IDEMPOTENCY_KEY_REUSED")
    assert stored() == before
    assert _org_names(api) == ["acme"]


def test_same_body_in_another_key_order_replays_and_another_key_creates_another(api):
    body = {"short_name": "rt", "name": "Router", "category": "router"}
    first = api.post("/admin/device_types/", body, headers={"Idempotency-Key": "key-1"})
    again = api.post("/admin/device_types/", dict(reversed(body.items())), headers={"Idempotency-Key": "key-1"})
    assert again.status_code == 201
    assert again.json_body == first.json_body
    other = api.post("/admin/device_types/", body | {"short_name": "rt2"}, headers={"Idempotency-Key": "key-2"})
    assert other.status_code == 201
    assert other.json_body["id"] != first.json_body["id"]


def test_keys_are_scoped_per_token(api):
    other_admin = api.token(None, permissions=("admin",))
    mine = _post_org(api, "acme", "shared-key")
    theirs = _post_org(api, "globex", "shared-key", token=other_admin)
    assert theirs.status_code == 201
    assert theirs.json_body["id"] != mine.json_body["id"]
    assert sorted(_org_names(api)) == ["acme", "globex"]


def test_request_that_failed_can_be_retried_with_the_same_key(api, refused):
    # GIVEN a firmware image refused because device type 1 does not exist yet
    body = {"version": "1.0", "url": "https://dl.example.com/fw-1.0.bin", "checksum": "a" * 64, "device_types": [1]}
    headers = {"Idempotency-Key": "fw-key"}
    refused(api.post("/admin/firmware_images/", body, headers=headers), 422, "VALIDATION_FAILED")
    # WHEN the device type is created and the same request is retried with the same key
    assert api.device_type() == 1
    retried = api.post("/admin/firmware_images/", body, headers=headers)
    # THEN it runs again, and a later retry replays that success
    assert retried.status_code == 201
    assert api.post("/admin/firmware_images/", body, headers=headers).json_body == retried.json_body
    assert api.get("/admin/firmware_images/").json_body["count"] == 1


def test_conflict_with_a_key_is_not_remembered(api, refused):
    api.organization("acme")
    refused(_post_org(api, "ACME", "key-1"), 409, "DUPLICATE_NAME")
    # Not IDEMPOTENCY_IN_PROGRESS: the failed attempt left no record behind.
    refused(_post_org(api, "ACME", "key-1"), 409, "DUPLICATE_NAME")
    assert _org_names(api) == ["acme"]


def test_key_over_255_characters_is_400_and_creates_nothing(api, refused, stored):
    before = stored()
    for key in ("x" * 256, " " * 3):
        refused(_post_org(api, "acme", key), 400, "INVALID_IDEMPOTENCY_KEY")
    assert stored() == before
    assert _post_org(api, "acme", "k" * 255).status_code == 201


def test_patch_replayed_with_its_key_returns_the_first_response_and_does_nothing_again(api):
    # GIVEN a device renamed with a key, then renamed again without one
    device = api.device(api.organization(), api.device_type())
    path = f"/inventory_device/{device['id']}/"
    first = api.patch(path, {"name": "first"}, headers={"Idempotency-Key": "rename"})
    assert first.status_code == 200
    assert api.patch(path, {"name": "second"}).status_code == 200
    # WHEN the first PATCH is retried with its key
    replay = api.patch(path, {"name": "first"}, headers={"Idempotency-Key": "rename"})
    # THEN the first answer comes back, ETag included, and the device keeps the later name
    assert replay.status_code == 200
    assert replay.json_body == first.json_body
    assert replay.headers["ETag"] == first.headers["ETag"]
    assert api.get(path).json_body["name"] == "second"


def test_same_key_on_another_device_is_another_request(api):
    org, dtype = api.organization(), api.device_type()
    one, two = api.device(org, dtype), api.device(org, dtype)
    for device in (one, two):
        response = api.patch(f"/inventory_device/{device['id']}/", {"description": "x"},
                             headers={"Idempotency-Key": "same"})
        assert response.status_code == 200
        assert response.json_body["id"] == device["id"]


def test_idempotent_request_registers_the_lambda_time_left(api):
    # Without the Lambda context, a request killed by a time-out would block its key for 24 h.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _post_org(api, "acme", "key-1").status_code == 201
    assert not [w for w in caught if "remaining time" in str(w.message)]
