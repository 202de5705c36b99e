"""Each Lambda's own policy allows every AWS request its handler makes, and no handler is left without one.

Every handler runs under moto while botocore hooks record each request (service, operation, parameters);
each request is turned into the IAM action(s) and resource ARN that AWS would authorize, and checked
against the policy file that function is deployed with (.chalice/policy-<stage>-<function>.json). A
grant missing from infra/policy.py fails here, not in production. Runs against the dev stage, whose
names the tests provision.
"""
import fnmatch
import json
from datetime import timedelta
from pathlib import Path

import pytest
from chalice.local import LambdaContext

from app import app
from chalicelib import aws, clock, signing
from chalicelib.bulk import queue as bulk_queue
from chalicelib.config import get_settings
from chalicelib.operations import queue
from chalicelib.rollups import lanes
from infra.functions import lambda_functions
from infra.policy import policy
from local.workers import sqs_event

ROOT = Path(__file__).resolve().parents[2]
REGION, ACCOUNT = "us-east-1", "123456789012"
TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                       "ConditionCheck": "ConditionCheckItem"}


class Recorder:
    """The AWS requests made while `function` is set, by function name."""

    def __init__(self):
        self.function: str | None = None
        self.requests: dict[str, list[tuple[str, str, dict]]] = {}

    def attach(self) -> None:
        # The cached clients are the ones the handlers use (chalicelib/aws.py); made now if not yet.
        for made in (aws.dynamodb(), aws.client("dynamodb"), aws.client("sqs"), aws.client("kms"),
                     aws.client("secretsmanager")):
            made.meta.events.register("provide-client-params", self._record)

    def _record(self, params, model, **_):
        if self.function is not None:
            self.requests.setdefault(self.function, []).append(
                (model.service_model.service_name, model.name, dict(params)))

    def running(self, function: str):
        recorder = self

        class Scope:
            def __enter__(self):
                recorder.function = function

            def __exit__(self, *exc):
                recorder.function = None
        return Scope()


def authorizations(service: str, operation: str, params: dict) -> list[tuple[str, str, dict]]:
    """(IAM action, resource ARN, request context) that AWS checks for one request."""
    def table(name, index=None):
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return [(f"dynamodb:{TRANSACTION_ACTIONS[kind]}", table(body["TableName"]), {})
                    for item in params["TransactItems"] for kind, body in item.items()]
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{operation}", table(name), {}) for name in params["RequestItems"]]
        return [(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")), {})]
    if service == "sqs":
        name = params.get("QueueName") or params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        # A batch call is authorized as its single-message action.
        return [(f"sqs:{operation.removesuffix('Batch')}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", {})]
    if service == "secretsmanager":
        # A secret's ARN ends with six characters Secrets Manager chooses.
        return [(f"secretsmanager:{operation}", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{params['SecretId']}"
                 "-Ab12Cd", {})]
    if service == "kms":
        context = {f"kms:EncryptionContext:{k}": v for k, v in params.get("EncryptionContext", {}).items()}
        return [(f"kms:{operation}", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/the-device-secrets-key", context)]
    raise AssertionError(f"no IAM mapping for {service}:{operation}")


def allowed(document: dict, action: str, resource: str, context: dict) -> bool:
    for statement in document["Statement"]:
        if action not in statement["Action"]:
            continue
        if not any(fnmatch.fnmatchcase(resource, pattern) for pattern in statement["Resource"]):
            continue
        # StringEquals is checked against the request; kms:ResourceAliases holds for the stage's key,
        # the only key the tests provision.
        required = statement.get("Condition", {}).get("StringEquals", {})
        if all(context.get(key) == value for key, value in required.items()):
            return True
    return False


def assert_covered(function, requests) -> None:
    path = ROOT / ".chalice" / f"policy-dev-{function.name}.json"
    assert path.exists(), f"{function.name} has no policy file: run `python -m infra.policy`"
    document = json.loads(path.read_text())
    assert document == policy("dev", function), "run `python -m infra.policy`"
    refused = sorted({(action, resource) for service, operation, params in requests
                      for action, resource, context in authorizations(service, operation, params)
                      if not allowed(document, action, resource, context)})
    assert not refused, f"{function.name} calls what its policy does not allow: {refused}"


@pytest.fixture
def recorder(client) -> Recorder:
    recorder = Recorder()
    recorder.attach()
    return recorder


def test_every_handler_runs_within_its_own_policy(api, client, recorder, monkeypatch):
    functions = {f.name: f for f in lambda_functions(app)}
    with recorder.running("api_handler"):
        signing.forget_key()      # a cold Lambda's first request reads the signing key
        organization = api.organization()
        device_type = api.device_type()
        token = api.token(organization)
        device = api.device(organization, device_type, password="s3cret")
        offline = api.device(organization, device_type)
        assert api.get(f"/inventory_device/{device['id']}/?pending=true").status_code == 200
        assert api.get(f"/inventory_device/?organization={organization}&type={device_type}&status=1",
                       token=token).status_code == 200
        assert api.put(f"/admin/simulator/{offline['id']}/", {"online": False}).status_code == 200
        for target in (device, offline):
            assert api.patch(f"/inventory_device/{target['id']}/", {"reboot": True, "sync": True},
                             headers={"Idempotency-Key": f"ops-{target['id']}"}).status_code == 200
        assert api.get(f"/inventory_device/{device['id']}/operations/").status_code == 200
        # A bulk operation: created (its first round asked for), read, paused and resumed.
        started = api.post("/bulk_operations/", {"operation": "sync", "target": {"organization_id": organization}})
        assert started.status_code == 202, started.body
        rollout = started.json_body["id"]
        for action in ("pause", "resume"):
            assert api.post(f"/bulk_operations/{rollout}/{action}/").status_code == 200
        assert api.get(f"/bulk_operations/{rollout}/devices/").status_code == 200
        assert api.get(f"/audit_log/?device_id={device['id']}").status_code == 200
        # Telemetry in, history and aggregates out: batch reads and writes, the 60 s answer record.
        at = clock.iso(clock.now())
        for kind, record in (("connection_events", {"occurred_at": at, "event": "Start", "attributes": {}}),
                             ("app_sessions", {"started_at": at, "app_id": "a", "app_name": "A", "app_category": "web",
                                               "success": True, "response_time_ms": 10, "duration_s": 1,
                                               "bytes": 10}),
                             ("usage", {"occurred_at": at, "mo_bytes": 1, "mt_bytes": 2, "protocol": "TCP",
                                        "destination_ip": "10.0.0.1"})):
            answer = api.post(f"/telemetry/{kind}/", {"records": [{"event_id": f"{kind}-1", "device_id": device["id"],
                                                                   **record}]})
            assert answer.status_code == 202 and answer.json_body["accepted"] == 1, answer.json_body
        assert api.get(f"/inventory_device/{device['id']}/connection_history/?earliest=2020-01-01T00:00:00Z"
                       f"&latest={at}").status_code == 200
        assert api.post("/inventory_device_diags/", {"device_id": device["id"], "diagnostic_type": "maintenance"}
                        ).status_code == 201
        assert api.post("/admin/rollups/", {}).status_code == 200
        since = clock.iso(clock.now() - timedelta(days=1))
        assert api.get(f"/analytics/data-usage?startDate={since}&endDate={at}").status_code == 200
        # Every list without a path parameter, whatever capability added it: reads, auth and rate limit.
        for path, methods in app.routes.items():
            if "{" not in path and "GET" in methods:
                assert api.get(path + "/").status_code < 500, path

    with recorder.running("operations_agent_handler"):
        sqs = aws.client("sqs")
        arn = sqs.get_queue_attributes(QueueUrl=queue.queue_url(), AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        received = sqs.receive_message(QueueUrl=queue.queue_url(), MaxNumberOfMessages=10,
                                       AttributeNames=["All"])["Messages"]
    # The event source mapping's receive is not the handler's: recorded apart, checked below all the same.
    mapping_requests = recorder.requests.pop("operations_agent_handler")
    with recorder.running("operations_agent_handler"):
        # With the deployed timeout (the test client's 3 s would have the agent hand every message back).
        answer = app.handler_map["operations_agent_handler"](sqs_event(received, arn), LambdaContext(
            "operations_agent_handler", 256, queue.AGENT_TIMEOUT_SECONDS * 1000))
    assert answer["batchItemFailures"], "the offline device's messages should have failed"

    with recorder.running("bulk_operations_worker"):
        bulk_url = bulk_queue.queue_url()
        bulk_arn = aws.client("sqs").get_queue_attributes(QueueUrl=bulk_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        rounds = aws.client("sqs").receive_message(QueueUrl=bulk_url, MaxNumberOfMessages=1,
                                                   AttributeNames=["All"])["Messages"]
    bulk_mapping_requests = recorder.requests.pop("bulk_operations_worker")
    with recorder.running("bulk_operations_worker"):
        # One round, cut short after its first slice: expansion, a slice's turns and sends, the next round asked for.
        monkeypatch.setattr(clock, "sleep", lambda seconds: None)
        answer = app.handler_map["bulk_operations_worker"](sqs_event(rounds, bulk_arn), LambdaContext(
            "bulk_operations_worker", 256, 21_500))
    assert answer["batchItemFailures"] == []

    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    for function in functions.values():
        if function.kind == "schedule":
            with recorder.running(function.name):
                client.lambda_.invoke(function.name, client.events.generate_cw_event(
                    source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))

    with recorder.running("api_handler"):
        assert api.delete(f"/inventory_device/{device['id']}/").status_code == 204

    # The rollups' worker: the schedule's ticks and the delete's purge wait in its queue.
    with recorder.running("aggregate_telemetry"):
        sqs = aws.client("sqs")
        arn = sqs.get_queue_attributes(QueueUrl=lanes.queue_url(), AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        received = sqs.receive_message(QueueUrl=lanes.queue_url(), MaxNumberOfMessages=10,
                                       AttributeNames=["All"])["Messages"]
    rollups_mapping_requests = recorder.requests.pop("aggregate_telemetry")
    with recorder.running("aggregate_telemetry"):
        answer = client.lambda_.invoke("aggregate_telemetry", sqs_event(received, arn)).payload
    assert answer == {"batchItemFailures": []}

    mappings = {"operations_agent_handler": mapping_requests, "bulk_operations_worker": bulk_mapping_requests,
                "aggregate_telemetry": rollups_mapping_requests}
    for name, function in functions.items():
        requests = recorder.requests.get(name, [])
        assert requests or function.kind == "schedule", f"{name} was not exercised"
        assert_covered(function, requests + mappings.get(name, []))
    # What AWS's event source mapping does with the agent's role, which no test can record.
    mapping = policy("dev", functions["operations_agent_handler"])["Statement"]
    queue_actions = next(s["Action"] for s in mapping if s["Sid"] == "OperationsQueue")
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(queue_actions)
    assert get_settings().operations_queue_name in next(s["Resource"][0] for s in mapping
                                                         if s["Sid"] == "OperationsQueue")


def test_the_api_encrypts_device_passwords_and_no_function_can_decrypt_them():
    for function in lambda_functions(app):
        statements = policy("dev", function)["Statement"]
        passwords = [s for s in statements if s["Sid"] == "DeviceSecrets"]
        assert [s["Action"] for s in passwords] == ([["kms:Encrypt"]] if function.name == "api_handler" else [])
        # The only Decrypt is the data key's, and only through the services that hold the data.
        for statement in statements:
            if "kms:Decrypt" in statement["Action"]:
                assert statement["Sid"] == "DataKeyThroughItsServices"
                assert statement["Condition"]["ForAnyValue:StringEquals"] == {
                    "kms:ResourceAliases": "alias/fleetline-dev-data"}
                assert set(statement["Condition"]["StringLike"]["kms:ViaService"]) <= {
                    "dynamodb.*.amazonaws.com", "secretsmanager.*.amazonaws.com"}


def test_only_the_api_reads_the_signing_key():
    for function in lambda_functions(app):
        actions = {a for s in policy("dev", function)["Statement"] for a in s["Action"]}
        assert ("secretsmanager:GetSecretValue" in actions) == (function.name == "api_handler")


def test_only_the_api_the_sweep_and_bulk_rounds_send_to_the_queue_and_only_queue_handlers_consume():
    for function in lambda_functions(app):
        statements = policy("dev", function)["Statement"]
        actions = {a for s in statements if s["Sid"] == "OperationsQueue" for a in s["Action"]}
        bulk_actions = {a for s in statements if s["Sid"] == "BulkQueue" for a in s["Action"]}
        # The sweep sends again what no agent picked up (a send lost after its commit); bulk rounds send their turns.
        assert ("sqs:SendMessage" in actions) == (function.name in ("api_handler", "sweep_overdue_operations",
                                                                    "bulk_operations_worker"))
        assert ("sqs:DeleteMessage" in actions) == (function.name == "operations_agent_handler")
        assert ("sqs:DeleteMessage" in bulk_actions) == (function.name == "bulk_operations_worker")


def test_the_rollups_queue_is_fed_by_the_api_and_the_schedule_and_consumed_by_its_worker_and_the_api():
    for function in lambda_functions(app):
        actions = {a for s in policy("dev", function)["Statement"] if s["Sid"] == "RollupsQueue" for a in s["Action"]}
        assert ("sqs:SendMessage" in actions) == (function.name in ("api_handler", "roll_up_telemetry",
                                                                     "aggregate_telemetry"))
        assert ("sqs:DeleteMessage" in actions) == (function.name in ("api_handler", "aggregate_telemetry"))
