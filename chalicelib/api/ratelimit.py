"""Per-token fixed-window rate limit: one UpdateItem ADD per request (API.md §1).

Every request of a token writes its counter: a token allowed more than schema.RATE_KEY_WRITES_PER_SECOND
requests a second counts them on several keys instead, one per process (its writer slot), each holding its
share of the limit. Up to 15,000 a minute (every default and most tokens) the count is one key and exact.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from chalicelib.errors import RateLimited
from chalicelib.observability import REQUESTS_RATE_LIMITED, metrics
from chalicelib.store import counters, dynamo, schema

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
    limit = principal.rate_limit_per_minute
    shards = math.ceil(limit / WINDOW_SECONDS / schema.RATE_KEY_WRITES_PER_SECOND)
    shard = counters.writer_shard() % shards if shards > 1 else 0
    # The counter item expires by TTL a minute after its window closes.
    result = dynamo.update(
        schema.rate_window_key(principal.token_id, window, shard),
        UpdateExpression="ADD hits :one SET expires_at = :exp, entity = :entity",
        ExpressionAttributeValues={":one": 1, ":exp": reset + WINDOW_SECONDS, ":entity": "RateWindow"},
        ReturnValues="UPDATED_NEW")
    hits = int(result["hits"]) * shards     # the whole minute's, as far as this shard can tell
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - hits)),
               "X-RateLimit-Reset": str(reset)}
    if hits > limit:
        metrics.add_metric(name=REQUESTS_RATE_LIMITED, unit="Count", value=1)
        raise RateLimited(f"Rate limit of {limit} requests per minute for this token exceeded; "
                          f"retry after {reset - int(now)} s.",
                          headers=headers | {"Retry-After": str(max(1, reset - int(now)))},
                          details=[{"field": "rate_limit_per_minute", "problem": f"limit {limit} reached"}])
    return headers
