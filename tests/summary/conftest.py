"""Fixtures of tests/rollups/support.py, and `summarized`: one moto world per module holding the scenario
(tests/summary/scenario.py) ingested and rolled up, for tests that only read or are refused."""
from pathlib import Path

import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.config import get_settings
from local.provision import provision
from tests.conftest import forget_process_state
from tests.factories import Api
from tests.rollups.support import Clock, Fleet, fast_moto_queries, fleet, frozen, make_fleet  # noqa: F401
from tests.summary.scenario import ingest_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def summarized() -> Fleet:
    """Never mix with `fleet`/`api` in one module: both start a moto world."""
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        forget_process_state()
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            world = make_fleet(Api(client), Clock(monkeypatch))
            ingest_scenario(world)
            world.roll_up()
            yield world
