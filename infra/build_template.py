"""The --merge-template for `chalice package`: what Chalice does not declare, from the code's own declarations.

The table comes from store.schema.table_definition, the queue and its dead-letter queue from
operations/queue.py, so tests, `make run` and the deployment share one source. The merge also turns on
partial batch responses for the agent's SQS event source, which Chalice cannot do (STYLE fact 3): the
merge is deep, so the event source keeps Chalice's queue ARN and gains FunctionResponseTypes, and the
function waits for the queue with DependsOn.
Run: `python -m infra.build_template <stage> <out.json>` (`make package` does).
"""
import json
import sys
from pathlib import Path

from chalicelib.operations import queue
from chalicelib.store import schema
from infra.policy import stage_variables

AGENT = "OperationsAgentHandler"   # Chalice's logical id for the operations_agent_handler function


def merge_template(stage: str) -> dict:
    names = stage_variables(stage)
    table = schema.table_definition(names["TABLE_NAME"])
    queue_name = names["OPERATIONS_QUEUE_NAME"]
    return {"Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                  "Properties": {**table,
                                 "TimeToLiveSpecification": {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True},
                                 "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}},
        "OperationsDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": queue.dead_letter_queue_name(queue_name), **_cfn(queue.dead_letter_attributes())}},
        "OperationsQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": queue_name,
            **_cfn({k: v for k, v in queue.queue_attributes("").items() if k != "RedrivePolicy"}),
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["OperationsDeadLetterQueue", "Arn"]},
                              "maxReceiveCount": queue.MAX_RECEIVES}}},
        "DeviceSecretsKey": {"Type": "AWS::KMS::Key", "Properties": {
            "Description": "Fleetline device passwords", "EnableKeyRotation": True}},
        "DeviceSecretsAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": names["KMS_KEY_ID"], "TargetKeyId": {"Ref": "DeviceSecretsKey"}}},
        AGENT: {"DependsOn": ["OperationsQueue"], "Properties": {"Events": {f"{AGENT}SqsEventSource": {
            "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}}}},
    }}


def _cfn(attributes: dict[str, str]) -> dict:
    """SQS API attribute strings as CloudFormation property values."""
    return {name: (value == "true") if value in ("true", "false") else int(value) for name, value in attributes.items()}


if __name__ == "__main__":
    stage, out = sys.argv[1], Path(sys.argv[2])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
