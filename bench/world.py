"""A fresh moto world with the app, its table and queues, and a Meter counting every request: for the
benchmark sections of later capabilities (bench.run.SECTIONS), each measured in a world of its own."""
from contextlib import contextmanager

from bench import ROOT

_meter = None


@contextmanager
def world():
    """Yields (chalice test client, Meter); the Meter also times each route (meter.take_phase)."""
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from bench.counting import Meter
    from chalicelib import aws, process_state
    from chalicelib.config import get_settings
    from local.moto_server import dynamodb_requests_one_at_a_time, transactions_backing_up_items
    from local.provision import provision

    global _meter
    if _meter is None:   # one per process: a middleware cannot be unregistered
        _meter = Meter()
        app.register_middleware(_meter.route_phase, "http")
    meter = _meter
    meter.take()
    with mock_aws(), dynamodb_requests_one_at_a_time(), transactions_backing_up_items():
        aws.reset_clients()
        process_state.forget()
        meter.attach(aws.session())
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            yield client, meter
