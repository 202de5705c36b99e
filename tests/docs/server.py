"""`chalice local`'s own HTTP server, in this process on a free port of 127.0.0.1, over a fresh moto world.

What `make run` serves, without its child processes: the same server class `chalice local` runs
(`chalice.local.create_local_server`: real sockets, keep-alive, one thread per connection, the API Gateway event
it builds), the dev stage's configuration, and the table and queues provisioned from the same declarations, with
moto in process (`mock_aws`) instead of moto's server. Starts in well under a second; stops with the fixture.
"""
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chalice.cli.factory import CLIFactory
from chalice.local import create_local_server
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.config import get_settings
from local.provision import provision
from tests.conftest import forget_process_state
from tests.factories import Api

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


@dataclass
class Served:
    url: str        # http://127.0.0.1:<port>
    api: Api        # the same app through chalice.test.Client, with a platform token (api.platform)


@contextmanager
def serving() -> Iterator[Served]:
    with mock_aws():
        forget_process_state()
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            api = Api(client)
            with _local_server() as url:
                yield Served(url, api)


@contextmanager
def _local_server() -> Iterator[str]:
    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="dev")
    # create_local_server gives `app` a per-thread current_request (chalice's LocalChalice), which concurrent
    # connections need; the class is put back afterwards for the tests that share this process.
    original_class = app.__class__
    server = create_local_server(app, config, HOST, 0)   # port 0: the system picks a free one
    thread = threading.Thread(target=server.server.serve_forever, name="chalice-local", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server.server_address[1]}"
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(5)
        app.__class__ = original_class
