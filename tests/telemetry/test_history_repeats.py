"""Connection history's duplicate-request rule (API.md §6) for requests that failed: only an answer is replayed.
A request that failed is answered afresh when it comes again within 60 s, so a client's retry sees the world as
it is now, not the failure."""
from tests.factories import imei
from tests.telemetry.support import ago, connection_event


def test_a_request_that_was_404_is_answered_afresh_within_60_s(fleet, refused):
    # GIVEN a request for a device nobody has registered yet: 404
    wanted = {"kind": "imei", "id": imei(888_888)}
    earliest, latest = ago(minutes=10), ago(seconds=0)
    refused(fleet.carrier_history(wanted, earliest, latest), 404, "DEVICE_NOT_FOUND")
    # WHEN the device is registered and reports an event, and the identical request comes again within 60 s
    device = fleet.api.device(fleet.organization, fleet.device["type"], identifiers={"imei": wanted["id"]})
    assert fleet.accepted("connection_event", [connection_event(device["id"], ago(minutes=5))])["accepted"] == 1
    again = fleet.carrier_history(wanted, earliest, latest)
    # THEN it is answered afresh: the event, not the earlier 404
    assert again.status_code == 200, again.body
    assert len(again.json_body["connectionHistory"]) == 1

