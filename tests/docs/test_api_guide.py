"""docs/api-guide.md's examples are what the API answers: each block between `<!-- example: NAME -->` and
`<!-- /example -->` must equal the call of that name in tests/docs/guide_examples.py, run here.

After a change of the API or of the session, rewrite the blocks from a run (then read the diff):

    UPDATE_API_GUIDE=1 .venv/bin/python -m pytest -q tests/docs/test_api_guide.py
"""
import os
import re
from pathlib import Path

import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import aws, clock, signing
from chalicelib.api import ratelimit
from chalicelib.config import get_settings
from local.provision import provision
from tests.conftest import forget_process_state
from tests.docs import guide_examples
from tests.factories import Api

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "api-guide.md"
UPDATE = "UPDATE_API_GUIDE=1 .venv/bin/python -m pytest -q tests/docs/test_api_guide.py"
BLOCK = re.compile(r"<!-- example: (?P<name>[a-z0-9-]+)(?P<pending> pending)? -->\n(?P<text>.*?)<!-- /example -->",
                   re.DOTALL)


@pytest.fixture(scope="module")
def session():
    """The recorded session: {name: rendered example}, and the names of examples still pending."""
    frozen = guide_examples.FrozenClock()
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setattr(clock, "now", frozen)
        patch.setattr(ratelimit, "time", frozen)
        forget_process_state()
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            # A fixed signing key, so that the cursors' signatures in the examples are the same from run to run.
            aws.client("secretsmanager").put_secret_value(SecretId=get_settings().signing_key_id,
                                                          SecretString="the guide's examples")
            signing.forget_key()
            api = Api(client)

            def make_token(organization_id, permissions, name, **extra):
                response = api.post("/admin/tokens/", {"name": name, "organization_id": organization_id,
                                                       "permissions": permissions, **extra})
                assert response.status_code == 201, response.body
                return response.json_body["id"], response.json_body["token"]

            recorder = guide_examples.Recorder(client.http, {"platform": api.platform}, frozen)
            guide_examples.run(recorder, frozen, app.routes, make_token)
    if os.environ.get("UPDATE_API_GUIDE"):
        _rewrite(recorder)
    return recorder


def _rewrite(recorder) -> None:
    def block(match):
        name = match["name"]
        if name in recorder.pending or name not in recorder.examples:
            return match[0]
        return f"<!-- example: {name} -->\n{recorder.examples[name]}<!-- /example -->"
    GUIDE.write_text(BLOCK.sub(block, GUIDE.read_text()))


def blocks() -> dict[str, re.Match]:
    return {match["name"]: match for match in BLOCK.finditer(GUIDE.read_text())}


def test_every_example_of_the_guide_is_what_the_api_answered(session):
    stale = [name for name, match in blocks().items()
             if name in session.examples and match["text"] != session.examples[name]]
    assert not stale, f"docs/api-guide.md differs from a run for {stale}; rewrite them with {UPDATE}, read the diff"


def test_every_recorded_call_has_its_place_in_the_guide_and_every_block_a_call(session):
    shown = blocks().keys()
    recorded = {name for name in session.examples if not name.startswith("setup-")}
    assert recorded - shown == set(), "calls of guide_examples.py with no block in docs/api-guide.md"
    assert shown - recorded - session.pending == set(), "blocks of docs/api-guide.md that no call fills"


def test_examples_of_routes_not_built_yet_are_marked_pending_and_filled_once_they_are(session):
    for name, match in blocks().items():
        if name in session.pending:
            assert match["pending"], f"{name}: its route is not in app.py yet; mark the block pending"
        else:
            assert not match["pending"], f"{name}: its route exists now; fill the block from a run: {UPDATE}"
