"""The OpenAPI 3.1 description served at GET /openapi.json, generated from app.routes and the pydantic models.

Paths, methods, path parameters and operation ids come from Chalice's route table; who may call each operation
and what it takes and answers come from the route's declaration (chalicelib/api/routes.py: its access and its
contract entry, the models its wrapper parses with), and every schema from those models (`models_json_schema`:
validation mode for what a client sends, serialization mode for what it gets back). Nothing is written per
route here, so the document cannot drift from the code: app.py refuses to start with an undeclared route.

Importing this module imports every capability's models, so only the /openapi.json route does it, and the
document is built once per warm Lambda (STYLE fact 7).
"""
from copy import deepcopy
from functools import cache

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from chalicelib.api import contract, routes
from chalicelib.api.contract import Op, model
from chalicelib.api.routes import TEXT_PATH_PARAMETERS, Access
from chalicelib.api.schemas import ErrorBody
from chalicelib.ids import Id

REF = "#/components/schemas/{model}"
ERRORS = {
    400: "Bad query parameters or path ids, a body that is not JSON, or a bad header (INVALID_QUERY, INVALID_PATH, "
         "INVALID_JSON, INVALID_CURSOR, ...).",
    401: "Missing, unknown or revoked bearer token.",
    403: "The token lacks the permission, or names an organization outside its scope.",
    404: "No such resource, or another organization's.",
    409: "A conflict: a duplicate unique value, an operation in progress, a retry still in progress.",
    412: "If-Match names an older version of the device.",
    422: "The JSON body fails validation (every bad field is in `details`), or an Idempotency-Key reused with "
         "another body.",
    415: "A Content-Type other than application/json (Chalice refuses it on every route, with or without a body).",
    429: "The token's requests per minute are spent; see Retry-After.",
    503: "A dependency (DynamoDB, KMS) stayed overloaded or unreachable after the retries; nothing was written. "
         "Send the request again after Retry-After.",
}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests per minute allowed to this token.",
    "X-RateLimit-Remaining": "Requests left in the current minute.",
    "X-RateLimit-Reset": "When the current minute ends (Unix time, seconds).",
}
# pydantic writes a Field(ge=...) that follows a BeforeValidator in Annotated as the keyword itself ("ge": 1),
# which JSON Schema ignores: renamed to the keywords it means.
_CONSTRAINTS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_NUMERIC = ("integer", "number")


def document(routes: dict, base_url: str | None = None) -> dict:
    """The OpenAPI document of `routes` (app.routes), with `base_url` as its server."""
    spec = deepcopy(_document(_route_table(routes)))
    if base_url is not None:
        spec["servers"] = [{"url": base_url}]
    return spec


def server_url(request) -> str:
    """Where this API answers, as the client reached it: scheme, host and API Gateway's stage prefix."""
    headers = request.headers
    path = (request.context.get("path") or request.path).rstrip("/")
    prefix = path.removesuffix("/openapi.json")
    return f"{headers.get('x-forwarded-proto', 'http')}://{headers.get('host', 'localhost')}{prefix}"


def _route_table(routes: dict) -> tuple:
    """app.routes as a cache key: (path, method, view name, path parameters) of every route."""
    return tuple(sorted((path, method, entry.view_name, tuple(entry.view_args))
                        for path, methods in routes.items() for method, entry in methods.items()))


@cache
def _document(table: tuple) -> dict:
    described = [(path, method, name, args, declared) for path, method, name, args in table
                 if (declared := routes.find(method, path)) is not None]
    builder = _Builder([declared.op for *_, declared in described])
    paths: dict[str, dict] = {}
    for path, method, name, args, declared in described:
        paths.setdefault(path, {})[method.lower()] = builder.operation(name, args, declared.op, declared.access)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fleetline API", "version": contract.VERSION, "description": contract.DESCRIPTION},
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in sorted({declared.op.tag for *_, declared in described})],
        "paths": paths,
        "components": {
            "schemas": builder.schemas,
            "responses": builder.error_responses(),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API token: `Authorization: Bearer <token>`."}},
            "headers": {
                **{name: {"description": text, "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
                   for name, text in RATE_LIMIT_HEADERS.items()},
                "Retry-After": {"description": "Seconds until the token may call again.", "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}},
            },
        },
    }


class _Builder:
    """Operation objects over one set of component schemas."""

    def __init__(self, operations: list[Op]):
        pairs = {(ErrorBody, "serialization")}
        for op in operations:
            if op.body is not None:
                pairs.add((model(op.described_body or op.body), "validation"))
            pairs.update((model(answer), "serialization") for answer in op.answers.values() if answer is not None)
        # Sorted, so that the document is the same from one cold start to the next.
        ordered = sorted(pairs, key=lambda pair: (pair[0].__name__, pair[0].__module__, pair[1]))
        refs, definitions = models_json_schema(ordered, ref_template=REF)
        self.refs = {pair: ref["$ref"] for pair, ref in refs.items()}
        self.schemas = _tidy(definitions.get("$defs", {}))

    def operation(self, name: str, args: tuple[str, ...], op: Op, access: Access) -> dict:
        public = access.public
        spec = {"operationId": name, "summary": op.summary, "tags": [op.tag]}
        description = [op.description] if op.description else []
        if not public:
            description.append(access.text())
        if description:
            spec["description"] = "\n\n".join(description)
        if public:
            spec["security"] = []
        parameters = [_parameter(arg, "path", True, _path_schema(arg)) for arg in args]
        if op.query is not None:
            parameters += self._query_parameters(model(op.query))
        if op.idempotent:
            parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "description": "A retry with the same key and body within 24 h gets the first answer.",
                               "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
        if op.if_match:
            parameters.append({"name": "If-Match", "in": "header", "required": False,
                               "description": "The device's ETag: 412 when the device changed since.",
                               "schema": {"type": "string"}})
        if op.if_none_match:
            parameters.append({"name": "If-None-Match", "in": "header", "required": False,
                               "description": "An ETag of an earlier answer: 304 without a body while it holds.",
                               "schema": {"type": "string"}})
        if parameters:
            spec["parameters"] = parameters
        if op.body is not None:
            spec["requestBody"] = {"required": True,
                                   "content": {"application/json": {"schema": self._ref(
                                       model(op.described_body or op.body))}}}
        spec["responses"] = self._answers(op, public) | self._errors(op, args, public)
        return spec

    def _ref(self, described: type[BaseModel], mode: str = "validation") -> dict:
        return {"$ref": self.refs[(described, mode)]}

    def _query_parameters(self, query: type[BaseModel]) -> list[dict]:
        """One query parameter per field of the query model; null is no value in a query string (leave it out)."""
        schema = query.model_json_schema(mode="validation", ref_template=REF)
        self.schemas.update(_tidy(schema.get("$defs", {})))
        required = set(schema.get("required", ()))
        return [_parameter(name, "query", name in required, _tidy(_without_null(field)))
                for name, field in schema.get("properties", {}).items()]

    def _answers(self, op: Op, public: bool) -> dict:
        answers = {}
        for status, answered in op.answers.items():
            headers = {} if public else {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS}
            if op.etag:
                headers["ETag"] = {"description": "The version of what is answered (for If-Match, If-None-Match).",
                                   "required": True, "schema": {"type": "string"}}
            if op.if_none_match:
                headers["Cache-Control"] = {"description": "How long the answer may be reused.", "required": True,
                                            "schema": {"type": "string"}}
            answer = {"description": op.answer}
            if headers:
                answer["headers"] = headers
            if answered is not None:
                answer["content"] = {"application/json": {"schema": self._ref(model(answered), "serialization")}}
            answers[str(status)] = answer
        return answers

    def _errors(self, op: Op, args: tuple[str, ...], public: bool) -> dict:
        return {str(status): {"$ref": f"#/components/responses/{_error_name(status)}"}
                for status in sorted(error_statuses(op, args, public))}

    def error_responses(self) -> dict:
        """components/responses: one per error status, all with the envelope."""
        responses = {}
        for status, text in ERRORS.items():
            answer = {"description": text,
                      "content": {"application/json": {"schema": self._ref(ErrorBody, "serialization")}}}
            if status in (429, 503):
                answer["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
            elif status == 401:
                answer["headers"] = {"WWW-Authenticate": {"description": 'Always `Bearer realm="fleetline"`.',
                                                          "required": True, "schema": {"type": "string"}}}
            responses[_error_name(status)] = answer
        return responses


def _error_name(status: int) -> str:
    return f"Error{status}"


def _parameter(name: str, where: str, required: bool, schema: dict) -> dict:
    """A parameter object, the field's description on the parameter rather than in its schema."""
    schema = dict(schema)
    text = schema.pop("description", None)
    parameter = {"name": name, "in": where, "required": required, "schema": schema}
    return parameter | {"description": text} if text else parameter


def error_statuses(op: Op, args: tuple[str, ...], public: bool) -> set[int]:
    """The error answers an operation can give, from what it takes; plus the ones its entry names."""
    if public:
        return {415, *op.errors}
    statuses = {401, 403, 415, 429, 503, *op.errors}
    if op.query is not None or op.body is not None or op.idempotent:
        statuses.add(400)
    if args:
        statuses |= {400, 404}      # a malformed path id (INVALID_PATH); no such resource
    if op.body is not None:
        statuses.add(422)
    if op.idempotent:
        statuses |= {409, 422}      # a retry still in progress; the key reused with another body
    return statuses


def _path_schema(name: str) -> dict:
    """A path parameter's schema, as api/routes.path_value checks it."""
    if name in TEXT_PATH_PARAMETERS:
        return {"type": "string", "minLength": 1, "maxLength": TEXT_PATH_PARAMETERS[name],
                "description": "A device identifier: ICCID, EUI or IMEI (the seed's physicalId)."}
    return _tidy(TypeAdapter(Id).json_schema()) | {"description": "A numeric id: 1 to 9,999,999,999 in ASCII digits."}


def _tidy(schema):
    """`schema` as pydantic meant it, at every depth: see _CONSTRAINTS, and defaults its type refuses."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    numeric = schema.get("type") in _NUMERIC
    # `x: bool = None` (not required, never null) gets "default": null, which its own type refuses.
    foreign_null = schema.get("default", ...) is None and schema.get("type", "null") != "null"
    return {(_CONSTRAINTS[key] if numeric and key in _CONSTRAINTS else key): _tidy(value)
            for key, value in schema.items() if not (foreign_null and key == "default")}


def _without_null(field: dict) -> dict:
    """A parameter's schema: no title, and no null branch nor null default (absent is how a query says none)."""
    field = {k: v for k, v in field.items() if k != "title" and not (k == "default" and v is None)}
    if "anyOf" not in field:
        return field
    options = [option for option in field["anyOf"] if option != {"type": "null"}]
    rest = {k: v for k, v in field.items() if k != "anyOf"}
    return {**options[0], **rest} if len(options) == 1 else {**rest, "anyOf": options}
