"""Idempotency-Key on POST/PATCH (API.md §1) with powertools' idempotency utility.

The whole response (status, body, headers) is the idempotent result, keyed on the token, the key and
the route (method and path, so one key on two devices is two requests); the body is the payload to
validate, so the same key with another body is a 422. The utility is imported on first use: it costs
about half a second of cold start (STYLE fact 7).

Nothing secret rests in a record (API.md §1): the payload the utility hashes (an unsalted MD5) is an
HMAC of the body under the signing key, not the body, which may carry a device password; and an answer
that holds a secret (a token's) is stored as `replay` rewrites it, while the first caller gets it whole.

answer_repeats is the connection history's duplicate-request rule (API.md §6) on the same utility: no key
header, the request itself (token, route, query, body) is the key, for 60 s.
"""
import base64
import json
import zlib
from collections.abc import Callable
from functools import cache

from chalice import Response

from chalicelib import aws, signing
from chalicelib.errors import BadRequest, Conflict, ServiceUnavailable, ValidationFailed
from chalicelib.store import dynamo, schema
from chalicelib.store.schema import TTL_ATTRIBUTE

EXPIRES_AFTER_SECONDS = 24 * 3600
REPEAT_WINDOW_SECONDS = 60
# What answer_repeats stores of a response body (compressed, base64) beside the record's own attributes: well
# within DynamoDB's 400 KB item limit.
MAX_STORED_ANSWER = 300_000


def run_once(request, principal, produce: Callable[[], Response],
             replay: Callable[[dict], dict] | None = None) -> Response:
    """produce() once per (token, Idempotency-Key, route); retries get the first response, or, with `replay`,
    replay(first body) for a success: what is stored and answered again when the first body holds a secret."""
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
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    persistence = _persistence(DynamoDBPersistenceLayer)
    config = IdempotencyConfig(event_key_jmespath="[scope, key, route]", payload_validation_jmespath="body",
                               expires_after_seconds=EXPIRES_AFTER_SECONDS)

    fresh: list[Response] = []

    @idempotent_function(data_keyword_argument="call", config=config, persistence_store=persistence)
    def respond_once(call: dict) -> dict:
        response = produce()
        fresh.append(response)
        body = response.body
        if replay is not None and response.status_code < 300:
            body = replay(body)
        return {"status": response.status_code, "body": body, "headers": response.headers}

    call = {"scope": principal.token_id, "key": key, "route": _route(request), "body": _keyed_body(request)}
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
    except IdempotencyPersistenceLayerError as error:
        _raise_unavailable(error)
        raise
    if fresh:
        return fresh[0]
    return Response(body=result["body"], status_code=result["status"], headers=result["headers"])


def _keyed_body(request) -> str:
    """The body as the utility may hash it: an HMAC of its canonical JSON (or of its bytes, when not JSON), so
    that no unsalted digest of a password rests in the record."""
    raw = request.raw_body or b""
    try:
        canonical = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = raw
    return signing.digest(signing.IDEMPOTENCY, canonical)


def answer_repeats(request, principal, produce: Callable[[], Response],
                   window_seconds: int = REPEAT_WINDOW_SECONDS) -> Response:
    """The duplicate-request rule of reads (API.md §6): the same request (token, route, query and body) within
    window_seconds is answered with the first response, without an Idempotency-Key.

    The answer is stored zlib-compressed: a page of 500 connection events can pass DynamoDB's 400 KB item
    limit as JSON. One still too large to store is computed again on a repeat (a read: same cost, no effect);
    so is a repeat that arrives while the first is still being answered.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
    )

    config = IdempotencyConfig(event_key_jmespath="[scope, route, query, body]", expires_after_seconds=window_seconds)
    fresh: list[Response] = []

    @idempotent_function(data_keyword_argument="call", config=config,
                         persistence_store=_persistence(DynamoDBPersistenceLayer))
    def answer_once(call: dict) -> dict:
        response = produce()
        fresh.append(response)
        packed = base64.b64encode(zlib.compress(json.dumps(response.body).encode())).decode()
        return {"status": response.status_code, "headers": response.headers,
                "body": packed if len(packed) <= MAX_STORED_ANSWER else None}

    try:
        body = json.loads(request.raw_body or b"null")
    except ValueError:
        body = None
    call = {"scope": principal.token_id, "route": _route(request),
            "query": sorted((request.query_params or {}).items()), "body": body}
    if request.lambda_context is not None:
        config.register_lambda_context(request.lambda_context)
    try:
        result = answer_once(call=call)
    except IdempotencyAlreadyInProgressError:
        return produce()
    except IdempotencyPersistenceLayerError as error:
        _raise_unavailable(error)
        raise
    if fresh:
        return fresh[0]
    if result["body"] is None:
        return produce()
    return Response(body=json.loads(zlib.decompress(base64.b64decode(result["body"]))),
                    status_code=result["status"], headers=result["headers"])


def _persistence(layer):
    """powertools' DynamoDB layer on the single table, made per call: no client at import (STYLE fact 5).

    With a sort key, powertools puts every record under one static partition key: two writes of every POST or
    PATCH with an Idempotency-Key on one key. Its key builder is replaced so that each record has a partition
    of its own (schema.idempotency_record_key); records are only ever read by their key.
    """
    return _spread_records(layer)(table_name=dynamo.table_name(), key_attr="PK", sort_key_attr="SK",
                                  static_pk_value=schema.IDEMPOTENCY_PK, expiry_attr=TTL_ATTRIBUTE,
                                  boto3_client=aws.client("dynamodb"))


@cache
def _spread_records(layer):
    class SpreadRecords(layer):
        def _get_key(self, idempotency_key: str) -> dict:
            return {name: {"S": value} for name, value in schema.idempotency_record_key(idempotency_key).items()}
    return SpreadRecords


def _raise_unavailable(error) -> None:
    """powertools wraps what its store raised: a DynamoDB that stayed throttled or unreachable is our 503."""
    if isinstance(error.__cause__, ServiceUnavailable):
        raise error.__cause__ from None


def _route(request) -> str:
    """Method and path, the trailing slash dropped: with and without it is the same resource (API.md §1)."""
    path = request.context.get("path") or request.path
    return f"{request.method} {path.rstrip('/')}"
