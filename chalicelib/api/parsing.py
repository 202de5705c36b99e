"""Edge validation: request bodies and query strings into pydantic models (path ids: api/routes.path_value)."""
from pydantic import BaseModel, ValidationError

from chalicelib.errors import BadRequest, ValidationFailed, field_problem


def _problems(error: ValidationError, unknown: str) -> list[dict]:
    details = []
    for e in error.errors(include_url=False):
        field = ".".join(str(part) for part in e["loc"]) or "(body)"
        problem = unknown if e["type"] == "extra_forbidden" else e["msg"]
        details.append(field_problem(field, problem))
    return details


def parse_body(request, model: type[BaseModel]) -> BaseModel:
    """The JSON body as `model`: 400 when it is not JSON, 422 listing every bad field.

    Reads raw_body rather than json_body, which answers Chalice's own 400 and ignores bodies sent
    without a JSON content type (STYLE fact 2).
    """
    raw = request.raw_body or b""
    if not raw.strip():
        raise BadRequest("The request body is empty; a JSON object is expected.", code="INVALID_JSON")
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise BadRequest("The request body is not valid JSON.", code="INVALID_JSON") from None
        details = _problems(error, "unknown field")
        names = ", ".join(d["field"] for d in details)
        raise ValidationFailed(f"The request body has invalid fields: {names}.", details=details) from None


def parse_query(request, model: type[BaseModel]) -> BaseModel:
    """Query parameters as `model`; any bad or unknown parameter is a 400 naming it."""
    params = dict(request.query_params or {})
    try:
        return model.model_validate(params)
    except ValidationError as error:
        details = _problems(error, "unknown query parameter")
        names = ", ".join(d["field"] for d in details)
        raise BadRequest(f"Invalid query parameters: {names}.", code="INVALID_QUERY", details=details) from None
