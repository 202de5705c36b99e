"""Concurrent clients against the app in one process, on moto.

chalice.test.Client is not thread-safe: the app keeps the request being handled in one attribute
(`app.current_request`), and each call swaps `os.environ` for the stage's variables and back. So concurrent
requests go through chalice's LocalGateway, the gateway `chalice local` (and so `make run`) serves with,
with the app's current request kept per thread exactly as `chalice local` keeps it (chalice.local.LocalChalice).
The stage's variables are already in the environment (tests/conftest.py). moto answers one DynamoDB request at
a time (tests/conftest.py), as DynamoDB serializes writes to one item.
"""
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from chalice.cli.factory import CLIFactory
from chalice.local import LocalChalice, LocalGateway
from chalice.test import HTTPResponse

from app import app
from tests.conftest import ROOT

WORKERS = 16


@contextmanager
def current_request_per_thread():
    original = app.__class__
    app.__class__ = type("PerThreadChalice", (LocalChalice, original), {})
    try:
        yield
    finally:
        app.__class__ = original


class Clients:
    """Sends requests from many threads at once, each as its own HTTP client would."""

    def __init__(self, token: str):
        self.token = token
        config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="dev")
        self._gateway = LocalGateway(app, config)

    def send(self, method: str, path: str, body=None, headers: dict | None = None) -> HTTPResponse:
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.token}", **(headers or {})}
        raw = json.dumps(body).encode() if body is not None else b""
        return HTTPResponse.create_from_dict(self._gateway.handle_request(method, path, headers, raw))

    def at_once(self, calls: list[Callable[[], HTTPResponse]], workers: int = WORKERS) -> list[HTTPResponse]:
        """Every call, `workers` at a time; the answers in the order of the calls."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda call: call(), calls))


@pytest.fixture
def clients(api) -> Clients:
    with current_request_per_thread():
        yield Clients(api.platform)
