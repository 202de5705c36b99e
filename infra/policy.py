"""One IAM policy per Lambda: the actions its code calls, on the resources the stage names (docs/deployment.md).

`autogen_policy` is off: Chalice's generated policy misses every call made from chalicelib/ (STYLE fact 10),
and one policy for all functions would let the schedules send to the queue and the agent encrypt secrets.
Each function's grants are declared in GRANTS from what its code calls (grep `aws.client(` / `aws.dynamodb()`);
tests/infra/test_least_privilege.py runs every handler under moto, records each AWS request it makes and
checks that the function's own policy allows it, so a grant missing here fails a test, not a deployment.

A scheduled handler nobody declared gets DEFAULT_SCHEDULE (reads and writes on the table, nothing else);
any other new kind of handler must be declared. `python -m infra.policy` writes
.chalice/policy-<stage>-<function>.json for every stage and function and points each function's
`iam_policy_file` at it in .chalice/config.json (`chalice deploy` reads those), and refreshes the grants
table in docs/deployment.md. `chalice package` inlines the same files; infra/build_template.py then swaps
in the same statements with the stack's exact ARNs.
"""
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.functions import Function, lambda_functions
from infra.security import data_key_alias

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
CONFIG_PATH = CHALICE_DIR / "config.json"
DOCS_PATH = ROOT / "docs" / "deployment.md"
TABLE_START, TABLE_END = "<!-- grants table: python -m infra.policy -->", "<!-- end of grants table -->"

# TransactWriteItems has no action of its own: IAM checks each item's Put/Update/Delete/ConditionCheck.
TABLE_READS = ("dynamodb:GetItem", "dynamodb:Query")
TABLE_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem")


@dataclass(frozen=True)
class Grants:
    table: tuple[str, ...] = ()
    queue: tuple[str, ...] = ()
    key: tuple[str, ...] = ()       # the device-secrets key
    secret: tuple[str, ...] = ()    # the signing key's secret (chalicelib/signing.py)
    bulk_queue: tuple[str, ...] = ()   # the bulk operations' round queue
    rollups: tuple[str, ...] = ()      # the rollups' queue (chalicelib/rollups/lanes.py)


GRANTS: dict[str, Grants] = {
    # Routes: every item action (DeleteItem for device deletes and powertools' idempotency records,
    # BatchWriteItem for the cascade delete and telemetry, BatchGetItem for telemetry's devices and
    # de-duplication guards, ConditionCheckItem for guards in transactions); the
    # producer's two SQS calls; KMS Encrypt for device passwords (nothing in the API decrypts them); the
    # signing key, which authenticates every token.
    "api_handler": Grants(
        table=(*TABLE_READS, *TABLE_WRITES, "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
               "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"),
        queue=("sqs:SendMessage", "sqs:GetQueueUrl"), key=("kms:Encrypt",), secret=("secretsmanager:GetSecretValue",),
        bulk_queue=("sqs:SendMessage", "sqs:GetQueueUrl"),
        # Ingest announces its records and DELETE its purges; POST /admin/rollups/ also consumes, joining the work.
        rollups=("sqs:SendMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                 "sqs:ChangeMessageVisibility")),
    # The agent: reads by key and transitions in transactions (no Query); its event source mapping,
    # which runs with the function's role, receives, deletes and reads the queue's attributes; the agent
    # itself changes visibility (backoff, releasing skipped messages) after one GetQueueUrl. The GenieACS
    # driver talks HTTP to the ACS, which holds the devices' CWMP credentials: no KMS.
    # After its batch, it adds bulk operations' results to their progress (UpdateItem), reads their threshold
    # (BatchGetItem) and, on an abort, asks for a bulk round at once.
    "operations_agent_handler": Grants(
        table=("dynamodb:GetItem", *TABLE_WRITES, "dynamodb:BatchGetItem"),
        queue=("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
               "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"),
        bulk_queue=("sqs:SendMessage", "sqs:GetQueueUrl")),
    # The sweep times operations out in the table (GSI3 query, transitions) and sends again, to the operations
    # queue, those no agent picked up (GSI2 query; SendMessageBatch is authorized as SendMessage); bulk progress
    # as the agent.
    "sweep_overdue_operations": Grants(table=(*TABLE_READS, *TABLE_WRITES, "dynamodb:BatchGetItem"),
                                       queue=("sqs:SendMessage", "sqs:GetQueueUrl"),
                                       bulk_queue=("sqs:SendMessage", "sqs:GetQueueUrl")),
    # Bulk rounds: read the target's devices (Query, BatchGetItem), write targets (BatchWriteItem) and each
    # device's turn (transactions), send operations to the agent, consume their own queue and ask for the next
    # round; the event source mapping receives, deletes and reads attributes with this role.
    "bulk_operations_worker": Grants(
        table=(*TABLE_READS, *TABLE_WRITES, "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
               "dynamodb:ConditionCheckItem"),
        queue=("sqs:SendMessage", "sqs:GetQueueUrl"),
        bulk_queue=("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility", "sqs:SendMessage", "sqs:GetQueueUrl")),
    # Finds bulk operations whose round stalled (GSI3 query) and asks for it again.
    "revive_bulk_operations": Grants(table=TABLE_READS, bulk_queue=("sqs:SendMessage", "sqs:GetQueueUrl")),
    # The rollups' schedule reads the audit trail (GSI2) and its watermark, reads the lanes' states, and sends the
    # lanes their device changes and ticks.
    "roll_up_telemetry": Grants(table=(*TABLE_READS, "dynamodb:UpdateItem"), rollups=("sqs:SendMessage",
                                                                                      "sqs:GetQueueUrl")),
    # The rollups' worker: units read and write the table in batches (no DeleteItem: deletes go in BatchWriteItem);
    # its event source mapping receives, deletes and reads the queue's attributes with the function's role; it sends
    # its own lane a tick when a backlog outlasts its time.
    "aggregate_telemetry": Grants(
        table=(*TABLE_READS, *TABLE_WRITES, "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"),
        rollups=("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage",
                 "sqs:GetQueueUrl")),
}
# Any other schedule (health checks, rollups): reads, writes, transactions guarded by a ConditionCheck
# (the device still exists) and batch writes (IAM has one action for batch puts and deletes); no DeleteItem,
# no queue, no key.
DEFAULT_SCHEDULE = Grants(table=(*TABLE_READS, *TABLE_WRITES, "dynamodb:ConditionCheckItem",
                                 "dynamodb:BatchWriteItem"))
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
PASSWORD_CONTEXT = {"kms:EncryptionContext:purpose": "device-password"}
# The table and the signing secret are encrypted with the data key (infra/security.py): a function uses it only
# through the service that holds the data, never directly.
DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")


def grants_for(function: Function) -> Grants:
    """Raises KeyError for a handler that is neither declared nor a schedule (it needs a decision)."""
    if function.name in GRANTS:
        return GRANTS[function.name]
    if function.kind == "schedule":
        return DEFAULT_SCHEDULE
    raise KeyError(f"{function.kind} handler {function.name!r} has no grants: declare them in infra/policy.py")


def stage_variables(stage: str) -> dict:
    config = json.loads(CONFIG_PATH.read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage]["environment_variables"]}


class FileArns:
    """ARNs for a policy file, valid in any account and region (`chalice deploy` takes files as they are)."""

    def arn(self, service: str, resource: str):
        return f"arn:aws:{service}:*:*:{resource}"

    def key(self, alias: str, logical_id: str = "DeviceSecretsKey") -> tuple[object, dict]:
        # The key's id is made by KMS, so a file cannot name it: any key of the account, while it has the alias.
        return self.arn("kms", "key/*"), {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}

    def secret(self, name: str):
        # Secrets Manager ends a secret's ARN with six characters of its own.
        return self.arn("secretsmanager", f"secret:{name}-??????")

    def via(self, service: str) -> str:
        return f"{service}.*.amazonaws.com"


class StackArns:
    """ARNs for the packaged stack: this account and region, the key by reference."""

    def arn(self, service: str, resource: str):
        return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}

    def key(self, alias: str, logical_id: str = "DeviceSecretsKey") -> tuple[object, dict]:
        return {"Fn::GetAtt": [logical_id, "Arn"]}, {}

    def secret(self, name: str):
        return {"Ref": "SigningKey"}

    def via(self, service: str):
        return {"Fn::Sub": f"{service}.${{AWS::Region}}.amazonaws.com"}


def policy(stage: str, function: Function, arns=None) -> dict:
    """The policy document of one function in one stage."""
    arns = arns or FileArns()
    names = stage_variables(stage)
    grants = grants_for(function)
    statements = []
    if grants.table:
        table = f"table/{names['TABLE_NAME']}"
        # Only a Query can name an index; every other action is on the table itself.
        resources = [arns.arn("dynamodb", table)]
        if "dynamodb:Query" in grants.table:
            resources.append(arns.arn("dynamodb", f"{table}/index/*"))
        statements.append(_statement("Table", grants.table, resources))
    queue_name = names["OPERATIONS_QUEUE_NAME"]
    if grants.queue:
        statements.append(_statement("OperationsQueue", grants.queue, [arns.arn("sqs", queue_name)]))
    if grants.bulk_queue:
        statements.append(_statement("BulkQueue", grants.bulk_queue, [arns.arn("sqs", names["BULK_QUEUE_NAME"])]))
    if grants.rollups:
        statements.append(_statement("RollupsQueue", grants.rollups, [arns.arn("sqs", names["ROLLUP_QUEUE_NAME"])]))
    if grants.key:
        key, condition = arns.key(names["KMS_KEY_ID"])
        statements.append(_statement("DeviceSecrets", grants.key, [key],
                                     {"StringEquals": PASSWORD_CONTEXT, **condition}))
    if grants.secret:
        statements.append(_statement("SigningKey", grants.secret, [arns.secret(names["SIGNING_KEY_ID"])]))
    if grants.table or grants.secret:
        key, condition = arns.key(data_key_alias(names), "DataKey")
        services = [arns.via("dynamodb")] * bool(grants.table) + [arns.via("secretsmanager")] * bool(grants.secret)
        statements.append(_statement("DataKeyThroughItsServices", DATA_KEY_ACTIONS, [key],
                                     {"StringLike": {"kms:ViaService": services}, **condition}))
    log_group = f"log-group:{function.log_group(stage)}"
    statements.append(_statement("OwnLogs", LOG_ACTIONS, [arns.arn("logs", log_group),
                                                          arns.arn("logs", f"{log_group}:*")]))
    return {"Version": "2012-10-17", "Statement": statements}


def _statement(sid: str, actions, resources: list, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def policy_file_name(stage: str, function: Function) -> str:
    return f"policy-{stage}-{function.name}.json"


def expected_files(app, config: dict) -> dict[str, dict]:
    """file name in .chalice/ -> content, for every stage and function, config.json included."""
    config = json.loads(json.dumps(config))
    files = {}
    functions = lambda_functions(app)
    for stage, stage_config in config["stages"].items():
        entries = stage_config.setdefault("lambda_functions", {})
        for name in list(entries):   # a handler that is gone keeps its other settings, not a dead policy
            if name not in {f.name for f in functions}:
                entries[name].pop("iam_policy_file", None)
                if not entries[name]:
                    del entries[name]
        for function in functions:
            files[policy_file_name(stage, function)] = policy(stage, function)
            entries.setdefault(function.name, {})["iam_policy_file"] = policy_file_name(stage, function)
    files["config.json"] = config
    return files


def documented(app, text: str) -> str:
    """docs/deployment.md's text with the grants table between its markers replaced by the current one."""
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:start] + "\n" + grants_table(app) + "\n" + text[end:]


def write_all(app) -> list[str]:
    """Write every policy file, the config entries and the docs table; remove policy files of handlers gone."""
    files = expected_files(app, json.loads(CONFIG_PATH.read_text()))
    for stale in CHALICE_DIR.glob("policy-*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, content in files.items():
        (CHALICE_DIR / name).write_text(json.dumps(content, indent=2) + "\n")
    DOCS_PATH.write_text(documented(app, DOCS_PATH.read_text()))
    return sorted(files)


def grants_table(app) -> str:
    """The grants of every function as the markdown table docs/deployment.md holds (a test compares them)."""
    def cell(actions) -> str:
        return ", ".join(a.split(":", 1)[1] for a in actions) or "—"

    rows = ["| Function (kind) | DynamoDB: the table (and its indexes, for Query) | SQS: the operations queue "
            "| SQS: the bulk queue | SQS: the rollups queue | KMS: the device-secrets key "
            "| Secrets Manager: the signing key | CloudWatch Logs |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for function in lambda_functions(app):
        grants = grants_for(function)
        default = ", default grants" if function.name not in GRANTS else ""
        rows.append(f"| `{function.name}` ({function.kind}{default}) | {cell(grants.table)} | {cell(grants.queue)} "
                    f"| {cell(grants.bulk_queue)} | {cell(grants.rollups)} | {cell(grants.key)} "
                    f"| {cell(grants.secret)} | own log group |")
    return "\n".join(rows)


if __name__ == "__main__":
    from app import app

    written = write_all(app)
    print(f"wrote {len(written)} files in .chalice/ and the grants table of {DOCS_PATH.relative_to(ROOT)}",
          file=sys.stderr)
