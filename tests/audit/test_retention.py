"""Audit entries outlive the device they describe and are kept 400 days (API.md §2): listed until then, and
stored with a TTL that lets DynamoDB remove them then."""
from datetime import timedelta

import pytest

from chalicelib import aws, clock
from chalicelib.config import get_settings
from chalicelib.store import schema
from tests.devices.support import AUDIT, device_path

RETENTION = timedelta(days=400)


@pytest.fixture
def later(monkeypatch):
    """Moves chalicelib.clock.now on by the given timedelta."""
    start = clock.now()

    def move(delta: timedelta) -> None:
        monkeypatch.setattr(clock, "now", lambda: start + delta)
    return move


def test_an_entry_is_listed_for_400_days_then_no_more_and_dynamodb_removes_it_then(api, later):
    # GIVEN a device created then deleted: two entries that outlive it
    organization = api.organization()
    device = api.device(organization, api.device_type())
    assert api.delete(device_path(device)).status_code == 204
    entries = api.get(f"{AUDIT}?device_id={device['id']}").json_body["results"]
    assert [e["action"] for e in entries] == ["delete", "create"]
    # THEN they are listed a day before the 400 days are up
    later(RETENTION - timedelta(days=1))
    assert len(api.get(f"{AUDIT}?device_id={device['id']}").json_body["results"]) == 2
    # AND no more a day after
    later(RETENTION + timedelta(days=1))
    body = api.get(f"{AUDIT}?device_id={device['id']}").json_body
    assert (body["count"], body["results"]) == (0, [])
    # AND each is stored to expire 400 days after it was written
    stored = [item for pk in schema.audit_org_partitions(organization)
              for item in aws.dynamodb().query(TableName=get_settings().table_name, KeyConditionExpression="PK = :pk",
                                               ExpressionAttributeValues={":pk": pk})["Items"]]
    expires = {item["id"]: int(item[schema.TTL_ATTRIBUTE]) for item in stored}
    assert expires == {e["id"]: int((clock.parse_iso(e["at"]) + RETENTION).timestamp()) for e in entries}
