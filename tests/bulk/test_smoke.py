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
