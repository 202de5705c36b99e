"""Analytics (API.md §8; docs/analytics.md): every path over 1, 30 and 366 days, for an organization of 100 and one of
5,000 devices: DynamoDB requests, items and kilobytes read, answer size and time per call.

The aggregates are setup, written straight into moto's table in the shape the rollups write them
(chalicelib/rollups/usage.py): the organization's day totals, subscriber and IP entries, and the measured subscriber's
own hours and days. Activity: every device is active on one day of each month (its own, 13 months back), 20 IP
addresses every day, every hour. moto answers every Query by sorting the whole table: Queries go to their partition
here, as in the tests; each call is made once (a call at 5,000 devices over 366 days reads tens of thousands of items,
seconds on moto).
"""
import json
import time
from datetime import UTC, timedelta
from types import SimpleNamespace

from bench.report import table
from local.moto_server import moto_queries_by_partition

SIZES = (100, 5_000)
RANGES = (1, 30, 366)         # days
MONTHS = 13
IPS = 20
PROTOCOLS = ("TCP", "UDP", "ICMP")
LANES = 4
PATHS = (
    ("data-usage", "/analytics/data-usage"),
    ("session-count", "/analytics/session-count"),
    ("data-usage-network-protocol", "/analytics/data-usage-network-protocol"),
    ("data-usage-by-subscriber", "/analytics/data-usage-by-subscriber"),
    ("data-usage-ip-address", "/analytics/data-usage-ip-address"),
    ("data-usage/{physicalId}", "/analytics/data-usage/{}"),
    ("session-count/{physicalId}", "/analytics/session-count/{}"),
    ("data-usage-ip-address/{physicalId}", "/analytics/data-usage-ip-address/{}"),
)
TOTALS = ("data-usage", "session-count", "data-usage-network-protocol")
MAPS = ("data-usage-by-subscriber", "data-usage-ip-address")


def measure() -> str:
    from bench.calls import Runner
    from bench.world import world
    from chalicelib import clock
    from chalicelib.tokens import service as tokens
    from chalicelib.tokens.models import PERMISSIONS, TokenCreate

    now = clock.now().replace(minute=20, second=0, microsecond=0)
    results, setup = {}, {}
    with moto_queries_by_partition(), world() as (client, meter):
        platform = tokens.create_token(None, TokenCreate(name="bench-analytics", permissions=list(PERMISSIONS),
                                                         rate_limit_per_minute=100_000))["token"]
        runner = Runner(client, meter, SimpleNamespace(platform=platform, created=[]))
        type_id = runner.call("POST", "/admin/device_types/", {
            "short_name": "bench_analytics", "name": "Meter", "category": "sensor", "manufacturer": "Bench",
            "product_class": "M1"})[0].json_body["id"]
        for size in SIZES:
            organization = runner.call("POST", "/admin/organizations/",
                                       {"name": f"analytics-{size}"})[0].json_body["id"]
            subscriber = _iccid(0, size)
            device = runner.call("POST", "/inventory_device/", {
                "name": f"meter-{size}", "serial_number": f"BENCH-AN-{size}", "type": type_id,
                "organization_id": organization, "identifiers": {"iccid": subscriber}})[0].json_body["id"]
            token = runner.call("POST", "/admin/tokens/", {
                "name": f"analytics-{size}", "organization_id": organization, "rate_limit_per_minute": 100_000,
                "permissions": ["analytics:overview", "analytics:subscriber"]})[0].json_body["token"]
            started = time.perf_counter()
            items = _put(organization, device, subscriber, size, now)
            setup[size] = (items, time.perf_counter() - started)
            print(f"  {size:,} devices: {items:,} aggregates written in {setup[size][1]:.0f} s", flush=True)
            for days in RANGES:
                query = _query(now - timedelta(days=days), now)
                for name, path in PATHS:
                    if (size, days) == (SIZES[0], RANGES[0]):
                        runner.call("GET", path.format(subscriber) + query, token=token)   # warm-up: imports
                    response, sample = runner.call("GET", path.format(subscriber) + query, token=token)
                    results[(size, days, name)] = (sample, len(response.body), _keys(name, response.json_body))
                print(f"  {size:,} devices, {days} days measured", flush=True)
    return _render(results, setup)


def _query(start, end) -> str:
    return f"?startDate={_text(start)}&endDate={_text(end)}"


def _text(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "%2B00:00"


def _iccid(n: int, size: int) -> str:
    return f"89{size:06d}{n:011d}"


def _keys(name: str, body: dict) -> int:
    """Keys of an answer's map (subscribers, addresses, hours)."""
    if name == "data-usage-by-subscriber":
        return len(body["content"]["subscriberDataUsage"])
    if name.startswith("data-usage-ip-address"):
        return len(body["content"][0]["dataUsageByIp"])
    if name == "data-usage-network-protocol":
        return sum(len(hours) for hours in body["content"].values())
    if name.startswith("session-count"):
        content = body["content"] if name == "session-count" else body["content"][0]["content"]
        return len(content)
    return len(body["content"][0]["mobileOriginated"])


def _put(organization: int, device: int, subscriber: str, size: int, now) -> int:
    """The aggregates of MONTHS months up to `now`, as the rollups write them; the number of items."""
    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import clock
    from chalicelib.config import get_settings
    from chalicelib.store import schema

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[get_settings().table_name]
    serialize = TypeSerializer().serialize
    written = 0

    def put(item: dict) -> None:
        nonlocal written
        table.put_item({name: serialize(value) for name, value in item.items()})
        written += 1

    first_day = (now - timedelta(days=31 * MONTHS)).replace(hour=0)
    guards = {f"g{lane}": 1 for lane in range(LANES)}
    months_active: dict[str, dict[int, list]] = {}
    day = first_day
    while day <= now:
        label = day.strftime("%Y-%m-%d")
        hours = [hh for hh in range(24) if day + timedelta(hours=hh) <= now]
        totals = {}
        for hh in hours:
            totals |= {f"s{hh:02d}": size, f"mo{hh:02d}": 300 * size, f"mt{hh:02d}": 900 * size,
                       **{f"p{hh:02d}#{p}": 10_000 * (i + 1) for i, p in enumerate(PROTOCOLS)}}
        put({**schema.organization_day_key(organization, label), "entity": "OrganizationDay",
             "organization_id": organization, "day": label, **totals, **guards})
        at = clock.iso(day + timedelta(hours=hours[-1], minutes=10))
        for ip in range(IPS):
            address = f"198.51.100.{ip}"
            put({**schema.map_entry_key(organization, "IP", "D", label, address), "entity": "IpEntry",
                 "organization_id": organization, "level": "D", "period": label, "key": address,
                 "b": 1_000 * len(hours), **{f"b{hh:02d}": 1_000 for hh in hours}, "l0": at,
                 **{f"l0h{hh:02d}": 10 * 60_000 for hh in hours}, **guards})   # 10 minutes into the hour
        for n in (n for n in range(size) if n % 28 + 1 == day.day):   # each device: its own day of every month
            key = _iccid(n, size)
            put({**schema.map_entry_key(organization, "SUB", "D", label, key), "entity": "SubscriberEntry",
                 "organization_id": organization, "level": "D", "period": label, "key": key, "bytes": 4_096,
                 "last_seen": at, "hours": json.dumps({f"{hh:02d}": [1_024, at] for hh in hours[-4:]})})
            months_active.setdefault(label[:7], {})[n] = [4_096, at]
        put({**schema.device_period_key(device, "D", label, organization), "entity": "DeviceDay",
             "device_id": device, "organization_id": organization, "period": label, "bytes": 1_200 * len(hours),
             "last_seen": at, "hours": json.dumps({f"{hh:02d}": [2, 300, 900, at] for hh in hours}),
             "ips": json.dumps({f"198.51.100.{ip}": [100, at] for ip in range(IPS)})})
        for hh in hours:
            seen = clock.iso(day + timedelta(hours=hh, minutes=10))
            put({**schema.device_period_key(device, "H", clock.iso(day + timedelta(hours=hh)), organization),
                 "entity": "DeviceHour", "device_id": device, "organization_id": organization,
                 "hour": clock.iso(day + timedelta(hours=hh)), "sessions": 2, "mo_bytes": 300, "mt_bytes": 900,
                 "protocols": {"TCP": 1_200}, "last_seen": seen,
                 "ips": json.dumps({f"198.51.100.{ip}": [5, seen] for ip in range(IPS)})})
        day += timedelta(days=1)
    for month, active in months_active.items():
        for n, (used, seen) in active.items():
            key = _iccid(n, size)
            put({**schema.map_entry_key(organization, "SUB", "M", month, key), "entity": "SubscriberEntry",
                 "organization_id": organization, "level": "M", "period": month, "key": key, "bytes": used,
                 "last_seen": seen})
        for ip in range(IPS):
            address = f"198.51.100.{ip}"
            put({**schema.map_entry_key(organization, "IP", "M", month, address), "entity": "IpEntry",
                 "organization_id": organization, "level": "M", "period": month, "key": address, "b": 24_000,
                 "l0": f"{month}-28T23:10:00.000Z", **guards})
    return written


def _render(results: dict, setup: dict) -> str:
    rows = []
    for name, _ in PATHS:
        for days in RANGES:
            cells = [name, days]
            for size in SIZES:
                sample, answer_bytes, keys = results[(size, days, name)]
                tally = sample.operation
                cells += [sum(tally.requests.values()), tally.read, keys]
            cells += [f"{results[(size, days, name)][0].seconds * 1000:.0f}" for size in SIZES]
            rows.append(cells)

    def requests(size, days, name):
        return sum(results[(size, days, name)][0].operation.requests.values())

    totals_same = all(requests(SIZES[0], d, n) == requests(SIZES[1], d, n) for d in RANGES for n in TOTALS)
    totals_bound = max(requests(size, RANGES[-1], name) for size in SIZES for name in TOTALS)
    ratios = [results[(size, days, name)][0].operation.read / max(1, results[(size, days, name)][2])
              for size in SIZES for days in RANGES for name in MAPS]
    small, large = SIZES
    return "\n".join([
        "## Analytics (API.md §8)",
        "",
        f"Every path over the last 1, 30 and 366 days, by an organization token, for an organization of {small:,} "
        f"and one of {large:,} devices ({setup[small][0]:,} and {setup[large][0]:,} aggregates, written directly in "
        "the rollups' shape as setup). Every device is active one day of each month; "
        f"{IPS} IP addresses every hour; the measured subscriber every hour. *Requests* and *Items* are the route's "
        "own DynamoDB requests and items read (authentication and rate limit excluded); *Keys* the answer's map "
        "keys (hours, subscribers, addresses); *ms* the whole in-process call on moto (one call each).",
        "",
        table(["Path (GET /analytics/...)", "Days", *(f"{what} @{size:,}" for size in SIZES
                                                     for what in ("Requests", "Items", "Keys")),
               *(f"ms @{size:,}" for size in SIZES)], rows),
        "",
        f"Targets. The totals paths (data usage, session count, per protocol) read the same at both sizes: "
        f"**{'met' if totals_same else 'not met'}**, and at most 20 requests for 366 days: "
        f"**{'met' if totals_bound <= 20 else 'not met'}** ({totals_bound}: the organization's 366 day items, a few "
        "KB each whatever its size). The map paths (per subscriber, per IP address) read in proportion to the size "
        "of their answer: items read per answer key from "
        f"{min(ratios):.1f} to {max(ratios):.1f} — one entry per key and per period the range is cut into (hours "
        "inside the days at its ends, days, months), never one per day and device; their requests are "
        "the map shards (8) × the runs of periods (at most 5), read in parallel.",
        "",
    ])
