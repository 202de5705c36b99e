"""The bounded fuzzing pass of CI (`make fuzz` is the full one, from outside): schemathesis generates requests for
every operation of GET /openapi.json, valid ones and invalid ones, and sends them through the real app (middleware,
routes, moto) in process. Every answer must be free of 5xx and exactly as the description says (status, headers,
body schema).

One test for the whole pass, over one world: a module-scoped world would be rebuilt whenever pytest-xdist
interleaves these tests with others, and the pass is a few seconds of a worker either way.
"""
import os
from pathlib import Path

import schemathesis
from chalice.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from moto import mock_aws
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import app
from chalicelib.config import get_settings
from local.provision import provision
from tests.conftest import forget_process_state
from tests.factories import Api
from tests.fuzz.gateway import ChaliceWsgi, World, build_world

ROOT = Path(__file__).resolve().parents[2]
# Examples per operation and generation mode: about 45 operations x 2 modes; FUZZ_EXAMPLES raises it locally.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# DELETE routes last: they remove what the other operations would find.
ORDER = {"DELETE": 1}


def _fuzz(operation, mode: GenerationMode, world: World) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck))
    # Revoking the token the pass calls with would leave nothing but 401s after it.
    @given(case=operation.as_strategy(generation_mode=mode).filter(
        lambda case: str((case.path_parameters or {}).get("token_id")) != str(world.token_id)))
    def run(case):
        response = case.call(headers={"Authorization": f"Bearer {world.token}"})
        case.validate_response(response, checks=CHECKS)

    run()


def test_every_operation_answers_as_described():
    gateway = ChaliceWsgi()
    with mock_aws():
        forget_process_state()
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            get_settings.cache_clear()
            provision()
            gateway.client = client
            world = build_world(Api(client))
            schema = schemathesis.openapi.from_wsgi("/openapi.json", gateway)
            operations = sorted((result.ok() for result in schema.get_all_operations()),
                                key=lambda op: (ORDER.get(op.method.upper(), 0), op.path, op.method))
            failures = {}
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    try:
                        _fuzz(operation, mode, world)
                    except (Exception, BaseExceptionGroup) as error:  # every operation's failures, not the first only
                        failures[f"{operation.label} ({mode.value})"] = error
    print(f"schemathesis: {gateway.requests} requests, statuses {dict(sorted(gateway.statuses.items()))}")
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())
