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
        "# Administration, as the platform admin:",
        curl(platform, "/admin/organizations/"),
        curl(platform, "/admin/device_types/"),
        curl(platform, "/admin/firmware_images/"),
        curl(platform, "/admin/tokens/"),
    ])
