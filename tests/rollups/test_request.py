"""POST /admin/rollups/ right after an ingest, with make run's own settings: every record its ingest answered is in the
summary and in every analytics path (API.md §9; issue 13, "Done when")."""
from datetime import timedelta

import pytest

from chalicelib.config import get_settings
from local.run import local_environment
from tests.analytics import support as analytics
from tests.rollups import reference
from tests.rollups.support import ROLLUPS, connection, session, usage
from tests.rollups.test_windows import assert_matches_reference


@pytest.fixture
def make_run_settings(monkeypatch):
    """What `make run` sets (local/run.py), the rollup settings untouched by this test."""
    for name, value in local_environment(5000).items():
        if name.startswith("ROLLUP_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_records_ingested_just_before_the_request_are_in_the_summary_and_every_analytics_path(fleet,
                                                                                            make_run_settings):
    a1, a2, b1 = fleet.devices["a1"], fleet.devices["a2"], fleet.devices["b1"]
    ago = fleet.clock.ago
    fleet.ingest("app_session", [session(a1, ago(minutes=1)), session(a2, ago(seconds=5), "Vault", "security", False),
                                 session(b1, ago(hours=3), "Mail", "mail"), session(a1, ago(days=12))])
    fleet.ingest("connection_event", [connection(a1, ago(minutes=2)), connection(a2, ago(seconds=4)),
                                      connection(b1, ago(days=2), "Stop")])
    fleet.ingest("usage", [usage(a1, ago(minutes=2), 10, 20), usage(a2, ago(seconds=3), 1, 2, "udp", "192.0.2.8"),
                           usage(b1, ago(days=2), 5, 6, "icmp", "8.8.8.8")])
    answer = fleet.api.post(ROLLUPS)      # at once: no clock moved, no settle lag waited for
    assert answer.status_code == 200 and answer.json_body["caught_up"] is True
    assert answer.json_body["last_updated"] == reference.iso(fleet.clock.now)
    assert_matches_reference(fleet)

    token = fleet.api.token(fleet.acme, ("analytics:overview", "analytics:subscriber"), rate_limit_per_minute=10_000)
    devices = {d["id"]: analytics.Device(d["id"], d["organization_id"], d["physical_id"]) for d in fleet.all_devices}
    records = [analytics.Usage(devices[r["device_id"]], reference.when(r["occurred_at"]), r["mo_bytes"],
                               r["mt_bytes"], r["protocol"].upper(), r["destination_ip"]) for r in fleet.usage]
    events = [analytics.Connection(devices[r["device_id"]], reference.when(r["occurred_at"]), r["event"])
              for r in fleet.events]
    start, end = fleet.clock.now - timedelta(days=3), fleet.clock.now
    mine = [r for r in records if r.device.organization_id == fleet.acme]
    mine_events = [c for c in events if c.device.organization_id == fleet.acme]

    def get(path: str) -> dict:
        response = fleet.api.get(path + analytics.window(start, end), token=token)
        assert response.status_code == 200, (path, response.body)
        return response.json_body

    assert get(analytics.DATA_USAGE) == analytics.expected_data_usage(mine)
    assert get(analytics.SESSIONS) == analytics.expected_session_counts(mine_events)
    assert get(analytics.BY_PROTOCOL) == analytics.expected_by_protocol(mine)
    assert get(analytics.BY_IP) == analytics.expected_by_ip(mine)
    assert get(analytics.BY_SUBSCRIBER) == analytics.expected_by_subscriber(mine, mine_events)
    for device in (devices[a1["id"]], devices[a2["id"]]):
        own = [r for r in mine if r.device == device]
        assert get(f"{analytics.DATA_USAGE}/{device.physical_id}") == analytics.expected_data_usage(own)
        assert get(f"{analytics.SESSIONS}/{device.physical_id}") == {
            "content": [analytics.expected_session_counts([c for c in mine_events if c.device == device])]}
        assert get(f"{analytics.BY_IP}/{device.physical_id}") == analytics.expected_by_ip(own)
    assert get(analytics.DATA_USAGE)["content"][0]["mobileOriginated"]   # the records of seconds ago are there
