"""The deployment takes the table, queues, functions and policies from the same declarations as tests and make run."""
import json
from pathlib import Path

import pytest

from app import app
from chalicelib.operations import queue
from chalicelib.rollups import lanes
from chalicelib.store import schema
from infra.build_template import AGENT, CONSUMERS, merge_template
from infra.functions import Function, lambda_functions
from infra.policy import DEFAULT_SCHEDULE, DOCS_PATH, documented, expected_files, grants_for, stage_variables

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_merge_template_declares_the_table_of_store_schema_with_ttl_and_recovery(stage):
    table = merge_template(stage, app)["Resources"]["Table"]["Properties"]
    assert {k: v for k, v in table.items() if k in schema.table_definition("x")} == \
        schema.table_definition(stage_variables(stage)["TABLE_NAME"])
    assert table["TimeToLiveSpecification"] == {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_merge_template_declares_the_fifo_queue_with_its_dead_letter_redrive():
    resources = merge_template("prod", app)["Resources"]
    properties = resources["OperationsQueue"]["Properties"]
    assert properties["QueueName"] == stage_variables("prod")["OPERATIONS_QUEUE_NAME"]
    assert properties["FifoQueue"] is True
    assert properties["VisibilityTimeout"] == queue.VISIBILITY_TIMEOUT_SECONDS
    assert properties["RedrivePolicy"]["maxReceiveCount"] == queue.MAX_RECEIVES
    assert resources["OperationsDeadLetterQueue"]["Properties"]["QueueName"].endswith("-dlq.fifo")


def test_each_queue_consumer_reports_partial_batch_failures():
    # Chalice names the function's logical id after the handler, in CamelCase.
    consumers = {f.logical_id for f in lambda_functions(app) if f.kind == "queue"}
    assert consumers == set(CONSUMERS) and AGENT in consumers
    for consumer, queue_resource in CONSUMERS.items():
        function = merge_template("dev", app)["Resources"][consumer]
        source = function["Properties"]["Events"][f"{consumer}SqsEventSource"]["Properties"]
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert queue_resource in function["DependsOn"]



def test_merge_template_declares_the_rollups_fifo_queue_with_its_dead_letter_redrive():
    resources = merge_template("prod", app)["Resources"]
    properties = resources["RollupsQueue"]["Properties"]
    assert properties["QueueName"] == stage_variables("prod")["ROLLUP_QUEUE_NAME"]
    assert properties["FifoQueue"] is True and properties["VisibilityTimeout"] == lanes.VISIBILITY_TIMEOUT_SECONDS
    assert properties["RedrivePolicy"]["maxReceiveCount"] == lanes.MAX_RECEIVES
    # High-throughput mode: SQS's send and receive limits apply per lane, not per queue (capacity.md).
    assert properties["FifoThroughputLimit"] == "perMessageGroupId"
    assert properties["DeduplicationScope"] == "messageGroup"
    assert resources["RollupsDeadLetterQueue"]["Properties"]["QueueName"].endswith("-dlq.fifo")


def test_merge_template_declares_the_bulk_queue_and_the_operations_queue_in_high_throughput_mode():
    resources = merge_template("prod", app)["Resources"]
    bulk = resources["BulkQueue"]["Properties"]
    assert bulk["QueueName"] == stage_variables("prod")["BULK_QUEUE_NAME"] and bulk["FifoQueue"] is True
    assert bulk["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]}
    operations = resources["OperationsQueue"]["Properties"]
    assert (operations["DeduplicationScope"], operations["FifoThroughputLimit"]) == ("messageGroup",
                                                                                     "perMessageGroupId")


def test_the_function_list_follows_app_py():
    functions = lambda_functions(app)
    assert functions[0] == Function("api_handler", "api")
    assert {f.name for f in functions if f.kind == "queue"} == {"operations_agent_handler", "bulk_operations_worker",
                                                                "aggregate_telemetry"}
    schedules = {source.name for source in app.event_sources if type(source).__name__ == "ScheduledEventConfig"}
    assert {f.name for f in functions if f.kind == "schedule"} == schedules
    assert "sweep_overdue_operations" in schedules
    assert len({f.logical_id for f in functions}) == len(functions)


def test_an_undeclared_schedule_gets_table_access_only_and_another_kind_of_handler_is_refused():
    assert grants_for(Function("rollup_something_new", "schedule")) == DEFAULT_SCHEDULE
    assert DEFAULT_SCHEDULE.queue == () and DEFAULT_SCHEDULE.key == ()
    with pytest.raises(KeyError, match="declare them in infra/policy.py"):
        grants_for(Function("another_queue_consumer", "queue"))


def test_committed_policy_files_and_config_are_what_infra_policy_writes():
    """A handler added to app.py without `python -m infra.policy` has no policy file: this fails."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    expected = expected_files(app, config)
    committed = {path.name: json.loads(path.read_text()) for path in (ROOT / ".chalice").glob("*.json")}
    assert sorted(committed) == sorted(expected), "run `python -m infra.policy`"
    for name, content in expected.items():
        assert committed[name] == content, f".chalice/{name} is stale: run `python -m infra.policy`"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_is_wired_to_its_own_policy_file_with_no_wildcard_resource(stage):
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    entries = config["stages"][stage]["lambda_functions"]
    for function in lambda_functions(app):
        name = entries[function.name]["iam_policy_file"]
        assert name == f"policy-{stage}-{function.name}.json"
        document = json.loads((ROOT / ".chalice" / name).read_text())
        for statement in document["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            for resource in statement["Resource"]:
                assert resource != "*"
                # Region and account are left open in files (`chalice deploy` takes them as they are; the
                # stack pins them); the resource's own name never is, but for a KMS key's generated id.
                service_resource = resource.split(":", 5)[5]
                assert service_resource.split("/")[0] != "*"
                if statement["Sid"] in ("DeviceSecrets", "DataKeyThroughItsServices"):
                    assert service_resource == "key/*" and statement["Condition"]["ForAnyValue:StringEquals"]
        logs = next(s for s in document["Statement"] if s["Sid"] == "OwnLogs")
        assert all(function.log_group(stage) in arn for arn in logs["Resource"])


def test_docs_deployment_shows_the_grants_of_every_function_as_infra_policy_declares_them():
    text = DOCS_PATH.read_text()
    assert documented(app, text) == text, "run `python -m infra.policy` to refresh docs/deployment.md"
    assert all(f"`{function.name}`" in text for function in lambda_functions(app))
