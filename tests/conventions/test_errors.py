"""Every error in the contract's envelope (API.md §1 Errors), including Chalice's own and unexpected ones."""
from botocore.exceptions import ClientError

from chalicelib import aws


def _fault(operation: str):
    """A DynamoDB fault moto never produces: the service failing on its side."""
    def raise_fault(*args, **kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "Internal server error"}}, operation)
    return raise_fault


def _assert_no_internals(response):
    text = response.body.decode()
    for leak in ("Traceback", "ClientError", "InternalServerError", "botocore", ".py", "Internal server error"):
        assert leak not in text


def test_wrong_method_is_405_method_not_allowed_in_the_envelope(api, refused):
    response = api.delete("/admin/organizations/")
    refused(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_non_json_content_type_is_415_and_creates_nothing_but_json_with_a_charset_is_accepted(api, refused, stored):
    before = stored()
    response = api.post("/admin/organizations/", raw=b"name=acme", headers={"content-type": "text/plain"})
    refused(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert stored() == before
    response = api.post("/admin/organizations/", {"name": "acme"},
                        headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 201


def test_dynamodb_fault_in_a_route_is_500_internal_error_without_traceback(api, refused, monkeypatch):
    monkeypatch.setattr(aws.dynamodb(), "query", _fault("Query"))
    response = api.get("/admin/organizations/")
    error = refused(response, 500, "INTERNAL_ERROR")
    assert "details" not in error
    _assert_no_internals(response)


def test_dynamodb_fault_before_the_route_is_500_internal_error_in_the_envelope(api, refused, monkeypatch):
    for operation in ("get_item", "update_item"):  # authentication, then the rate limit counter
        # GIVEN a token that is not cached yet, so that authentication reads the table
        token = api.token(None, permissions=("admin",))
        # WHEN that read or the counter update fails
        monkeypatch.setattr(aws.dynamodb(), operation, _fault(operation))
        response = api.get("/admin/organizations/", token=token)
        monkeypatch.undo()
        # THEN the answer is still the envelope
        refused(response, 500, "INTERNAL_ERROR")
        _assert_no_internals(response)


def test_write_that_fails_midway_is_500_and_creates_nothing(api, refused, stored, monkeypatch):
    before = stored()
    monkeypatch.setattr(aws.dynamodb(), "transact_write_items", _fault("TransactWriteItems"))
    response = api.post("/admin/organizations/", {"name": "acme"})
    refused(response, 500, "INTERNAL_ERROR")
    monkeypatch.undo()
    assert stored() == before


def test_body_that_is_not_json_is_400_invalid_json_and_creates_nothing(api, refused, stored):
    before = stored()
    for raw in (b"{not json", b'{"name": "acme"', b"\xff\xfe", b"", b"   "):
        refused(api.post("/admin/organizations/", raw=raw), 400, "INVALID_JSON")
    assert stored() == before


def test_json_that_is_not_an_object_is_422_validation_failed(api, refused):
    response = api.post("/admin/organizations/", ["acme"])
    error = refused(response, 422, "VALIDATION_FAILED")
    assert len(error["details"]) == 1


def test_validation_is_422_listing_every_bad_field_and_creates_nothing(api, refused, stored):
    before = stored()
    response = api.post("/admin/device_types/", {"short_name": "bad name!", "category": "not a word",
                                                 "manufacturer": 12, "colour": "red"})
    error = refused(response, 422, "VALIDATION_FAILED")
    problems = {d["field"]: d["problem"] for d in error["details"]}
    assert set(problems) == {"short_name", "name", "category", "manufacturer", "colour"}
    assert problems["colour"] == "unknown field"
    assert all(isinstance(problem, str) and problem for problem in problems.values())
    assert all(set(d) == {"field", "problem"} for d in error["details"])
    assert stored() == before


def test_nested_bad_field_is_named_with_its_position(api, refused):
    response = api.post("/admin/tokens/", {"name": "t", "permissions": ["devices:read", "devices:fly"]})
    error = refused(response, 422, "VALIDATION_FAILED")
    assert [d["field"] for d in error["details"]] == ["permissions.1"]


def test_unknown_query_parameter_is_400_invalid_query_naming_it(api, refused):
    response = api.get("/admin/organizations/?colour=red")
    error = refused(response, 400, "INVALID_QUERY")
    assert error["details"] == [{"field": "colour", "problem": "unknown query parameter"}]


def test_path_id_that_is_not_ascii_digits_within_the_stores_range_is_400_invalid_path(api, refused):
    for token_id in ("abc", "0", "-1", "1.5", "99999999999", "%C2%B2", "%D9%A1%D9%A2", "%EF%BC%91%EF%BC%92", "1%00",
                     "9" * 40):
        error = refused(api.delete(f"/admin/tokens/{token_id}/"), 400, "INVALID_PATH")
        assert error["details"][0]["field"] == "token_id"


def test_path_id_that_names_no_resource_is_404(api, refused):
    refused(api.delete("/admin/tokens/9999999999/"), 404, "TOKEN_NOT_FOUND")
