"""Shared by the telemetry tests: record builders, a small fleet, and read-backs of the table."""
import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from boto3.dynamodb.conditions import Key

from chalicelib import aws, clock
from chalicelib.config import get_settings
from chalicelib.rollups import lanes
from chalicelib.store import schema
from tests.factories import Api, imei

CONNECTION_EVENTS = "/telemetry/connection_events/"
APP_SESSIONS = "/telemetry/app_sessions/"
USAGE = "/telemetry/usage/"
ENDPOINTS = {"connection_event": CONNECTION_EVENTS, "app_session": APP_SESSIONS, "usage": USAGE}
CARRIER_HISTORY = "/devices/connections/actions/list"

_ids = itertools.count(1)
_imeis = itertools.count(700)


def event_id() -> str:
    return f"evt-{next(_ids):07d}"


def ago(**delta) -> datetime:
    """A moment before now, on a whole millisecond (as stored)."""
    moment = clock.now() - timedelta(**delta)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    return clock.iso(moment)


def connection_event(device_id, at: datetime, event: str = "Start", **overrides) -> dict:
    return {"event_id": event_id(), "device_id": device_id, "occurred_at": iso(at), "event": event,
            "attributes": {"BytesUsed": "0", "FramedIpAddress": "10.222.11.2"}} | overrides


def app_session(device_id, at: datetime, **overrides) -> dict:
    return {"event_id": event_id(), "device_id": device_id, "started_at": iso(at), "app_id": "com.example.maps",
            "app_name": "Maps", "app_category": "navigation", "success": True, "response_time_ms": 120,
            "duration_s": 30.5, "bytes": 2048} | overrides


def usage_record(device_id, at: datetime, **overrides) -> dict:
    return {"event_id": event_id(), "device_id": device_id, "occurred_at": iso(at), "mo_bytes": 100,
            "mt_bytes": 900, "protocol": "tcp", "destination_ip": "93.184.216.34"} | overrides


BUILDERS = {"connection_event": connection_event, "app_session": app_session, "usage": usage_record}


@dataclass
class Fleet:
    api: Api
    organization: int
    device: dict            # has an IMEI
    other_device: dict      # same organization
    writer: str             # the organization's token: telemetry:write and devices:read
    reader: str             # devices:read only

    def ingest(self, kind: str, records: list, token: str | None = None, **kw):
        return self.api.post(ENDPOINTS[kind], {"records": records}, token=token or self.writer, **kw)

    def accepted(self, kind: str, records: list) -> dict:
        response = self.ingest(kind, records)
        assert response.status_code == 202, response.body
        return response.json_body

    def carrier_history(self, device_id: dict, earliest: datetime | str, latest: datetime | str,
                        token: str | None = None, **kw):
        body = {"deviceId": device_id, "earliest": _text(earliest), "latest": _text(latest)}
        return self.api.post(CARRIER_HISTORY, body, token=token or self.reader, **kw)

    def history(self, device_id: int, earliest: datetime | str, latest: datetime | str, token: str | None = None,
                **params):
        query = "&".join(f"{k}={v}" for k, v in {"earliest": _text(earliest), "latest": _text(latest),
                                                   **params}.items())
        return self.api.get(f"/inventory_device/{device_id}/connection_history/?{query}", token=token or self.reader)

    def imei_of(self, device: dict | None = None) -> dict:
        return {"kind": "imei", "id": (device or self.device)["identifiers"]["imei"]}


def _text(moment: datetime | str) -> str:
    return iso(moment) if isinstance(moment, datetime) else moment


def make_fleet(api: Api) -> Fleet:
    organization = api.organization()
    device_type = api.device_type()
    device = api.device(organization, device_type, identifiers={"imei": imei(next(_imeis))})
    other = api.device(organization, device_type, identifiers={"imei": imei(next(_imeis))})
    return Fleet(api, organization, device, other,
                 api.token(organization, ("telemetry:write", "devices:read")),
                 api.token(organization, ("devices:read",)))


@pytest.fixture
def fleet(api) -> Fleet:
    return make_fleet(api)


def follow(api: Api, url: str, token: str):
    parts = urlsplit(url)
    return api.get(f"{parts.path}?{parts.query}", token=token)


def partition(pk: str) -> list[dict]:
    """Every item of one partition, in sort-key order."""
    return _query(Key("PK").eq(pk))


def raw_items(device_id: int, kind: str) -> list[dict]:
    return partition(schema.telemetry_partition(device_id, kind))


def announced() -> list[tuple[int, list]]:
    """Every message waiting in the rollups' queue, as (lane, body), taken off the queue."""
    sqs, url, out = aws.client("sqs"), lanes.queue_url(), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                          AttributeNames=["All"]).get("Messages", []):
        out += [(lanes.lane_of_group(m["Attributes"]["MessageGroupId"]), json.loads(m["Body"])) for m in messages]
    return out


def _query(condition) -> list[dict]:
    client = aws.dynamodb()
    kwargs = {"TableName": get_settings().table_name, "KeyConditionExpression": condition}
    items, answer = [], client.query(**kwargs)
    items += answer["Items"]
    while "LastEvaluatedKey" in answer:
        answer = client.query(ExclusiveStartKey=answer["LastEvaluatedKey"], **kwargs)
        items += answer["Items"]
    return items
