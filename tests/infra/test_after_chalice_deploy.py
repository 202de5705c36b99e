"""After `chalice deploy`, the agent's event source mapping is given partial batch responses, once."""
import io
import json
import zipfile

import pytest

from app import app
from chalicelib import aws
from infra.after_chalice_deploy import enable_partial_batch_responses
from infra.build_template import beside_chalice_deploy
from infra.functions import lambda_functions

AGENT = "fleetline-prod-operations_agent_handler"
QUEUES = {"operations_agent_handler": "fleetline-prod-operations.fifo",
          "bulk_operations_worker": "fleetline-prod-bulk.fifo", "aggregate_telemetry": "fleetline-prod-rollups.fifo"}


def _deployed_consumers() -> list[str]:
    """The queue handlers as `chalice deploy` leaves them: functions and mappings without FunctionResponseTypes."""
    role = aws.client("iam").create_role(RoleName="agent", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "")
    mappings = []
    for function in (f for f in lambda_functions(app) if f.kind == "queue"):
        name = function.deployed_name("prod")
        aws.client("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                             Handler=f"app.{function.name}", Code={"ZipFile": code.getvalue()})
        sqs = aws.client("sqs")
        url = sqs.create_queue(QueueName=QUEUES[function.name], Attributes={"FifoQueue": "true"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        mappings.append(aws.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                                                         BatchSize=1)["UUID"])
    return mappings


def test_the_agent_mapping_reports_partial_batch_failures_after_the_step_and_a_rerun_changes_nothing(moto):
    mappings = _deployed_consumers()

    assert sorted(enable_partial_batch_responses("prod", app)) == sorted(mappings)

    for function in (f for f in lambda_functions(app) if f.kind == "queue"):
        [stored] = aws.client("lambda").list_event_source_mappings(
            FunctionName=function.deployed_name("prod"))["EventSourceMappings"]
        assert stored["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert enable_partial_batch_responses("prod", app) == []


def test_the_step_refuses_a_stage_that_was_not_deployed(moto):
    with pytest.raises(LookupError, match="no event source mapping"):
        enable_partial_batch_responses("prod", app)


def test_the_stack_beside_chalice_deploy_names_the_functions_as_chalice_deploy_does():
    template = beside_chalice_deploy("prod", app)
    resources = template["Resources"]
    assert {"Table", "OperationsQueue", "OperationsDeadLetterQueue", "DeviceSecretsKey", "AlarmTopic"} <= set(
        resources)
    for function in lambda_functions(app):
        errors = resources[f"{function.logical_id}ErrorsAlarm"]["Properties"]
        assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": function.deployed_name("prod")}]
        assert resources[f"{function.logical_id}LogGroup"]["Properties"]["LogGroupName"] == \
            function.log_group("prod")
    assert "Fn::Sub" not in json.dumps(resources["ApiServerErrorsAlarm"])
