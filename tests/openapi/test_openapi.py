"""GET /openapi.json: generated from app.routes and the models, valid OpenAPI 3.1, served without a token."""
import schemathesis
from openapi_spec_validator import OpenAPIV31SpecValidator

from app import app
from chalicelib.api import contract, openapi, report_schemas, routes, schemas
from chalicelib.audit import db as audit_db
from chalicelib.devices import db as devices_db
from chalicelib.diagnostics import db as diagnostics_db
from chalicelib.operations import models as operations_models


def spec() -> dict:
    return openapi.document(app.routes, "http://localhost")


def test_every_route_of_app_py_is_declared_with_its_contract_entry():
    assert routes.undeclared(app) == []
    for path, methods in app.routes.items():
        for method in methods:
            declared = routes.find(method, path)
            for reference in (declared.op.query, declared.op.body, *declared.op.answers.values()):
                if reference is not None:
                    assert contract.model(reference), reference


def test_every_route_is_in_the_document_with_its_method_and_view_name():
    paths = spec()["paths"]
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            assert paths[path][method.lower()]["operationId"] == entry.view_name
    assert sum(len(methods) for methods in paths.values()) == sum(len(methods) for methods in app.routes.values())


def test_document_is_valid_openapi_3_1():
    document = spec()
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()
    schemathesis.openapi.from_dict(document).validate()


def test_served_without_a_token_as_json(api):
    response = api.get("/openapi.json", token=None)
    assert response.status_code == 200
    assert response.json_body["paths"] == spec()["paths"]
    assert response.json_body["servers"] == [{"url": "http://localhost"}]


def test_trailing_slash_is_the_same_document(api):
    assert api.get("/openapi.json/", token=None).json_body == api.get("/openapi.json", token=None).json_body


def test_server_url_keeps_the_stage_prefix_and_forwarded_scheme():
    class Request:
        headers = {"host": "abc.execute-api.eu-west-1.amazonaws.com", "x-forwarded-proto": "https"}
        context = {"path": "/api/openapi.json"}
        path = "/openapi.json"
    assert openapi.server_url(Request()) == "https://abc.execute-api.eu-west-1.amazonaws.com/api"


def test_authenticated_operations_need_the_bearer_token_and_the_document_does_not():
    document = spec()
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "An API token: `Authorization: Bearer <token>`."}
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    device = document["paths"]["/inventory_device/{device_id}"]["get"]
    assert {"401", "403", "404", "429"} <= device["responses"].keys()
    assert device["responses"]["401"] == {"$ref": "#/components/responses/Error401"}
    assert "X-RateLimit-Remaining" in device["responses"]["200"]["headers"]


def test_schemas_come_from_the_models():
    document = spec()
    components = document["components"]["schemas"]
    create = document["paths"]["/inventory_device"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DeviceCreate"}
    assert set(components["DeviceCreate"]["required"]) == {"name", "type", "serial_number", "organization_id"}
    assert components["DeviceCreate"]["additionalProperties"] is False      # extra="forbid"
    # Field(ge=1) behind a BeforeValidator comes out as "ge"; the document says "minimum".
    assert components["DeviceCreate"]["properties"]["type"]["minimum"] == 1
    answer = create["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Device"}
    assert components["DevicePage"]["properties"]["results"]["items"] == {"$ref": "#/components/schemas/Device"}
    password = components["DeviceCreate"]["properties"]["password"]["anyOf"][0]
    assert password["writeOnly"] is True and "password" not in components["Device"]["properties"]


def test_list_query_models_become_query_parameters_without_null():
    parameters = {p["name"]: p for p in spec()["paths"]["/inventory_device"]["get"]["parameters"]}
    assert {"limit", "offset", "cursor", "type", "status", "organization", "pending"} <= parameters.keys()
    assert parameters["limit"]["schema"] == {"minimum": 1, "maximum": 100_000, "type": "integer"}
    assert parameters["type"]["schema"] == {"minimum": 1, "maximum": 9_999_999_999, "type": "integer"}
    assert parameters["status"]["schema"] == {"type": "boolean"}
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())


def test_idempotency_and_conditional_headers_where_the_route_takes_them():
    paths = spec()["paths"]
    patch = {p["name"] for p in paths["/inventory_device/{device_id}"]["patch"]["parameters"]}
    assert {"device_id", "Idempotency-Key", "If-Match"} <= patch
    assert "412" in paths["/inventory_device/{device_id}"]["put"]["responses"]
    assert "Idempotency-Key" not in {p["name"] for p in paths["/inventory_device/{device_id}"]["put"]["parameters"]}


def test_error_answers_share_the_envelope():
    document = spec()
    for name, answer in document["components"]["responses"].items():
        assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, name
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message"}


def test_views_describe_every_public_field():
    for model, fields in ((schemas.Device, devices_db.PUBLIC_FIELDS),
                          (schemas.Operation, operations_models.PUBLIC_FIELDS),
                          (schemas.AuditEntry, audit_db.PUBLIC_FIELDS),
                          (report_schemas.DiagnosticEntry, diagnostics_db.PUBLIC_FIELDS)):
        described = set(model.model_fields)
        assert set(fields) <= described, f"{model.__name__} misses {set(fields) - described}"


def test_path_ids_are_described_as_the_wrapper_checks_them():
    paths = spec()["paths"]
    (device_id,) = paths["/inventory_device/{device_id}"]["get"]["parameters"][:1]
    assert device_id["schema"] == {"minimum": 1, "maximum": 9_999_999_999, "type": "integer"}
    assert "400" in paths["/inventory_device/{device_id}"]["get"]["responses"]      # INVALID_PATH
    physical = paths["/analytics/data-usage/{physical_id}"]["get"]["parameters"][0]
    assert physical["schema"] == {"type": "string", "minLength": 1, "maxLength": 64}


def test_every_property_has_a_type_a_generated_client_can_use():
    """A custom validator (PlainValidator) hides the type unless told: such a field is `{}` to a client. Only fields
    the server sets and ignores on input (readOnly) take any value."""
    typed = {"type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const", "readOnly"}
    untyped = [f"{name}.{field}" for name, component in spec()["components"]["schemas"].items()
               for field, schema in (component.get("properties") or {}).items() if not typed & schema.keys()]
    assert untyped == []
