"""The deployment takes the table, queues and policy from the same declarations as tests and make run."""
import json
from pathlib import Path

import pytest

from app import app
from chalicelib.operations import queue
from chalicelib.store import schema
from infra.build_template import AGENT, merge_template
from infra.policy import policy, stage_variables

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_merge_template_declares_the_table_of_store_schema_with_ttl_and_recovery(stage):
    table = merge_template(stage)["Resources"]["Table"]["Properties"]
    assert {k: v for k, v in table.items() if k in schema.table_definition("x")} == \
        schema.table_definition(stage_variables(stage)["TABLE_NAME"])
    assert table["TimeToLiveSpecification"] == {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_merge_template_declares_the_fifo_queue_with_its_dead_letter_redrive():
    resources = merge_template("prod")["Resources"]
    properties = resources["OperationsQueue"]["Properties"]
    assert properties["QueueName"] == stage_variables("prod")["OPERATIONS_QUEUE_NAME"]
    assert properties["FifoQueue"] is True
    assert properties["VisibilityTimeout"] == queue.VISIBILITY_TIMEOUT_SECONDS
    assert properties["RedrivePolicy"]["maxReceiveCount"] == queue.MAX_RECEIVES
    assert resources["OperationsDeadLetterQueue"]["Properties"]["QueueName"].endswith("-dlq.fifo")


def test_the_agent_event_source_reports_partial_batch_failures():
    # Chalice names the function's logical id after the handler, in CamelCase.
    handler = next(name for name in app.handler_map if name == "operations_agent_handler")
    assert AGENT == "".join(part.title() for part in handler.split("_"))
    agent = merge_template("dev")["Resources"][AGENT]
    source = agent["Properties"]["Events"][f"{AGENT}SqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert agent["DependsOn"] == ["OperationsQueue"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_committed_policy_files_are_what_infra_policy_writes(stage):
    committed = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    assert committed == policy(stage)
    table_arns = committed["Statement"][0]["Resource"]
    assert all(stage_variables(stage)["TABLE_NAME"] in arn for arn in table_arns)
