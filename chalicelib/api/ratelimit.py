"""Per-token fixed-window rate limit: one UpdateItem ADD per request (API.md §1)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from chalicelib.errors import RateLimited
from chalicelib.observability import REQUESTS_RATE_LIMITED, metrics
from chalicelib.store import dynamo, schema

if TYPE_CHECKING:
    from chalicelib.tokens.models import Principal

WINDOW_SECONDS = 60


def count_request(principal: Principal) -> dict[str, str]:
    """Count this request in the token's current minute; the X-RateLimit-* headers to send.

    Raises:
        RateLimited: with Retry-After, when the minute's budget is spent.
    """
    now = time.time()
    window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    reset = window + WINDOW_SECONDS
    # The counter item expires by TTL a minute after its window closes.
    result = dynamo.update(
        schema.rate_window_key(principal.token_id, window),
        UpdateExpression="ADD hits :one SET expires_at = :exp, entity = :entity",
        ExpressionAttributeValues={":one": 1, ":exp": reset + WINDOW_SECONDS, ":entity": "RateWindow"},
        ReturnValues="UPDATED_NEW")
    hits = int(result["hits"])
    limit = principal.rate_limit_per_minute
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - hits)),
               "X-RateLimit-Reset": str(reset)}
    if hits > limit:
        metrics.add_metric(name=REQUESTS_RATE_LIMITED, unit="Count", value=1)
        raise RateLimited(f"Rate limit of {limit} requests per minute for this token exceeded; "
                          f"retry after {reset - int(now)} s.",
                          headers=headers | {"Retry-After": str(max(1, reset - int(now)))},
                          details=[{"field": "rate_limit_per_minute", "problem": f"limit {limit} reached"}])
    return headers
