"""Analytics (API.md §8): DynamoDB requests, items and kilobytes read, and time per call, for an organization of 100
and one of 5,000 devices over the same range.

The hour items are setup, written directly with the store.schema key builders in the shape the rollups write
(every device active every hour, the subscribers map capped as rollups.figures caps it), so that the section
measures the reads alone. moto deep-copies a whole item to project it (about 1 s per 160 KB item here), so the
5,000-device calls are few and unrepeated: the counts are exact, their times are moto's.
"""
import statistics
from datetime import timedelta
from types import SimpleNamespace

from bench.report import kinds, spread, table

SIZES = (100, 5_000)
# The range every call asks for: short enough for moto (see the module docstring); how the request count grows
# with longer ranges is computed from the measured item sizes.
HOURS = 6
CALLS = {100: 3, 5_000: 1}   # measured calls per path; the 100-device round also makes one warm-up call first
IPS = 20                     # destination addresses per organization hour
PROTOCOLS = ("TCP", "UDP", "ICMP")
PAGE = 1024 * 1024
PATHS = (
    ("data-usage", "/analytics/data-usage"),
    ("data-usage-by-subscriber", "/analytics/data-usage-by-subscriber"),
    ("data-usage/{physicalId}", "/analytics/data-usage/{}"),
    ("session-count", "/analytics/session-count"),
    ("session-count/{physicalId}", "/analytics/session-count/{}"),
    ("data-usage-network-protocol", "/analytics/data-usage-network-protocol"),
    ("data-usage-ip-address", "/analytics/data-usage-ip-address"),
    ("data-usage-ip-address/{physicalId}", "/analytics/data-usage-ip-address/{}"),
)


def measure() -> str:
    from bench.calls import CallFailed, Runner
    from bench.world import world
    from chalicelib import clock
    from chalicelib.tokens import service as tokens
    from chalicelib.tokens.models import PERMISSIONS, TokenCreate

    with world() as (client, meter):
        platform = tokens.create_token(None, TokenCreate(name="bench-analytics", permissions=list(PERMISSIONS),
                                                         rate_limit_per_minute=100_000))["token"]
        runner = Runner(client, meter, SimpleNamespace(platform=platform, created=[]))
        last = clock.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        first = last - timedelta(hours=HOURS - 1)
        query = f"?startDate={_text(first)}&endDate={_text(last + timedelta(minutes=59, seconds=59))}"
        type_id = runner.call("POST", "/admin/device_types/", {
            "short_name": "bench_analytics", "name": "Meter", "category": "sensor", "manufacturer": "Bench",
            "product_class": "M1"})[0].json_body["id"]
        rounds, sizes, platform_samples = {}, {}, None
        for size in SIZES:
            organization = runner.call("POST", "/admin/organizations/",
                                       {"name": f"analytics-{size}"})[0].json_body["id"]
            subscriber = _iccid(size)
            device = runner.call("POST", "/inventory_device/", {
                "name": f"meter-{size}", "serial_number": f"BENCH-AN-{size}", "type": type_id,
                "organization_id": organization, "identifiers": {"iccid": subscriber}})[0].json_body["id"]
            token = runner.call("POST", "/admin/tokens/", {
                "name": f"analytics-{size}", "organization_id": organization, "rate_limit_per_minute": 100_000,
                "permissions": ["analytics:overview", "analytics:subscriber"]})[0].json_body["token"]
            sizes[size] = _put_hours(organization, device, subscriber, size, first)
            rounds[size] = {}
            for name, path in PATHS:
                def make_call(i, path=path, subscriber=subscriber):
                    return "GET", path.format(subscriber) + query, None
                if size == SIZES[0]:
                    rounds[size][name] = runner.repeat(make_call, CALLS[size], token)
                    continue
                try:   # warm already: the first round imported and built everything a call needs
                    rounds[size][name] = [runner.call(*make_call(i), token=token)[1] for i in range(CALLS[size])]
                except CallFailed as failure:
                    rounds[size][name] = failure
            if size == SIZES[0]:   # one organization so far: what a platform token adds to the same call
                platform_samples = runner.repeat(lambda i: ("GET", "/analytics/data-usage" + query, None),
                                                 CALLS[size], platform)
    return _render(rounds, sizes, platform_samples)


def _text(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + "%2B00:00"


def _iccid(n: int) -> str:
    return f"8944{n:015d}"


def _put_hours(organization: int, device: int, subscriber: str, size: int, first) -> dict[str, int]:
    """The organization's and the measured device's hour items over the range; the bytes they hold."""
    from chalicelib import aws, clock
    from chalicelib.config import get_settings
    from chalicelib.rollups.figures import SUBSCRIBERS_CAP, capped
    from chalicelib.store import schema

    table_name = get_settings().table_name
    put = aws.dynamodb().put_item
    written = {"organization": 0, "largest": 0, "device": 0}
    for h in range(HOURS):
        hour = first + timedelta(hours=h)
        at = clock.iso(hour + timedelta(minutes=30))
        ips = {f"198.51.100.{i}": {"bytes": 1_000 + i, "last_seen": at} for i in range(IPS)}
        figures = {"organization_id": organization, "hour": clock.iso(hour), "computed_at": at,
                   "protocols": {p: 10_000 * (i + 1) for i, p in enumerate(PROTOCOLS)}, "ips": ips}
        subscribers = capped({_iccid(n) if n else subscriber: {"bytes": 512 + n, "last_seen": at}
                              for n in range(size)}, SUBSCRIBERS_CAP)
        organization_item = {**schema.organization_hour_key(organization, clock.iso(hour)), **figures,
                             "entity": "OrganizationHour", "sessions": size, "mo_bytes": 300 * size,
                             "mt_bytes": 900 * size, "subscribers": subscribers}
        device_item = {**schema.device_hour_key(device, clock.iso(hour)), **figures, "entity": "DeviceHour",
                       "device_id": device, "sessions": 2, "mo_bytes": 300, "mt_bytes": 900}
        put(TableName=table_name, Item=organization_item)
        put(TableName=table_name, Item=device_item)
        written["organization"] += item_size(organization_item)
        written["largest"] = max(written["largest"], item_size(organization_item))
        written["device"] += item_size(device_item)
    return written


def item_size(item: dict) -> int:
    """An item's size by DynamoDB's rules (Developer Guide, "Item sizes"): attribute names and string values
    in UTF-8 bytes, a number 1 byte per 2 significant digits + 1, a map or list 3 bytes + 1 per element."""
    def size(value) -> int:
        if isinstance(value, str):
            return len(value.encode())
        if isinstance(value, bool) or value is None:
            return 1
        if isinstance(value, int | float):
            return (len(str(abs(value)).strip("0").replace(".", "")) + 1) // 2 + 1
        if isinstance(value, dict):
            return 3 + sum(len(k.encode()) + size(v) + 1 for k, v in value.items())
        return 3 + sum(size(v) + 1 for v in value)
    return sum(len(name.encode()) + size(value) for name, value in item.items())


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f}"


def _render(rounds: dict, sizes: dict[int, dict[str, int]], platform_samples) -> str:
    small, large = SIZES
    rows, met = [], []
    for name, _ in PATHS:
        by_size = {size: rounds[size][name] for size in SIZES}
        failed = next((r for r in by_size.values() if not isinstance(r, list)), None)
        if failed:
            rows.append([name, f"failed: {failed}", *[""] * 9])
            met.append(False)
            continue
        same = len({s.operation.describe() for samples in by_size.values() for s in samples}) == 1
        met.append(same)
        read = "device" if "{physicalId}" in name else "organization"
        rows.append([name, *(kinds(s.operation for s in by_size[size]) for size in SIZES),
                     *(spread(s.operation.read for s in by_size[size]) for size in SIZES),
                     *(_kb(sizes[size][read]) for size in SIZES),
                     *(f"{statistics.median(s.seconds for s in by_size[size]) * 1000:.0f}" for size in SIZES),
                     *(f"{statistics.median(s.own_cpu_seconds for s in by_size[size]) * 1000:.1f}" for size in SIZES),
                     "yes" if same else "**no**"])
    header = ["Path (GET /analytics/...)", f"Requests @{small:,}", f"Requests @{large:,}", f"Items @{small:,}",
              f"Items @{large:,}", f"KB read @{small:,}", f"KB read @{large:,}", f"ms @{small:,}", f"ms @{large:,}",
              f"Own CPU ms @{small:,}", f"Own CPU ms @{large:,}", "Same requests"]
    platform = ("failed" if not isinstance(platform_samples, list)
                else kinds(s.operation for s in platform_samples))
    def pages(size: int) -> str:
        per_page = max(1, PAGE // max(1, sizes[size]["largest"]))
        return (f"{per_page} hours per page at {size:,} devices: 24 h {-(-24 // per_page)}, 30 days "
                f"{-(-720 // per_page)}, 366 days {-(-8784 // per_page):,} Queries")

    return "\n".join([
        "## Analytics (API.md §8)",
        "",
        f"Each path asked for the same {HOURS} hours by an organization token, at an organization of {small:,} and "
        f"one of {large:,} devices, every device active every hour ({CALLS[small]} calls after a warm-up at "
        f"{small:,}, {CALLS[large]} at {large:,}: moto deep-copies a whole item to project it, so times at "
        f"{large:,} are moto's, not DynamoDB's). The hour items are written directly (setup) in the rollups' shape: "
        f"organization hours with {len(PROTOCOLS)} protocols, {IPS} IP addresses and one subscriber entry per "
        "device (capped as the rollups cap it); the measured subscriber's own hours. *Requests* and *Items* are "
        "the route's own DynamoDB requests and items read (authentication and rate limit excluded); *KB read* the "
        "size of the hour items in the range, which DynamoDB bills and pages by whatever the projection; *ms* "
        "the median whole in-process request, *Own CPU ms* its CPU time outside boto3 and moto (the handler's own "
        "code: parsing, shaping).",
        "",
        table(header, rows),
        "",
        f"Target, the same requests at both sizes: **{'met' if all(met) else 'not met'}** over the {HOURS} hours "
        f"measured ({sum(met)} of {len(met)} paths), **not met for the company paths over longer ranges**: an "
        f"organization hour item is {_kb(sizes[small]['largest'])} KB at {small:,} devices and "
        f"{_kb(sizes[large]['largest'])} KB at {large:,} (mostly its subscribers map), and a 1 MB Query page holds "
        f"whole items, so a company call costs ⌈hours / (hours per page)⌉ Queries ({pages(small)}; {pages(large)}). "
        "Subscriber paths read the device's own hours and cost the same at every size. A platform token (here "
        "with 1 organization) made "
        f"`{platform}` for data-usage: 1 Query of the organizations, then the organization-token cost per "
        "organization. See docs/analytics.md, Costs.",
        "",
    ])
