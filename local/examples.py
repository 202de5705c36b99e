"""Ready-to-paste curl commands for the running demo, with its real tokens and ids."""
import json
import shlex

from local.demo import DemoFleet


def curl_examples(base_url: str, fleet: DemoFleet) -> str:
    """One block of commands: device reads and writes as an organization admin, a viewer refused, admin lists."""
    organization_id, device_ids = next((org, ids) for org, ids in fleet.devices.items() if ids)
    tokens = fleet.tokens["organizations"][str(organization_id)]
    admin, viewer, platform = tokens["admin"], tokens["viewer"], fleet.tokens["platform_admin"]
    device_id = device_ids[0]
    type_id = next(iter(fleet.device_types.values()))
    new_device = {"name": "lab-rtr-001", "serial_number": "LAB-0001", "type": type_id,
                  "organization_id": organization_id, "mac_address": "02:00:00:AB:CD:01", "address": "192.0.2.10"}

    def curl(token: str, path: str, method: str = "GET", body: dict | None = None) -> str:
        parts = ["curl -s"]
        if method != "GET":
            parts.append(f"-X {method}")
        parts.append(f"-H 'Authorization: Bearer {token}'")
        if body is not None:
            parts.append(f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}")
        parts.append(shlex.quote(f"{base_url}{path}"))
        return " ".join(parts)

    return "\n".join([
        f"# Devices of organization {organization_id}, as its admin (Up only, 5 per page):",
        curl(admin, "/inventory_device/?status=1&limit=5"),
        "# One device (the ETag header is what If-Match takes):",
        curl(admin, f"/inventory_device/{device_id}/"),
        "# Create a device:",
        curl(admin, "/inventory_device/", "POST", new_device),
        "# Change a field:",
        curl(admin, f"/inventory_device/{device_id}/", "PATCH", {"description": "Checked on site"}),
        "# Its audit trail:",
        curl(admin, f"/audit_log/?device_id={device_id}"),
        "# The organization's read-only token may not write (403):",
        curl(viewer, f"/inventory_device/{device_id}/", "PATCH", {"description": "nope"}),
        *bulk_examples(curl, fleet),
        "# Administration, as the platform admin:",
        curl(platform, "/admin/organizations/"),
        curl(platform, "/admin/device_types/"),
        curl(platform, "/admin/firmware_images/"),
        curl(platform, "/admin/tokens/"),
    ])


def bulk_examples(curl, fleet: DemoFleet) -> list[str]:
    """A paced bulk reboot with a ramp; and one of the organization whose reboots fail 30% of the time, which its
    abort threshold stops (API.md §11)."""
    from local.demo import FLAKY_ORGANIZATION, FLAKY_REBOOT_SHARE

    organization_id = next(org for org, ids in fleet.devices.items() if ids)
    admin = fleet.tokens["organizations"][str(organization_id)]["admin"]
    flaky = fleet.organizations[FLAKY_ORGANIZATION]
    flaky_admin = fleet.tokens["organizations"][str(flaky)]["admin"]
    paced = {"operation": "reboot", "target": {"status": 1},
             "rollout": {"max_per_minute": 60, "ramp": {"base_per_minute": 6, "increment_factor": 2,
                                                        "every_succeeded": 10}},
             "abort": {"failure_threshold_percent": 20, "min_finished": 10}}
    return [
        f"# A bulk reboot of organization {organization_id}'s Up devices, paced: 6 a minute, doubling after each 10 "
        "successes, at most 60 (answers 202 at once; the background expands and paces it):",
        curl(admin, "/bulk_operations/", "POST", paced),
        "# Its progress, and its devices (take the id from the answer above):",
        curl(admin, "/bulk_operations/1/"),
        curl(admin, "/bulk_operations/1/devices/?state=failed"),
        f"# {FLAKY_ORGANIZATION} ({flaky}): the simulator fails {FLAKY_REBOOT_SHARE:.0%} of its devices' reboots. "
        "A bulk reboot with a 20% abort threshold aborts within a minute and cancels the rest:",
        curl(flaky_admin, "/bulk_operations/", "POST", {
            "operation": "reboot", "target": {"organization_id": flaky}, "rollout": {"max_per_minute": 60},
            "abort": {"failure_threshold_percent": 20, "min_finished": 10}}),
        "# Pause, resume or cancel one:",
        curl(admin, "/bulk_operations/1/pause/", "POST"),
    ]
