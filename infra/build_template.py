"""The --merge-template for `chalice package`: what Chalice does not declare, from the code's own declarations.

The table comes from store.schema.table_definition, the queue and its dead-letter queue from
operations/queue.py, the functions from app.py (infra/functions.py), so tests, `make run` and the
deployment share one source. On top of Chalice's template the merge:
- turns on partial batch responses for the agent's SQS event source, which Chalice cannot do (STYLE
  fact 3): the merge is deep, so the event source keeps Chalice's queue ARN and gains
  FunctionResponseTypes, and the function waits for the queue with DependsOn;
- names each function as `chalice deploy` would (fleetline-<stage>[-<handler>]), declares its log group
  (retention, and no logs:CreateLogGroup needed at run time) and makes the function wait for it;
- replaces each function's role policy (Chalice inlines .chalice/policy-<stage>-<function>.json) with the
  same statements on this stack's exact ARNs (infra/policy.py);
- adds the alarms and their SNS topic (infra/alarms.py);
- encrypts the table, the log groups and the topic with a key of ours, declares the keys with explicit policies
  and the signing secret (infra/security.py);
- throttles the API stage, writes its access logs, and turns SnapStart on for the API and agent functions
  (infra/gateway.py); each function's checkov suppressions are written here, each with its reason.
Lists replace and dicts merge, and an intrinsic cannot be swapped for another (the two keys would merge).
Run: `python -m infra.build_template <stage> <out.json>` (`make package` does).

`python -m infra.build_template --beside-chalice-deploy <stage> <out.json>` writes instead a stack of its own
for `chalice deploy`, which makes the functions, API and schedules but nothing else: the same table,
queues, key, log groups and alarms, the functions named by the names `chalice deploy` gives them.
"""
import json
import sys
from pathlib import Path

from chalicelib.bulk import queue as bulk_queue
from chalicelib.operations import queue
from chalicelib.rollups import lanes
from chalicelib.store import schema
from infra import alarms, gateway, security
from infra.functions import lambda_functions
from infra.policy import CONFIG_PATH, StackArns, policy, stage_variables
from infra.security import skip

AGENT = "OperationsAgentHandler"   # Chalice's logical id for the operations_agent_handler function
BULK_WORKER = "BulkOperationsWorker"
ROLLUPS_WORKER = "AggregateTelemetry"   # aggregate_telemetry, the rollups queue's consumer
# Each queue consumer's logical id -> the queue it waits for (partial batch responses on all).
CONSUMERS = {AGENT: "OperationsQueue", BULK_WORKER: "BulkQueue", ROLLUPS_WORKER: "RollupsQueue"}
LOG_RETENTION_DAYS = {"prod": 90, "dev": 14}
# Said outright (cfn-lint I3011 asks): queues and logs go with the stack. A queued message only points at an
# operation whose state lives in the table, and a kept log group would block re-creating the stack.
TRANSIENT = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
SQS_MANAGED_KEYS = ("Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled), which checkov does not "
                    "recognise; a message names an operation and a device, never a secret, and a KMS key would "
                    "add a KMS call to every send and every batch.")
# checkov's advice that every function follows elsewhere, or that does not fit (infra/security.skip).
FUNCTION_SKIPS = {
    "CKV_AWS_116": "No dead-letter queue for asynchronous invocations: the API is invoked synchronously, the agent "
                   "by its SQS event source (the queue has its own DLQ), and a failed schedule run is redone by the "
                   "next one (every 1 to 5 minutes) and raises the function's errors alarm.",
    "CKV_AWS_117": "Not in a VPC: the functions call only AWS APIs (DynamoDB, SQS, KMS, Secrets Manager) over TLS "
                   "with IAM, and the GenieACS NBI over HTTPS; a VPC would add NAT or endpoints and cold-start time.",
    "CKV_AWS_173": "The environment holds names only (table, queue, key alias, secret name), never a secret: the "
                   "signing key is read from Secrets Manager, device passwords are KMS ciphertexts in the table.",
}


def merge_template(stage: str, app=None) -> dict:
    if app is None:
        from app import app
    names = stage_variables(stage)
    api_stage = json.loads(CONFIG_PATH.read_text())["stages"][stage].get("api_gateway_stage", "api")
    api_name = f"fleetline-{stage}"
    functions = lambda_functions(app)
    resources = {
        **stateful_resources(names),
        "RestAPI": gateway.rest_api(stage, api_name, app.routes),
        **gateway.edge_resources(stage, LOG_RETENTION_DAYS.get(stage, 30)),
        **alarms.alarm_resources(stage, functions, api_name, api_stage, names["TABLE_NAME"]),
    }
    for function in functions:
        log_group = f"{function.logical_id}LogGroup"
        resources[log_group] = _log_group(stage, function)
        resources[function.logical_id] = gateway.function_merge(function, FUNCTION_SKIPS)
        resources[function.logical_id]["DependsOn"] = [log_group]
        resources[function.logical_id]["Properties"]["FunctionName"] = function.deployed_name(stage)
        resources[function.role_logical_id] = {"Properties": {"Policies": [{
            "PolicyName": f"{function.role_logical_id}Policy",
            "PolicyDocument": policy(stage, function, StackArns())}]}}
    for consumer, queue_resource in CONSUMERS.items():
        if consumer in resources:
            resources[consumer]["DependsOn"].append(queue_resource)
            resources[consumer]["Properties"]["Events"] = {f"{consumer}SqsEventSource": {
                "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}}
    return {
        "Description": f"Fleetline, stage {stage}: API, operations agent, schedules, table, queues, key, alarms.",
        "Parameters": alarms.PARAMETERS,
        "Conditions": alarms.CONDITIONS,
        "Resources": resources,
        "Outputs": {
            "TableName": {"Value": {"Ref": "Table"}},
            "OperationsQueueUrl": {"Value": {"Ref": "OperationsQueue"}},
            "OperationsDeadLetterQueueUrl": {"Value": {"Ref": "OperationsDeadLetterQueue"}},
            "RollupsQueueUrl": {"Value": {"Ref": "RollupsQueue"}},
            "BulkQueueUrl": {"Value": {"Ref": "BulkQueue"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        },
    }


def beside_chalice_deploy(stage: str, app=None) -> dict:
    """A stack of what `chalice deploy --stage <stage>` does not make, to deploy before it (README, Deploying)."""
    if app is None:
        from app import app
    functions = lambda_functions(app)
    api_stage = json.loads(CONFIG_PATH.read_text())["stages"][stage].get("api_gateway_stage", "api")
    resources = stateful_resources(stage_variables(stage))
    for function in functions:
        resources[f"{function.logical_id}LogGroup"] = _log_group(stage, function)
    # chalice deploy imports the API from its swagger document, whose title is the app's name.
    resources |= alarms.alarm_resources(stage, functions, "fleetline", api_stage, stage_variables(stage)["TABLE_NAME"],
                                        function_name=lambda function: function.deployed_name(stage))
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"Fleetline, stage {stage}: what `chalice deploy` does not make (data, logs, alarms).",
            "Parameters": alarms.PARAMETERS, "Conditions": alarms.CONDITIONS, "Resources": resources,
            "Outputs": {"TableName": {"Value": {"Ref": "Table"}},
                        "OperationsDeadLetterQueueUrl": {"Value": {"Ref": "OperationsDeadLetterQueue"}},
                        "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}}}}


def _log_group(stage: str, function) -> dict:
    return {"Type": "AWS::Logs::LogGroup", **TRANSIENT, "Properties": {
        "LogGroupName": function.log_group(stage), "RetentionInDays": LOG_RETENTION_DAYS.get(stage, 30),
        "KmsKeyId": {"Fn::GetAtt": ["DataKey", "Arn"]}}}


def stateful_resources(names: dict) -> dict:
    """The table (encrypted with the DataKey), the operations, bulk and rollups queues with their dead-letter queues
    (encrypted by SQS: a message names an operation or a record, never a secret), the keys and the signing
    secret."""
    table = security.encrypted_table(schema.table_definition(names["TABLE_NAME"]))
    return {
        "Table": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                  "Properties": {**table,
                                 "TimeToLiveSpecification": {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True},
                                 "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}},
        **_fifo_queue("Operations", names["OPERATIONS_QUEUE_NAME"], queue),
        **_fifo_queue("Bulk", names["BULK_QUEUE_NAME"], bulk_queue),
        # The rollups' lanes (chalicelib/rollups/lanes.py): what waits here is also in the table's pending logs or
        # is a tick the schedule sends again, so the queues go with the stack.
        **_fifo_queue("Rollups", names["ROLLUP_QUEUE_NAME"], lanes),
        **security.key_resources(names),
    }


def _fifo_queue(prefix: str, name: str, declared) -> dict:
    """<prefix>Queue and <prefix>DeadLetterQueue as `declared` (the module that sends to it) creates them locally."""
    dead_letter = f"{prefix}DeadLetterQueue"
    attributes = {k: v for k, v in declared.queue_attributes("").items() if k != "RedrivePolicy"}
    return {
        dead_letter: skip({"Type": "AWS::SQS::Queue", **TRANSIENT, "Properties": {
            "QueueName": declared.dead_letter_queue_name(name), "SqsManagedSseEnabled": True,
            **_cfn(declared.dead_letter_attributes())}}, CKV_AWS_27=SQS_MANAGED_KEYS),
        f"{prefix}Queue": skip({"Type": "AWS::SQS::Queue", **TRANSIENT, "Properties": {
            "QueueName": name, "SqsManagedSseEnabled": True, **_cfn(attributes),
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dead_letter, "Arn"]},
                              "maxReceiveCount": declared.MAX_RECEIVES}}}, CKV_AWS_27=SQS_MANAGED_KEYS),
    }


def _cfn(attributes: dict[str, str]) -> dict:
    """SQS API attribute strings as CloudFormation property values."""
    return {name: (value == "true") if value in ("true", "false") else int(value) if value.isdigit() else value
            for name, value in attributes.items()}


if __name__ == "__main__":
    beside = "--beside-chalice-deploy" in sys.argv
    stage, out = [arg for arg in sys.argv[1:] if arg != "--beside-chalice-deploy"]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(beside_chalice_deploy(stage) if beside else merge_template(stage), indent=2) + "\n")
