"""A first end-to-end bulk reboot: created, expanded, paced, every device's operation carried out, completed."""
from tests.bulk.conftest import rollout


def test_bulk_reboot_of_an_organization_completes_with_exact_progress(fleet, rollouts):
    devices = [fleet.device() for _ in range(6)]

    created = rollouts.start(rollout(fleet))
    assert created["state"] == "scheduled"

    done = rollouts.run(created["id"])

    assert done["state"] == "completed", done
    assert done["target_count"] == 6
    assert done["progress"] == {"pending": 0, "queued": 0, "dispatched": 0, "succeeded": 6, "failed": 0,
                                "timed_out": 0, "cancelled": 0, "skipped": 0}
    for device in devices:
        [operation] = fleet.operations(device["id"])
        assert (operation["operation"], operation["state"], operation["bulk_operation_id"]) == (
            "reboot", "succeeded", created["id"])


def test_the_bulk_queue_is_fifo_and_the_worker_timeout_is_explicit_and_fits_a_round(client):
    import json
    from pathlib import Path

    from chalicelib.bulk import queue as bulk_queue
    from chalicelib.bulk import worker
    from tests.operations.conftest import sqs

    attributes = sqs().get_queue_attributes(QueueUrl=bulk_queue.queue_url(), AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["VisibilityTimeout"] == str(bulk_queue.VISIBILITY_TIMEOUT_SECONDS)
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == bulk_queue.MAX_RECEIVES
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    timeouts = {stage["lambda_functions"]["bulk_operations_worker"]["lambda_timeout"]
                for stage in config["stages"].values()}
    assert timeouts == {bulk_queue.WORKER_TIMEOUT_SECONDS}
    assert worker.ROUND_SECONDS + worker.RESERVE_SECONDS <= bulk_queue.WORKER_TIMEOUT_SECONDS
