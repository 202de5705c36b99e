"""Concurrent clients against the app in one process, on moto: through chalice's LocalGateway with the
current request kept per thread, as `chalice local` serves (local/concurrent_gateway.py explains why not
chalice.test.Client). moto answers one DynamoDB request at a time (tests/conftest.py), as DynamoDB
serializes the writes to one item."""
import pytest

from app import app
from local.concurrent_gateway import ConcurrentClients, current_request_per_thread


@pytest.fixture
def clients(api) -> ConcurrentClients:
    with current_request_per_thread(app):
        yield ConcurrentClients(app, api.platform)
