"""The app served to concurrent callers inside one process, as `chalice local` (and so `make run`) serves it:
for the concurrency tests and the write benchmark.

chalice.test.Client is not thread-safe: the app keeps the request being handled in one attribute
(`app.current_request`), and each call swaps `os.environ` for the stage's variables and back. Here requests go
through chalice's LocalGateway, the gateway `chalice local` runs, with the app's current request kept per
thread as `chalice local` keeps it (chalice.local.LocalChalice). The stage's variables must already be in the
environment (the tests and the bench set them before importing the app).
"""
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def current_request_per_thread(app):
    from chalice.local import LocalChalice

    original = app.__class__
    app.__class__ = type("PerThreadChalice", (LocalChalice, original), {})
    try:
        yield
    finally:
        app.__class__ = original


class ConcurrentClients:
    """Sends requests from many threads at once, each as its own HTTP client would (inside
    current_request_per_thread)."""

    def __init__(self, app, token: str, stage: str = "dev"):
        from chalice.cli.factory import CLIFactory
        from chalice.local import LocalGateway

        self.token = token
        self._gateway = LocalGateway(app, CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name=stage))

    def send(self, method: str, path: str, body=None, headers: dict | None = None):
        """One request; a chalice.test.HTTPResponse (status_code, headers, body, json_body)."""
        from chalice.test import HTTPResponse

        headers = {"content-type": "application/json", "authorization": f"Bearer {self.token}", **(headers or {})}
        raw = json.dumps(body).encode() if body is not None else b""
        return HTTPResponse.create_from_dict(self._gateway.handle_request(method, path, headers, raw))

    @staticmethod
    def at_once(calls: list[Callable[[], object]], workers: int = 16) -> list:
        """Every call, `workers` at a time; the answers in the order of the calls."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda call: call(), calls))
