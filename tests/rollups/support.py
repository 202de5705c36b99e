"""Shared by the rollup and summary tests: a clock the test moves, a small fleet of two organizations, record
builders, ingestion the real way (POST /telemetry/...) and rollup runs (POST /admin/rollups/)."""
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import aws, clock
from chalicelib.config import get_settings
from local.moto_server import moto_queries_by_partition
from tests.factories import Api, imei
from tests.rollups.reference import iso

SUMMARY = "/device_app_connection_summary/"
ROLLUPS = "/admin/rollups/"
ENDPOINTS = {"connection_event": "/telemetry/connection_events/", "app_session": "/telemetry/app_sessions/",
             "usage": "/telemetry/usage/"}
# Not on any bucket boundary, so that windows and buckets are exercised where they fall.
START = datetime(2026, 3, 10, 12, 31, 20, 250000, tzinfo=UTC)
SETTLE = timedelta(seconds=61)   # the audit trail's settle lag is 60 s: a run sees the device changes before it

_ids = itertools.count(1)


class Clock:
    """chalicelib.clock.now, moved by the test (ingestion, audit and rollups all read it)."""

    def __init__(self, monkeypatch, start: datetime = START):
        self.now = start
        monkeypatch.setattr(clock, "now", lambda: self.now)

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def ago(self, **delta) -> datetime:
        return self.now - timedelta(**delta)


@pytest.fixture(autouse=True, scope="session")
def fast_moto_queries():
    """moto 5.2.5 answers every Query by sorting every item of the table: a rollup run, which makes dozens of
    Queries, would slow down with everything the test wrote (bench/rollups.py has the why)."""
    with moto_queries_by_partition():
        yield


@pytest.fixture
def frozen(monkeypatch) -> Clock:
    return Clock(monkeypatch)


def event_id() -> str:
    return f"r-{next(_ids):07d}"


def session(device: dict, at: datetime, app: str = "Maps", category: str = "navigation", success: bool = True,
            response_time_ms: float = 120, **extra) -> dict:
    return {"event_id": event_id(), "device_id": device["id"], "started_at": iso(at), "app_id": f"id.{app.lower()}",
            "app_name": app, "app_category": category, "success": success, "response_time_ms": response_time_ms,
            "duration_s": 30, "bytes": 2048, **extra}


def connection(device: dict, at: datetime, event: str = "Start") -> dict:
    return {"event_id": event_id(), "device_id": device["id"], "occurred_at": iso(at), "event": event,
            "attributes": {"FramedIpAddress": "10.0.0.2"}}


def usage(device: dict, at: datetime, mo: int = 100, mt: int = 900, protocol: str = "tcp",
          ip: str = "93.184.216.34") -> dict:
    return {"event_id": event_id(), "device_id": device["id"], "occurred_at": iso(at), "mo_bytes": mo,
            "mt_bytes": mt, "protocol": protocol, "destination_ip": ip}


@dataclass
class Fleet:
    """Acme (two sensors, a gateway) and Globex (a gateway); tokens for each; what the test ingested."""
    api: Api
    clock: Clock
    acme: int
    globex: int
    devices: dict[str, dict]
    tokens: dict[str, str]
    sessions: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    usage: list[dict] = field(default_factory=list)
    last_report: dict | None = None

    def ingest(self, kind: str, records: list[dict]) -> None:
        for start in range(0, len(records), 1000):
            chunk = records[start:start + 1000]
            response = self.api.post(ENDPOINTS[kind], {"records": chunk})
            assert response.status_code == 202, response.body
            assert response.json_body["accepted"] == len(chunk), response.json_body
        {"app_session": self.sessions, "connection_event": self.events, "usage": self.usage}[kind].extend(records)

    def roll_up(self) -> dict:
        """POST /admin/rollups/ once the audit trail's settle lag has passed since the last device change, repeated
        while it answers 202 (more work than one request's time, API.md §9); the last report."""
        self.clock.advance(seconds=SETTLE.total_seconds())
        for _ in range(10):
            response = self.api.post(ROLLUPS)
            if response.status_code != 202:
                break
            assert response.headers["Retry-After"] and response.json_body["caught_up"] is False
        assert response.status_code == 200, response.body
        self.last_report = response.json_body
        return response.json_body

    def summary(self, query: str = "", token: str | None = None, **kw):
        return self.api.get(SUMMARY + query, token=token or self.api.platform, **kw)

    def in_org(self, organization_id: int) -> list[dict]:
        return sorted((d for d in self.devices.values() if d["organization_id"] == organization_id),
                      key=lambda d: d["id"])

    @property
    def all_devices(self) -> list[dict]:
        return sorted(self.devices.values(), key=lambda d: d["id"])


def make_fleet(api: Api, frozen: Clock) -> Fleet:
    acme, globex = api.organization("Acme Corp"), api.organization("Globex")
    sensor, gateway = api.device_type(category="sensor"), api.device_type(category="gateway")
    names = {acme: "Acme Corp", globex: "Globex"}
    devices = {}
    for key, organization, type_id, category, identifiers in (
            ("a1", acme, sensor, "sensor", {"imei": imei(901)}),
            ("a2", acme, sensor, "sensor", {"iccid": "89440100000000000012"}),
            ("a3", acme, gateway, "gateway", {}),
            ("b1", globex, gateway, "gateway", {"imei": imei(902)})):
        body = {"name": f"{key}-device"} | ({"identifiers": identifiers} if identifiers else {})
        created = api.device(organization, type_id, **body)
        physical = identifiers.get("iccid") or identifiers.get("imei") or created["serial_number"]
        devices[key] = {"id": created["id"], "name": created["name"], "category": category,
                        "organization_id": organization, "organization": names[organization],
                        "physical_id": physical, "type_id": type_id}
    many = {"rate_limit_per_minute": 100_000}
    tokens = {"acme": api.token(acme, ("reports:read",), **many),
              "globex": api.token(globex, ("reports:read",), **many),
              "acme_admin": api.token(acme, ("admin", "reports:read"), **many)}
    return Fleet(api, frozen, acme, globex, devices, tokens)


@pytest.fixture
def fleet(api, frozen) -> Fleet:
    return make_fleet(api, frozen)


def aggregate_items(prefixes=("AGG#", "SUMSTATE#", "SUMMARY#", "SIDX#", "ROLLUP#")) -> list[dict]:
    """Every item the rollups own, sorted by key (a Scan: tests only)."""
    pages = aws.dynamodb().get_paginator("scan").paginate(TableName=get_settings().table_name)
    items = [item for page in pages for item in page["Items"]
             if item["PK"].startswith(prefixes) or item["PK"].endswith("#AGG")]
    return sorted(items, key=lambda item: (item["PK"], item["SK"]))


def without_lease(items: list[dict]) -> list[dict]:
    return [item for item in items if item["SK"] != "LOCK"]
