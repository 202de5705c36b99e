"""Keyed digests (HMAC-SHA256) with the stage's signing key: what rests in the table instead of a secret or its
plain digest (token hashes, idempotency payload hashes), and the signature that makes a cursor tamper-evident.

The key is a Secrets Manager secret named by SIGNING_KEY_ID: the template creates it with a generated value,
local/provision.py creates one for the tests and `make run`. It is read through powertools' parameters utility
and cached for CACHE_SECONDS per warm Lambda. Each use derives its own key, HMAC(key, purpose), so a digest made
for one use is worthless for another. Changing the secret's value invalidates every token and cursor: the
template sets no rotation (docs/deployment.md).
"""
import hashlib
import hmac

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import logger

CACHE_SECONDS = 300
# The purposes keys are derived for (bandit B105 reads TOKEN as a password).
TOKEN = "token"  # nosec B105
CURSOR = "cursor"
IDEMPOTENCY = "idempotency"

_provider = None


def _key(purpose: str) -> bytes:
    global _provider
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    if _provider is None:
        _provider = SecretsProvider(boto3_client=aws.client("secretsmanager"))
    try:
        secret = _provider.get(get_settings().signing_key_id, max_age=CACHE_SECONDS)
    except GetParameterError:
        logger.exception("signing key unavailable")
        raise ServiceUnavailable("A dependency is unavailable; retry later.") from None
    master = secret if isinstance(secret, bytes) else str(secret).encode()
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


def digest(purpose: str, data: str | bytes) -> str:
    """HMAC-SHA256 of `data` under the key of `purpose`, in hex."""
    return sign(purpose, data).hex()


def sign(purpose: str, data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return hmac.new(_key(purpose), raw, hashlib.sha256).digest()


def forget_key() -> None:
    """Drop the cached key (a fresh AWS world in tests; a restored SnapStart copy re-reads it)."""
    global _provider
    _provider = None
