"""make run's demo fleet (local/demo.py): loaded through the services, its tokens scoped as tokens.json says."""
import json
import random
import stat

import pytest

from chalicelib.devices.models import DeviceCreate
from chalicelib.tokens.models import PERMISSIONS
from local.demo import DEMO_RATE_LIMIT, VIEWER_PERMISSIONS, DemoFleet, DeviceGenerator, load_demo, write_tokens
from local.demo_catalogue import DEVICE_TYPES, ORGANIZATIONS

SMALL_FLEET = 5


@pytest.fixture
def fleet(api) -> DemoFleet:
    return load_demo(devices=SMALL_FLEET, progress=False)


def _devices(api, token: str) -> dict:
    response = api.get("/inventory_device/?limit=100", token=token)
    assert response.status_code == 200, response.body
    return response.json_body


def test_tokens_file_holds_a_platform_admin_and_an_admin_and_viewer_per_organization(api, fleet, tmp_path):
    path = tmp_path / ".local" / "tokens.json"
    write_tokens(fleet, path)

    document = json.loads(path.read_text())
    platform = document["platform_admin"]
    organizations = api.get("/admin/organizations/", token=platform).json_body["results"]
    assert set(document) == {"platform_admin", "organizations"}
    assert set(document["organizations"]) == {str(o["id"]) for o in organizations}
    assert all(set(tokens) == {"admin", "viewer"} for tokens in document["organizations"].values())
    secrets = [platform] + [s for tokens in document["organizations"].values() for s in tokens.values()]
    assert len(set(secrets)) == 1 + 2 * len(ORGANIZATIONS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # live secrets: owner only

    assert [o["name"] for o in organizations] == [p.name for p in ORGANIZATIONS]
    assert _devices(api, platform)["count"] == SMALL_FLEET == sum(len(ids) for ids in fleet.devices.values())
    assert api.get("/admin/device_types/", token=platform).json_body["count"] == len(DEVICE_TYPES)
    tokens = {t["name"]: t for t in api.get("/admin/tokens/", token=platform).json_body["results"]}
    for profile in ORGANIZATIONS:
        assert tokens[f"{profile.name} admin"]["permissions"] == sorted(PERMISSIONS)
        assert tokens[f"{profile.name} viewer"]["permissions"] == sorted(VIEWER_PERMISSIONS)
    assert {t["rate_limit_per_minute"] for name, t in tokens.items() if name != "platform"} == {DEMO_RATE_LIMIT}


def test_organization_tokens_see_only_their_devices_the_viewer_reads_and_the_admin_writes(api, fleet):
    for organization_id, device_ids in fleet.devices.items():
        tokens = fleet.tokens["organizations"][str(organization_id)]
        listing = _devices(api, tokens["viewer"])
        assert device_ids, "every organization gets devices, even in a small demo"
        assert listing["count"] == len(device_ids)
        assert [d["id"] for d in listing["results"]] == device_ids
        assert {d["organization_id"] for d in listing["results"]} == {organization_id}

        refused = api.patch(f"/inventory_device/{device_ids[0]}/", {"description": "changed"}, token=tokens["viewer"])
        assert refused.status_code == 403
        assert refused.json_body["error"]["code"] == "PERMISSION_DENIED"
        assert api.get(f"/inventory_device/{device_ids[0]}/", token=tokens["viewer"]).json_body == listing["results"][0]

    (own, own_ids), (other, other_ids) = list(fleet.devices.items())[:2]
    admin = fleet.tokens["organizations"][str(own)]["admin"]
    patched = api.patch(f"/inventory_device/{own_ids[0]}/", {"description": "Checked on site"}, token=admin)
    foreign = api.get(f"/inventory_device/{other_ids[0]}/", token=admin)
    assert patched.status_code == 200, patched.body
    assert patched.json_body["description"] == "Checked on site"
    assert foreign.status_code == 404
    assert foreign.json_body["error"]["code"] == "DEVICE_NOT_FOUND"


def _generated(count: int, seed: int) -> list[tuple[int, DeviceCreate]]:
    # Ids as the load would assign them; the generator needs no table.
    fleet = DemoFleet(tokens={}, organizations={p.name: i for i, p in enumerate(ORGANIZATIONS, start=1)},
                      device_types={t.short_name: i for i, t in enumerate(DEVICE_TYPES, start=1)})
    images = {t.short_name: [(i, f"v{i}")] for i, t in enumerate(DEVICE_TYPES, start=1)}
    return list(DeviceGenerator(random.Random(seed), fleet, images).bodies(count))


def test_generated_fleet_is_the_same_for_a_seed_and_realistically_varied():
    # DeviceCreate itself validates each body: IMEI check digits, MACs, addresses, coordinates.
    first, again, other = _generated(300, seed=1), _generated(300, seed=1), _generated(300, seed=2)
    bodies = [body for _, body in first]
    identifiers = [v for b in bodies for v in (b.identifiers.model_dump(exclude_none=True).values()
                                               if b.identifiers else ())]

    assert first == again
    assert first != other
    assert len({b.serial_number for b in bodies}) == 300
    assert len({b.mac_address for b in bodies if b.mac_address}) == sum(1 for b in bodies if b.mac_address)
    assert len(set(identifiers)) == len(identifiers) > 0
    assert sum(1 for b in bodies if b.identifiers and b.identifiers.imei) > 0
    assert {b.status for b in bodies} == {"Up", "Down"}
    assert 0 < sum(1 for b in bodies if b.password) < 300
    assert {organization for organization, _ in first} == {1, 2, 3}
