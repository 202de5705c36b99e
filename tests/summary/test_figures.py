"""Every figure of GET /device_app_connection_summary/ equals a reference aggregation of the ingested records."""
from urllib.parse import urlencode

from tests.devices.support import follow
from tests.rollups import reference


def expected(fleet, window: str, devices: list[dict], category: str | None = None, status: str = "all") -> dict:
    now = fleet.clock.now
    rows = [reference.row(device, fleet.sessions, window, now, category) for device in devices]
    matching = [row for row in rows if status == "all" or row["status"] == status]
    overview, insights = reference.summary(devices, fleet.sessions, window, now, reference.iso(now), category)
    return {"count": len(matching), "summary_period": reference.period(window, now), "summary": overview,
            "results": matching, "aggregated_insights": insights}


def answered(response) -> dict:
    assert response.status_code == 200, response.body
    body = response.json_body
    assert list(body) == ["count", "next", "previous", "summary_period", "summary", "results", "aggregated_insights"]
    return {name: value for name, value in body.items() if name not in ("next", "previous")}


def test_every_window_matches_the_reference_for_the_whole_fleet(summarized):
    fleet = summarized
    for time_range in ("1h", "24h", "7d", "30d", "90d"):
        body = answered(fleet.summary(f"?time_range={time_range}"))
        assert body == expected(fleet, time_range, fleet.all_devices), time_range
    # 24h is the default and 1d its alias
    assert answered(fleet.summary()) == answered(fleet.summary("?time_range=1d")) == expected(
        fleet, "24h", fleet.all_devices)


def test_each_filter_narrows_rows_and_figures_as_the_reference_does(summarized):
    fleet = summarized
    acme, sensors = fleet.in_org(fleet.acme), [d for d in fleet.all_devices if d["category"] == "sensor"]
    cases = [
        ({"time_range": "90d", "device_type": "sensor"}, "90d", sensors, None, "all"),
        ({"time_range": "24h", "device_type": "GATEWAY"}, "24h",
         [d for d in fleet.all_devices if d["category"] == "gateway"], None, "all"),
        ({"time_range": "90d", "organization": fleet.acme}, "90d", acme, None, "all"),
        ({"time_range": "7d", "organization": "acme corp"}, "7d", acme, None, "all"),
        ({"time_range": "30d", "organization_id": fleet.globex}, "30d", fleet.in_org(fleet.globex), None, "all"),
        ({"time_range": "1h", "status": "failed"}, "1h", fleet.all_devices, None, "failed"),
        ({"time_range": "1h", "status": "active"}, "1h", fleet.all_devices, None, "active"),
        ({"time_range": "7d", "status": "inactive"}, "7d", fleet.all_devices, None, "inactive"),
        ({"time_range": "90d", "app_category": "security"}, "90d", fleet.all_devices, "security", "all"),
        ({"time_range": "24h", "app_category": "Security", "status": "failed"}, "24h", fleet.all_devices,
         "security", "failed"),
        ({"time_range": "30d", "app_category": "productivity", "status": "inactive"}, "30d", fleet.all_devices,
         "productivity", "inactive"),
        ({"time_range": "7d", "app_category": "navigation", "device_type": "sensor", "status": "active"}, "7d",
         sensors, "navigation", "active"),
        ({"time_range": "24h", "app_category": "gardening"}, "24h", fleet.all_devices, "gardening", "all"),
        ({"time_range": "24h", "app_category": "gardening", "status": "inactive", "organization": fleet.acme},
         "24h", acme, "gardening", "inactive"),
        ({"device_type": "router"}, "24h", [], None, "all"),
    ]
    for params, window, devices, category, status in cases:
        body = answered(fleet.summary("?" + urlencode(params)))
        assert body == expected(fleet, window, devices, category, status), params


def test_an_organization_token_sees_its_own_devices_and_figures(summarized):
    fleet = summarized
    for token, organization in ((fleet.tokens["acme"], fleet.acme), (fleet.tokens["globex"], fleet.globex)):
        body = answered(fleet.summary("?time_range=90d", token=token))
        assert body == expected(fleet, "90d", fleet.in_org(organization))
        assert answered(fleet.summary(f"?time_range=90d&organization={organization}", token=token)) == body


def test_pages_follow_device_ids_by_cursor_and_by_offset(summarized):
    fleet = summarized
    whole = expected(fleet, "24h", fleet.all_devices)["results"]
    seen, response = [], fleet.summary("?limit=1")
    while True:
        body = response.json_body
        assert body["count"] == 4 and len(body["results"]) == 1
        seen += body["results"]
        if body["next"] is None:
            break
        assert "cursor=" in body["next"]
        response = follow(fleet.api, body["next"], token=fleet.api.platform)
    assert seen == whole
    second = fleet.summary("?limit=2&offset=2").json_body
    assert second["results"] == whole[2:] and second["next"] is None
    assert "offset=0" in second["previous"]
    assert fleet.summary("?limit=500").json_body["results"] == whole   # above 200 is clamped, not refused
    assert fleet.summary("?offset=10").json_body["results"] == []
