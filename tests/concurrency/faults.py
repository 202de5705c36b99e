"""What moto never does, done to our own boto3 clients with botocore event hooks: cancel a transaction for a
conflict, throttle a request, let a request time out. moto has no partitions, no throttling and no
TransactionConflict; these hooks answer in its place, before the request reaches it, so what they refuse is
never written."""
import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from chalicelib import aws


@dataclass
class Injection:
    """How many requests of the operation the hook saw, and how many it answered in DynamoDB's place."""
    seen: int = 0
    refused: int = 0
    refuse: Callable[[int, dict], bool] = field(default=lambda attempt, params: True)
    request_tokens: list = field(default_factory=list)   # ClientRequestToken of each attempt on the wire


def _error(status: int, code: str, message: str, **extra) -> tuple:
    parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
    return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", status, {}, None), parsed


def transaction_conflict(params: dict) -> tuple:
    """A TransactWriteItems cancelled because another transaction held its first item at that instant."""
    reasons = [{"Code": "None"} for _ in json.loads(params["body"])["TransactItems"]]
    reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    return _error(400, "TransactionCanceledException",
                  "Transaction cancelled, please refer cancellation reasons for specific reasons "
                  f"[{', '.join(r['Code'] for r in reasons)}]", CancellationReasons=reasons)


def throttled(params: dict) -> tuple:
    return _error(400, "ProvisionedThroughputExceededException",
                  "The level of configured provisioned throughput for the table was exceeded.")


def kms_unavailable(params: dict) -> tuple:
    return _error(500, "KMSInternalException", "An internal error occurred.")


def single_write_conflict(params: dict) -> tuple:
    """A single-item write refused because a transaction holds the item."""
    return _error(400, "TransactionConflictException", "Transaction is ongoing for the item")


@contextmanager
def answering(operation: str, answer: Callable[[dict], tuple], refuse: Callable[[int, dict], bool] | None = None,
              service: str = "dynamodb"):
    """While inside, requests of `operation` (e.g. "TransactWriteItems") from our clients of `service` that
    refuse(attempt number from 0, request params) accepts are answered with answer(params) instead of being
    sent: as a response that has come back after botocore's own retries (a `before-call` answer skips them)."""
    injection = Injection(refuse=refuse or (lambda attempt, params: True))

    def hook(params, **_):
        attempt, injection.seen = injection.seen, injection.seen + 1
        if injection.refuse(attempt, params):
            injection.refused += 1
            return answer(params)
        return None

    with _registered(f"before-call.{service}.{operation}", hook):
        yield injection


@contextmanager
def timing_out(operation: str):
    """While inside, every attempt of `operation` times out on the wire: botocore retries it (standard mode)
    and then gives up. Raised in `before-send`, ahead of moto, so nothing reaches the table."""
    injection = Injection()

    def hook(request, **_):
        injection.seen += 1
        injection.refused += 1
        injection.request_tokens.append(json.loads(request.body).get("ClientRequestToken"))
        raise ReadTimeoutError(endpoint_url=request.url)

    with _registered(f"before-send.dynamodb.{operation}", hook):
        yield injection


@contextmanager
def _registered(event: str, hook):
    service = event.split(".")[1]
    clients = [aws.dynamodb(), aws.client("dynamodb")] if service == "dynamodb" else [aws.client(service)]
    for client in clients:
        client.meta.events.register_first(event, hook)
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister(event, hook)


def first(n: int) -> Callable[[int, dict], bool]:
    """Refuse the first n attempts, let the rest through."""
    return lambda attempt, params: attempt < n


def every_tenth(attempt: int, params: dict) -> bool:
    return attempt % 10 == 9
