"""The IAM policy the Lambdas run with, from the same names the stage declares (no `*` where a name is known).

`autogen_policy` is off: Chalice's generated policy misses every call made from chalicelib/ (STYLE fact 10).
Written to .chalice/policy-<stage>.json by `python -m infra.policy <stage>`; `make package` runs it.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stage_variables(stage: str) -> dict:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage]["environment_variables"]}


def policy(stage: str) -> dict:
    names = stage_variables(stage)
    table = f"arn:aws:dynamodb:*:*:table/{names['TABLE_NAME']}"
    queue_name = names["OPERATIONS_QUEUE_NAME"]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Table", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                    "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"],
         "Resource": [table, f"{table}/index/*"]},
        {"Sid": "OperationsQueue", "Effect": "Allow",
         "Action": ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
         "Resource": f"arn:aws:sqs:*:*:{queue_name}"},
        {"Sid": "DeviceSecrets", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
         "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "device-password"}}},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "arn:aws:logs:*:*:*"},
    ]}


if __name__ == "__main__":
    stage = sys.argv[1] if len(sys.argv) > 1 else "dev"
    (ROOT / ".chalice" / f"policy-{stage}.json").write_text(json.dumps(policy(stage), indent=2) + "\n")
