"""After `chalice deploy --stage <stage>`: turn on partial batch responses for every SQS handler's mapping.

`chalice deploy` makes the agent's event source mapping without `ReportBatchItemFailures` (STYLE fact 3),
and then Lambda ignores the agent's `batchItemFailures` answer: a batch with a failed message counts as a
success and the failed message is deleted, never retried. `chalice package` stacks get it from the merge
template; a `chalice deploy` needs this step, after every deploy (it is idempotent and changes nothing else).

    AWS_DEFAULT_REGION=eu-west-1 .venv/bin/python -m infra.after_chalice_deploy prod
"""
import sys

from chalicelib import aws
from infra.functions import lambda_functions

RESPONSE_TYPES = ["ReportBatchItemFailures"]


def enable_partial_batch_responses(stage: str, app) -> list[str]:
    """The UUIDs of the mappings changed; raises LookupError when a queue handler has no mapping (not deployed?)."""
    client = aws.client("lambda")
    changed = []
    for function in lambda_functions(app):
        if function.kind != "queue":
            continue
        mappings = client.list_event_source_mappings(FunctionName=function.deployed_name(stage))[
            "EventSourceMappings"]
        if not mappings:
            raise LookupError(f"{function.deployed_name(stage)} has no event source mapping: deployed?")
        for mapping in mappings:
            if mapping.get("FunctionResponseTypes") != RESPONSE_TYPES:
                client.update_event_source_mapping(UUID=mapping["UUID"], FunctionResponseTypes=RESPONSE_TYPES)
                changed.append(mapping["UUID"])
    return changed


if __name__ == "__main__":
    from app import app

    try:
        changed = enable_partial_batch_responses(sys.argv[1], app)
    except LookupError as error:
        print(f"after_chalice_deploy: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"partial batch responses on; {len(changed)} mapping(s) changed", file=sys.stderr)
