"""The only place boto3 clients are made: lazily, cached, honouring AWS_ENDPOINT_URL.

Clients are built on first use so that `import app` costs no AWS set-up (cold start) and so that
tests can start moto before any client exists. Benchmarks attach botocore event hooks to the
session returned by `session()`.
"""
from functools import cache, lru_cache

import boto3
from botocore.config import Config

_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


@lru_cache(maxsize=1)
def session() -> boto3.session.Session:
    return boto3.session.Session()


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
