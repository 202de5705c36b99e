"""The only place boto3 clients are made: lazily, cached, honouring AWS_ENDPOINT_URL.

Clients are built on first use so that `import app` costs no AWS set-up (cold start) and so that
tests can start moto before any client exists. Benchmarks attach botocore event hooks to the
session returned by `session()`.

Retries: botocore's standard mode re-sends throttled requests, 5xx answers, timeouts and dropped
connections (3 attempts in all, with its own jittered backoff). What still fails after them from DynamoDB
or KMS is a dependency that is overloaded or unreachable: those clients raise ServiceUnavailable (503 with
Retry-After, API.md §1) instead of botocore's error. SQS keeps botocore's errors: the operations queue
decides itself what an unsent message means (chalicelib/operations).
"""
from functools import cache, lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError

from chalicelib.errors import ServiceUnavailable

_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
# Error codes that mean "too much, retry later", left after botocore's retries (its throttled set, and the
# 5xx it retried). Conditional failures, validation errors and the like stay botocore's errors.
UNAVAILABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "TransactionInProgressException", "LimitExceededException", "InternalServerError",
    "ServiceUnavailable", "InternalFailure", "KMSInternalException", "KeyUnavailableException",
    "DependencyTimeoutException",
})
# Services whose unavailability is a 503 wherever it happens.
UNAVAILABLE_AS_503 = ("dynamodb", "kms")


@lru_cache(maxsize=1)
def session() -> boto3.session.Session:
    made = boto3.session.Session()
    for service in UNAVAILABLE_AS_503:
        # Registered last, so that other hooks on the session (the bench's counters) see the answer first.
        made.events.register_last(f"after-call.{service}", _refused_after_retries)
        made.events.register_last(f"after-call-error.{service}", _unreachable_after_retries)
    return made


def _refused_after_retries(http_response, parsed, model, **_) -> None:
    code = (parsed or {}).get("Error", {}).get("Code")
    if http_response.status_code >= 500 or code in UNAVAILABLE_CODES:
        service = model.service_model.service_name
        raise ServiceUnavailable(f"{service} is overloaded or unavailable ({code}); retry later.")


def _unreachable_after_retries(exception, **_) -> None:
    if isinstance(exception, (BotocoreConnectionError, HTTPClientError)):
        raise ServiceUnavailable("A dependency did not answer in time; retry later.") from exception


@cache
def client(service: str):
    # endpoint_url=None lets boto3 read AWS_ENDPOINT_URL itself (the local run sets it).
    return session().client(service, config=_CONFIG)


@lru_cache(maxsize=1)
def dynamodb():
    """A DynamoDB client that takes and returns plain Python values (the resource's client)."""
    return session().resource("dynamodb", config=_CONFIG).meta.client


def reset_clients() -> None:
    """Forget every client (tests start a fresh moto between cases)."""
    for cached in (client, dynamodb, session):
        cached.cache_clear()
