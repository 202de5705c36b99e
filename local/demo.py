"""The demo fleet for `make run`, made through the real service functions.

Going through chalicelib's services (not raw table writes) gives the demo the API's own checks,
uniqueness guards, counters and audit entries. The fleet is the same for a given seed and size;
only uuids and token secrets differ between runs.
"""
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from chalicelib.device_types.models import DeviceTypeCreate
from chalicelib.device_types.service import create_device_type
from chalicelib.devices.models import DeviceCreate
from chalicelib.devices.service import create_device
from chalicelib.firmware.models import FirmwareImageCreate
from chalicelib.firmware.service import create_firmware_image
from chalicelib.observability import metrics
from chalicelib.organizations.models import OrganizationCreate
from chalicelib.organizations.service import create_organization
from chalicelib.tokens.models import PERMISSIONS, TokenCreate
from chalicelib.tokens.service import authenticate, create_token
from local.demo_catalogue import (
    DEFAULT_DEVICES,
    DEVICE_TYPES,
    FIRMWARE_IMAGES,
    NAME_WORDS,
    ORGANIZATIONS,
    OrganizationProfile,
)

DEFAULT_SEED = 2024
# High enough that clicking around and scripted curl loops never meet the 100/min default.
DEMO_RATE_LIMIT = 10_000
# Every permission that only reads: what a help-desk or dashboard token holds.
VIEWER_PERMISSIONS = ("devices:read", "diagnostics:read", "reports:read", "analytics:overview",
                      "analytics:subscriber")
# This share of one organization's devices fails every reboot (the simulated driver's per-device settings), so
# that a bulk reboot of it with a 20% abort threshold aborts and cancels the rest (the examples show it).
FLAKY_ORGANIZATION = "Harbor Smart Buildings"
FLAKY_REBOOT_SHARE = 0.3


@dataclass
class DemoFleet:
    """What was loaded: the tokens document and the ids the examples and tests refer to."""
    tokens: dict
    organizations: dict[str, int] = field(default_factory=dict)       # name -> id
    device_types: dict[str, int] = field(default_factory=dict)        # short name -> id
    devices: dict[int, list[int]] = field(default_factory=dict)       # organization id -> device ids
    failing_reboots: list[int] = field(default_factory=list)          # devices whose reboots the simulator fails


def load_demo(devices: int = DEFAULT_DEVICES, seed: int = DEFAULT_SEED, progress: bool = True) -> DemoFleet:
    """Create the demo organizations, catalogue, tokens and `devices` devices in the current table."""
    rng = random.Random(seed)
    steps = 1 + len(ORGANIZATIONS) * 3 + len(DEVICE_TYPES) + len(FIRMWARE_IMAGES) + devices
    with tqdm(total=steps, desc="Loading demo fleet", unit="item", disable=not progress) as bar:
        platform_secret = create_token(None, TokenCreate(
            name="demo platform admin", permissions=list(PERMISSIONS), rate_limit_per_minute=DEMO_RATE_LIMIT))["token"]
        platform = authenticate(platform_secret)
        fleet = DemoFleet(tokens={"platform_admin": platform_secret, "organizations": {}})
        bar.update()

        for profile in ORGANIZATIONS:
            fleet.organizations[profile.name] = create_organization(
                platform, OrganizationCreate(name=profile.name))["id"]
            bar.update()
        for kind in DEVICE_TYPES:
            fleet.device_types[kind.short_name] = create_device_type(platform, DeviceTypeCreate(
                short_name=kind.short_name, name=kind.name, category=kind.category, manufacturer=kind.manufacturer,
                product_class=kind.product_class, diagnostic_helper=kind.diagnostic_helper))["id"]
            bar.update()
        images: dict[str, list[tuple[int, str]]] = {}  # type short name -> [(image id, version)]
        for version, type_names in FIRMWARE_IMAGES:
            image_id = create_firmware_image(platform, _firmware_request(version, type_names, fleet))["id"]
            for name in type_names:
                images.setdefault(name, []).append((image_id, version))
            bar.update()

        admins = {}
        for profile in ORGANIZATIONS:
            organization_id = fleet.organizations[profile.name]
            admin = _organization_token(platform, organization_id, f"{profile.name} admin", list(PERMISSIONS))
            viewer = _organization_token(platform, organization_id, f"{profile.name} viewer",
                                         list(VIEWER_PERMISSIONS))
            fleet.tokens["organizations"][str(organization_id)] = {"admin": admin, "viewer": viewer}
            admins[organization_id] = authenticate(admin)
            fleet.devices[organization_id] = []
            bar.update(2)

        # Each device is created by its organization's admin, so the audit trail names a real actor.
        for organization_id, body in DeviceGenerator(rng, fleet, images).bodies(devices):
            created, _ = create_device(admins[organization_id], body)
            fleet.devices[organization_id].append(created["id"])
            # No Lambda flushes metrics here, and powertools prints a blob whenever 100 pile up.
            metrics.clear_metrics()
            bar.update()
        fleet.failing_reboots = make_reboots_fail(platform, fleet.devices[fleet.organizations[FLAKY_ORGANIZATION]])
    return fleet


def make_reboots_fail(platform, device_ids: list[int], share: float = FLAKY_REBOOT_SHARE) -> list[int]:
    """Have the simulator fail every reboot of `share` of the devices, spread evenly over them; their ids."""
    from chalicelib.drivers.simulator import SimulatorBehaviour
    from chalicelib.drivers.simulator_settings import set_behaviour

    chosen = [device_id for n, device_id in enumerate(device_ids) if int((n + 1) * share) > int(n * share)]
    for device_id in chosen:
        set_behaviour(platform, device_id, SimulatorBehaviour(fail=["reboot"]))
    return chosen


def write_tokens(fleet: DemoFleet, path: Path) -> None:
    """.local/tokens.json, readable by its owner only: it holds live secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(fleet.tokens, indent=2) + "\n")


def _organization_token(platform, organization_id: int, name: str, permissions: list[str]) -> str:
    return create_token(platform, TokenCreate(name=name, organization_id=organization_id, permissions=permissions,
                                              rate_limit_per_minute=DEMO_RATE_LIMIT))["token"]


def _firmware_request(version: str, type_names: tuple[str, ...], fleet: DemoFleet) -> FirmwareImageCreate:
    url = f"https://firmware.fleetline.example/{type_names[0].lower()}/{version}.bin"
    return FirmwareImageCreate(version=version, url=url, checksum=hashlib.sha256(url.encode()).hexdigest(),
                               device_types=[fleet.device_types[name] for name in type_names])


def _split(total: int, shares: list[float]) -> list[int]:
    """total split by shares (largest remainder), every part at least 1 when total allows."""
    base = 1 if total >= len(shares) else 0
    rest = total - base * len(shares)
    raw = [rest * share / sum(shares) for share in shares]
    parts = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])[:rest - sum(parts)]:
        parts[i] += 1
    return [base + part for part in parts]


class DeviceGenerator:
    """Realistic, unique device bodies: names by site, vendor serials and MACs, valid network identities."""

    def __init__(self, rng: random.Random, fleet: DemoFleet, images: dict[str, list[tuple[int, str]]]):
        self.rng = rng
        self.fleet = fleet
        self.images = images
        self.types = {kind.short_name: kind for kind in DEVICE_TYPES}
        self.names: dict[str, int] = {}  # name prefix -> last number used

    def bodies(self, count: int):
        """(organization id, DeviceCreate) pairs, the organizations interleaved as installs would be."""
        owners = [profile for profile, part in zip(ORGANIZATIONS, _split(count, [o.share for o in ORGANIZATIONS]),
                                                   strict=True) for _ in range(part)]
        self.rng.shuffle(owners)
        for n, profile in enumerate(owners, start=1):
            yield self.fleet.organizations[profile.name], self.body(n, profile)

    def body(self, n: int, profile: OrganizationProfile) -> DeviceCreate:
        rng = self.rng
        kind = self.types[rng.choice(profile.device_types)]
        site_index = rng.randrange(len(profile.sites))
        site = profile.sites[site_index]
        prefix = f"{site.short_name.lower()}-{NAME_WORDS[kind.category]}"
        self.names[prefix] = self.names.get(prefix, 0) + 1
        serial = kind.serial_format.format(n=n, h=f"{rng.getrandbits(12):03X}{n:05X}")
        on_catalogue = self.images.get(kind.short_name) and rng.random() < 0.7
        image_id, version = rng.choice(self.images[kind.short_name]) if on_catalogue else (None, None)
        body = {
            "name": f"{prefix}-{self.names[prefix]:03d}",
            "serial_number": serial,
            "type": self.fleet.device_types[kind.short_name],
            "organization_id": self.fleet.organizations[profile.name],
            "status": "Up" if rng.random() < 0.78 else "Down",
            "is_active": rng.random() < 0.96,
            "hardware_version": rng.choice(kind.hardware_versions),
            "software_version": version or rng.choice(kind.older_versions),
            "firmware_image": image_id,
            "location": site.location_id,
            "location_name": site.name,
            "location_short_name": site.short_name,
            "latitude": f"{site.latitude + rng.uniform(-0.03, 0.03):.6f}",
            "longitude": f"{site.longitude + rng.uniform(-0.03, 0.03):.6f}",
            "update_frequency": rng.choice((300, 600, 900, 3600)),
        }
        if profile.customer_prefix:
            body["customer_id"] = f"{profile.customer_prefix}-{rng.randint(100000, 999999)}"
        if kind.oui:
            body["mac_address"] = f"{kind.oui}:{n >> 16 & 255:02X}:{n >> 8 & 255:02X}:{n & 255:02X}"
            body["address"] = self._address(n, profile, site_index, kind.network)
        if kind.tr069:
            body["unique_identifier"] = f"{kind.oui.replace(':', '')}-{kind.product_class}-{serial}"
        if kind.network == "cellular":
            body["identifiers"] = cellular_identifiers(n, *profile.mobile_network)
        elif kind.network == "lorawan":
            body["identifiers"] = {"eui": f"24E1247{n:09X}"}
        if kind.category != "sensor" and rng.random() < 0.4:
            body["username"] = rng.choice(("admin", "support", "fleetops"))
            body["password"] = "".join(rng.choices("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=16))
        if rng.random() < 0.15:
            body["description"] = rng.choice(("Spare unit, swapped in after a power surge.",
                                              "Customer reports drops in the evening.",
                                              "Mounted outdoors; check the enclosure seal on visits.",
                                              "Pilot unit for the new firmware train."))
        return DeviceCreate(**{name: value for name, value in body.items() if value is not None})

    @staticmethod
    def _address(n: int, profile: OrganizationProfile, site_index: int, network: str) -> str:
        if network == "cellular":  # carrier-grade NAT space, as LTE routers are reached through the APN
            return f"100.{64 + ORGANIZATIONS.index(profile)}.{n // 250}.{n % 250 + 2}"
        return f"10.{ORGANIZATIONS.index(profile) + 1}.{site_index * 8 + n // 250 % 8}.{n % 250 + 2}"


def luhn_complete(digits: str) -> str:
    """digits + their Luhn check digit (IMEIs and ICCIDs end with one)."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        doubled = int(d) * (1 if i % 2 else 2)
        total += doubled - 9 if doubled > 9 else doubled
    return digits + str((10 - total % 10) % 10)


def cellular_identifiers(n: int, mcc_mnc: str, country_code: str) -> dict:
    """IMEI (Teltonika-style TAC + serial + check digit), ICCID, IMSI and MSISDN, unique per n."""
    return {
        "imei": luhn_complete(f"86391803{n:06d}"),
        "iccid": luhn_complete(f"89{country_code}01{n:0{14 - len(country_code)}d}"),
        "imsi": f"{mcc_mnc}{n:0{15 - len(mcc_mnc)}d}",
        "msisdn": f"{country_code}3{n:0{10 - len(country_code)}d}",
    }
