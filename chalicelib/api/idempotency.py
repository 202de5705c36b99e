"""Idempotency-Key on POST/PATCH (API.md §1) with powertools' idempotency utility.

The whole response (status, body, headers) is the idempotent result, keyed on the token, the key and
the route (method and path, so one key on two devices is two requests); the body is the payload to
validate, so the same key with another body is a 422. The utility is imported on first use: it costs
about half a second of cold start (STYLE fact 7).
"""
import json
from collections.abc import Callable

from chalice import Response

from chalicelib import aws
from chalicelib.errors import BadRequest, Conflict, ValidationFailed
from chalicelib.store import dynamo, schema
from chalicelib.store.schema import TTL_ATTRIBUTE

EXPIRES_AFTER_SECONDS = 24 * 3600


def run_once(request, principal, produce: Callable[[], Response]) -> Response:
    """produce() once per (token, Idempotency-Key, route); retries get the first response."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return produce()
    key = key.strip()
    if not 1 <= len(key) <= 255:
        raise BadRequest("Idempotency-Key must be 1 to 255 characters.", code="INVALID_IDEMPOTENCY_KEY")
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=dynamo.table_name(), key_attr="PK", sort_key_attr="SK", static_pk_value=schema.IDEMPOTENCY_PK,
        expiry_attr=TTL_ATTRIBUTE, boto3_client=aws.client("dynamodb"))
    config = IdempotencyConfig(event_key_jmespath="[scope, key, route]", payload_validation_jmespath="body",
                               expires_after_seconds=EXPIRES_AFTER_SECONDS)

    @idempotent_function(data_keyword_argument="call", config=config, persistence_store=persistence)
    def respond_once(call: dict) -> dict:
        response = produce()
        return {"status": response.status_code, "body": response.body, "headers": response.headers}

    try:
        body = json.loads(request.raw_body or b"null")
    except ValueError:
        body = (request.raw_body or b"").decode("utf-8", "replace")
    call = {"scope": principal.token_id, "key": key, "route": _route(request), "body": body}
    if request.lambda_context is not None:
        # Sets how long the record stays "in progress": without it, a Lambda killed by its time-out
        # would leave the key refused (IDEMPOTENCY_IN_PROGRESS) for the whole 24 h.
        config.register_lambda_context(request.lambda_context)
    try:
        result = respond_once(call=call)
    except IdempotencyValidationError:
        raise ValidationFailed("This Idempotency-Key was used with another request body.",
                               code="IDEMPOTENCY_KEY_REUSED") from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("A request with this Idempotency-Key is still in progress.",
                       code="IDEMPOTENCY_IN_PROGRESS") from None
    return Response(body=result["body"], status_code=result["status"], headers=result["headers"])


def _route(request) -> str:
    """Method and path, the trailing slash dropped: with and without it is the same resource (API.md §1)."""
    path = request.context.get("path") or request.path
    return f"{request.method} {path.rstrip('/')}"
