"""`chalice package` with our merge template gives the complete stack, and cfn-lint finds nothing in it.

The stack is packaged once per run (about 10 s: Chalice imports app.py and builds the zip, the first time
downloading the requirements' wheels) into a temporary folder shared by the xdist workers, exactly as
`make package STAGE=prod` does it into build/package/. cfn-lint runs with its informational checks too:
nothing is silenced (docs/deployment.md says what the template does about each I3011-style advice).
"""
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import app
from chalicelib.observability import NAMESPACE, ROLLUP_LAG
from chalicelib.store import schema
from infra.build_template import beside_chalice_deploy, merge_template
from infra.functions import lambda_functions, schedule_expressions
from infra.policy import StackArns, policy, stage_variables

ROOT = Path(__file__).resolve().parents[2]
STAGE = "prod"
BIN = Path(sys.executable).parent


def _package(out: Path) -> None:
    merge = out / f"merge-{STAGE}.json"
    merge.write_text(json.dumps(merge_template(STAGE, app), indent=2))
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    for name in stage_variables("dev"):   # the tests' own stage must not leak into the prod package
        env.pop(name, None)
    result = subprocess.run([str(BIN / "chalice"), "package", "--stage", STAGE, "--merge-template", str(merge),
                             str(out / "package")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    # A handler without a policy file fails here: `python -m infra.policy` writes it.
    assert result.returncode == 0, f"chalice package failed:\n{result.stdout}{result.stderr}"
    (out / "package" / "beside-chalice-deploy.json").write_text(json.dumps(beside_chalice_deploy(STAGE, app)))


@pytest.fixture(scope="session")
def packaged(tmp_path_factory, worker_id) -> Path:
    """build/package/ as `make package` writes it, made once for all workers."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    out = shared / "fleetline-package"
    with open(shared / "fleetline-package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "package" / "sam.json").exists():
            out.mkdir(exist_ok=True)
            _package(out)
    return out / "package"


@pytest.fixture(scope="session")
def template(packaged) -> dict:
    return json.loads((packaged / "sam.json").read_text())


def test_cfn_lint_finds_nothing_not_even_informational(packaged):
    """In the packaged stack, and in the stack that goes beside a `chalice deploy`."""
    result = subprocess.run([str(BIN / "cfn-lint"), "--include-checks", "I", "--", str(packaged / "sam.json"),
                             str(packaged / "beside-chalice-deploy.json")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_holds_the_template_and_the_zip(packaged):
    assert (packaged / "deployment.zip").stat().st_size > 0


def test_the_table_has_its_indexes_ttl_and_point_in_time_recovery(template):
    table = template["Resources"]["Table"]
    expected = schema.table_definition(stage_variables(STAGE)["TABLE_NAME"])
    assert table["Properties"]["GlobalSecondaryIndexes"] == expected["GlobalSecondaryIndexes"]
    assert table["Properties"]["TimeToLiveSpecification"]["Enabled"] is True
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_the_queue_redrives_to_its_dead_letter_queue_and_the_agent_reports_partial_batches(template):
    resources = template["Resources"]
    redrive = resources["OperationsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["OperationsDeadLetterQueue", "Arn"]}
    queues = {"operations_agent_handler": "OPERATIONS_QUEUE_NAME", "bulk_operations_worker": "BULK_QUEUE_NAME",
              "aggregate_telemetry": "ROLLUP_QUEUE_NAME"}
    for consumer in (f for f in lambda_functions(app) if f.kind == "queue"):
        [event] = resources[consumer.logical_id]["Properties"]["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert event["Properties"]["Queue"]["Fn::Sub"].endswith(":" + stage_variables(STAGE)[queues[consumer.name]])
    rollups = resources["RollupsQueue"]["Properties"]["RedrivePolicy"]
    assert rollups["deadLetterTargetArn"] == {"Fn::GetAtt": ["RollupsDeadLetterQueue", "Arn"]}


def test_every_schedule_of_app_py_is_in_the_stack(template):
    expressions = schedule_expressions(app)
    assert "sweep_overdue_operations" in expressions
    for function in lambda_functions(app):
        if function.kind == "schedule":
            [event] = template["Resources"][function.logical_id]["Properties"]["Events"].values()
            assert event == {"Type": "Schedule", "Properties": {"Schedule": expressions[function.name]}}


def test_the_device_secrets_key_rotates_and_has_the_stage_alias(template):
    resources = template["Resources"]
    assert resources["DeviceSecretsKey"]["Properties"]["EnableKeyRotation"] is True
    assert resources["DeviceSecretsAlias"]["Properties"]["AliasName"] == stage_variables(STAGE)["KMS_KEY_ID"]


def _resources_of(statement) -> list:
    return statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]


def test_every_function_has_a_role_of_its_own_with_only_its_policy_and_no_wildcard_resource(template):
    resources = template["Resources"]
    functions = lambda_functions(app)
    roles = [resources[f.logical_id]["Properties"]["Role"] for f in functions]
    assert len({json.dumps(role) for role in roles}) == len(functions)
    for function in functions:
        assert resources[function.logical_id]["Properties"]["Role"] == {
            "Fn::GetAtt": [function.role_logical_id, "Arn"]}
        assert resources[function.logical_id]["Properties"]["FunctionName"] == function.deployed_name(STAGE)
        [inline] = resources[function.role_logical_id]["Properties"]["Policies"]
        assert inline["PolicyDocument"] == policy(STAGE, function, StackArns())
        assert "ManagedPolicyArns" not in resources[function.role_logical_id]["Properties"]
        for statement in inline["PolicyDocument"]["Statement"]:
            for resource in _resources_of(statement):
                # This account and region, each resource by name; `*` only after a name (indexes, log streams).
                text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
                assert resource in ({"Fn::GetAtt": ["DeviceSecretsKey", "Arn"]}, {"Fn::GetAtt": ["DataKey", "Arn"]},
                                    {"Ref": "SigningKey"}) or \
                    text.startswith("arn:${AWS::Partition}:") and ":*:" not in text and not text.endswith(":*:*"), \
                    resource


def test_each_function_writes_to_its_own_declared_log_group(template):
    resources = template["Resources"]
    for function in lambda_functions(app):
        group = resources[f"{function.logical_id}LogGroup"]
        assert group["Properties"]["LogGroupName"] == function.log_group(STAGE)
        assert group["Properties"]["RetentionInDays"] > 0
        assert f"{function.logical_id}LogGroup" in resources[function.logical_id]["DependsOn"]


def test_alarms_watch_the_dead_letter_queue_every_function_and_the_api(template):
    resources = template["Resources"]
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    dlq = alarms["OperationsDeadLetterQueueAlarm"]
    assert (dlq["Namespace"], dlq["MetricName"], dlq["Threshold"], dlq["ComparisonOperator"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["OperationsDeadLetterQueue",
                                                                                "QueueName"]}}]
    for function in lambda_functions(app):
        errors = alarms[f"{function.logical_id}ErrorsAlarm"]
        assert (errors["MetricName"], errors["Period"], errors["Threshold"]) == ("Errors", 300, 0)
        assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function.logical_id}}]
        assert f"{function.logical_id}ThrottlesAlarm" in alarms
    api = alarms["ApiServerErrorsAlarm"]
    assert {d["Name"]: d["Value"] for d in api["Dimensions"]} == {
        "ApiName": resources["RestAPI"]["Properties"]["Name"], "Stage": "api"}
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_checkov_finds_nothing_and_every_suppression_says_why(packaged):
    """checkov (its own tool venv, .tools/: its pins clash with ours) on the packaged stack, every framework."""
    checkov = ROOT / ".tools" / "bin" / "checkov"
    assert checkov.exists(), "make test (or make tools) installs checkov in .tools/"
    result = subprocess.run([str(checkov), "-f", str(packaged / "sam.json"), "--quiet", "--compact",
                             "--skip-download"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    template = json.loads((packaged / "sam.json").read_text())
    for name, resource in template["Resources"].items():
        for skipped in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skipped.get("comment", "")) > 40, f"{name} skips {skipped['id']} without saying why"


def test_the_stage_is_throttled_and_writes_access_logs(template):
    resources = template["Resources"]
    api = resources["RestAPI"]["Properties"]
    [settings] = api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == 500 and settings["ThrottlingBurstLimit"] >= 500
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    assert resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}


def test_the_api_and_the_agent_run_from_snapstart_versions_behind_an_alias(template):
    resources = template["Resources"]
    for logical_id in ("APIHandler", "OperationsAgentHandler"):
        properties = resources[logical_id]["Properties"]
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"} and properties["AutoPublishAlias"] == "live"
    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    uris = {json.dumps(method["x-amazon-apigateway-integration"]["uri"]) for path in paths.values()
            for method in path.values()}
    assert uris == {json.dumps({"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
                                           "functions/${APIHandlerAliaslive}/invocations"})}
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandlerAliaslive"}


def test_the_agent_and_the_workers_have_reserved_concurrency(template):
    for function in lambda_functions(app):
        assert template["Resources"][function.logical_id]["Properties"]["ReservedConcurrentExecutions"] >= 1


def test_data_at_rest_is_encrypted_with_keys_we_manage_under_explicit_policies(template):
    resources = template["Resources"]
    sse = resources["Table"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}}
    for key in ("DataKey", "DeviceSecretsKey"):
        statements = resources[key]["Properties"]["KeyPolicy"]["Statement"]
        assert all(s["Principal"] != "*" and s["Principal"].get("AWS") != "*" for s in statements)
        assert resources[key]["Properties"]["EnableKeyRotation"] is True
    secret = resources["SigningKey"]
    assert secret["DeletionPolicy"] == "Retain"
    assert secret["Properties"]["Name"] == stage_variables(STAGE)["SIGNING_KEY_ID"]
    assert secret["Properties"]["KmsKeyId"] == {"Ref": "DataKey"}
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert groups and all(g["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]} for g in groups)
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}


def test_alarms_watch_dynamodb_throttling_and_rollup_lag(template):
    alarms = {name: r["Properties"] for name, r in template["Resources"].items()
              if r["Type"] == "AWS::CloudWatch::Alarm"}
    table = stage_variables(STAGE)["TABLE_NAME"]
    for kind in ("Read", "Write"):
        assert alarms[f"Table{kind}ThrottleAlarm"]["MetricName"] == f"{kind}ThrottleEvents"
        assert alarms[f"Table{kind}ThrottleAlarm"]["Dimensions"] == [{"Name": "TableName", "Value": table}]
    for index in schema.table_definition(table)["GlobalSecondaryIndexes"]:
        assert alarms[f"{index['IndexName']}WriteThrottleAlarm"]["Namespace"] == "AWS/DynamoDB"
    lag = alarms["RollupLagAlarm"]
    assert (lag["Namespace"], lag["MetricName"]) == (NAMESPACE, ROLLUP_LAG)
    assert lag["TreatMissingData"] == "breaching"      # no run reporting is lag too
