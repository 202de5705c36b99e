"""The retry policy of every DynamoDB write, for what botocore's own retries do not cover.

botocore (standard mode, configured in chalicelib/aws.py) retries throttling, 5xx answers, timeouts and
dropped connections, re-sending the same request; a TransactWriteItems keeps its ClientRequestToken across
those re-sends (botocore fills it in once per call), so a transaction that committed before its answer was
lost is not applied twice. What is left to us:

- a transaction cancelled because another one held an item at that instant (`TransactionConflict`), or
  because one of its items was throttled: nothing was written, so the same actions are sent again;
- a single-item write refused because a transaction held the item (`TransactionConflictException`);
- an optimistic write (read, then write conditional on the version read) that found the version changed:
  the caller reads again and re-applies (a PATCH without If-Match).

Each waits with full jitter (a random delay up to an exponentially growing cap) and gives up after a bounded
number of attempts with ServiceUnavailable: a 503 with Retry-After, nothing written by the failed attempts.
"""
import random
import time
from collections.abc import Iterator

from chalicelib.errors import ServiceUnavailable

# Cancellation reasons that say "not now" rather than "no": the transaction may succeed if sent again.
TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# Attempts in all; the waits between them add up to at most 1.9 s, 2.5 s and 4.5 s (half that on average),
# well inside API Gateway's 29 s.
ATTEMPTS = 8                 # a transaction or a single write
BATCH_ATTEMPTS = 9           # a batch's unprocessed items, sent again
OPTIMISTIC_ATTEMPTS = 12     # read-apply-write rounds of one request (a PATCH without If-Match)
BASE_SECONDS = 0.01
CAP_SECONDS = 0.64


def pause(attempt: int) -> None:
    """Full-jitter exponential backoff before retry number `attempt` (1 for the first retry)."""
    # Jitter spreads retries out; nothing guessable rests on it (bandit B311 asks for a CSPRNG).
    time.sleep(random.uniform(0, min(CAP_SECONDS, BASE_SECONDS * 2 ** attempt)))  # nosec B311


def attempts(limit: int, what: str) -> Iterator[int]:
    """Attempt numbers 0..limit-1, pausing before each retry; ServiceUnavailable once they are spent.

    Used as `for _ in retries.attempts(...): try ...; return ... except Transient: continue`.
    """
    for attempt in range(limit):
        if attempt:
            pause(attempt)
        yield attempt
    raise ServiceUnavailable(f"The database is too busy for {what} right now; retry later.", retry_after=1)


def is_transient(reasons: list[str]) -> bool:
    """A cancelled transaction worth sending again: only transient reasons, no failed condition."""
    return bool(TRANSIENT_REASONS & set(reasons)) and "ConditionalCheckFailed" not in reasons
