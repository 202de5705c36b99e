"""Windows at their edges and as they slide, late records, and devices that come, change and go (API.md §7)."""
from datetime import timedelta

from chalicelib.store.dynamo import plain
from tests.rollups import reference
from tests.rollups.support import SETTLE, aggregate_items, session, usage

WINDOWS = ("1h", "24h", "7d", "30d", "90d")


def rows(fleet, window: str, query: str = "") -> dict[int, dict]:
    response = fleet.summary(f"?time_range={window}{query}")
    assert response.status_code == 200, response.body
    return {row["device_id"]: row for row in response.json_body["results"]}


def assert_matches_reference(fleet, windows=WINDOWS) -> None:
    now = fleet.clock.now
    for window in windows:
        body = fleet.summary(f"?time_range={window}").json_body
        assert body["results"] == [reference.row(d, fleet.sessions, window, now) for d in fleet.all_devices], window
        overview, insights = reference.summary(fleet.all_devices, fleet.sessions, window, now, reference.iso(now))
        assert (body["summary"], body["aggregated_insights"]) == (overview, insights), window


def test_a_record_at_a_windows_start_counts_and_one_a_millisecond_earlier_does_not(fleet):
    a1, a2 = fleet.devices["a1"], fleet.devices["a2"]
    run_at = fleet.clock.now + SETTLE
    records = []
    for window in WINDOWS:
        start, end = reference.bounds(window, run_at)
        records += [session(a1, start, app=f"in-{window}"), session(a2, start - timedelta(milliseconds=1))]
    last_1h = reference.bounds("1h", run_at)[1] - timedelta(milliseconds=1)   # ahead of the clock, still accepted
    records.append(session(a1, last_1h, app="last"))
    fleet.ingest("app_session", records)
    fleet.roll_up()
    assert fleet.clock.now == run_at
    # a1's records at each start are in that window and every longer one; a2's, a millisecond earlier, only in longer
    assert [rows(fleet, w)[a1["id"]]["total_attempts"] for w in WINDOWS] == [2, 3, 4, 5, 6]
    assert [rows(fleet, w)[a2["id"]]["total_attempts"] for w in WINDOWS] == [0, 1, 2, 3, 4]
    assert_matches_reference(fleet)


def test_figures_leave_a_window_as_it_slides_without_new_records(fleet):
    a1, b1 = fleet.devices["a1"], fleet.devices["b1"]
    ago = fleet.clock.ago
    fleet.ingest("app_session", [session(a1, ago(minutes=2)), session(a1, ago(minutes=58), success=False),
                                 session(b1, ago(hours=20)), session(b1, ago(days=6, hours=12), "Mail", "mail"),
                                 session(a1, ago(days=29))])
    fleet.roll_up()
    assert_matches_reference(fleet)
    for step in (timedelta(minutes=5), timedelta(minutes=50), timedelta(hours=5), timedelta(hours=20),
                 timedelta(days=1), timedelta(days=6), timedelta(days=60), timedelta(days=30)):
        fleet.clock.advance(seconds=step.total_seconds())
        report = fleet.roll_up()
        assert report["records_read"] == 0     # a slide reads the buckets that move, never a record
        assert_matches_reference(fleet)
    assert rows(fleet, "90d")[a1["id"]]["status"] == "inactive"


def test_a_record_ahead_of_the_clock_enters_the_window_when_its_bucket_starts(fleet):
    a1 = fleet.devices["a1"]
    run_at = fleet.clock.now + SETTLE
    _, end = reference.bounds("1h", run_at)
    fleet.ingest("app_session", [session(a1, end + timedelta(seconds=30))])   # next bucket, within 5 minutes
    fleet.roll_up()
    assert rows(fleet, "1h")[a1["id"]]["total_attempts"] == 0
    fleet.clock.now = end + timedelta(seconds=1) - SETTLE
    fleet.roll_up()
    assert rows(fleet, "1h")[a1["id"]]["total_attempts"] == 1
    assert_matches_reference(fleet, ("1h", "24h"))


def test_a_late_record_rewrites_only_the_buckets_and_summaries_it_belongs_to(fleet):
    a1, a2 = fleet.devices["a1"], fleet.devices["a2"]
    ago = fleet.clock.ago
    fleet.ingest("app_session", [session(a1, ago(minutes=3)), session(a2, ago(days=2)), session(a1, ago(days=40))])
    fleet.ingest("usage", [usage(a1, ago(minutes=3)), usage(a2, ago(days=2))])
    fleet.roll_up()
    before = {(i["PK"], i["SK"]): plain(i) for i in aggregate_items()}
    late = fleet.clock.ago(days=80)
    fleet.ingest("app_session", [session(a1, late, "Old", "archive")])
    fleet.ingest("usage", [usage(a1, late, 1, 2, "udp", "192.0.2.7")])
    fleet.roll_up()
    after = {(i["PK"], i["SK"]): plain(i) for i in aggregate_items()}
    changed = {key for key in after if {k: v for k, v in after[key].items() if k != "computed_at"}
               != {k: v for k, v in (before.get(key) or {}).items() if k != "computed_at"}}
    hour, day = reference.hour_of(reference.iso(late)), reference.iso(late)[:10]
    a1_aggregates, acme = f"DEV#{a1['id']:010d}#AGG", f"{fleet.acme:010d}"
    expected = {(a1_aggregates, f"APP#H#{hour}"), (a1_aggregates, f"APP#D#{day}T00:00:00.000Z"),
                (a1_aggregates, "SUMROW"), (a1_aggregates, f"H#{hour}#{acme}"), (a1_aggregates, f"D#{day}#{acme}"),
                (a1_aggregates, f"M#{day[:7]}#{acme}"), (f"AGG#ORG#{acme}#DAY", day)}
    assert expected <= changed
    # Besides: the organization's subscriber and IP entries of that day and month, and nothing of another day.
    entries = {key for key in changed - expected if key[0].startswith(f"AGG#ORG#{acme}#")}
    assert {key[1].split("#")[0] for key in entries} == {day, day[:7]}
    assert {key for key in changed - expected - entries
            if not key[0].startswith(("ROLLUP#", "SUMMARY#", "SIDX#"))} == set()
    # Only 90d figures can change, and only the 90d index entries (the categories the device is active in).
    assert all("#90d#" in key[0] for key in changed if key[0].startswith("SUMMARY#"))
    assert all(key[0].endswith("#90d") for key in changed if key[0].startswith("SIDX#"))
    assert rows(fleet, "90d")[a1["id"]]["total_attempts"] == 3 and rows(fleet, "30d")[a1["id"]]["total_attempts"] == 1
    assert_matches_reference(fleet, ("24h", "30d", "90d"))


def test_devices_created_renamed_retyped_moved_and_deleted_follow_in_the_summary(fleet):
    api, a1, a3, b1 = fleet.api, fleet.devices["a1"], fleet.devices["a3"], fleet.devices["b1"]
    fleet.ingest("app_session", [session(a1, fleet.clock.ago(minutes=3)), session(b1, fleet.clock.ago(hours=3))])
    fleet.roll_up()
    created = api.device(fleet.globex, b1["type_id"], name="new-gateway")
    assert api.patch(f"/inventory_device/{a1['id']}/", {"name": "a1-renamed", "type": a3["type_id"]}).status_code == 200
    assert api.patch(f"/inventory_device/{b1['id']}/", {"organization_id": fleet.acme}).status_code == 200
    assert api.delete(f"/inventory_device/{a3['id']}/").status_code == 204
    fleet.roll_up()
    del fleet.devices["a3"]
    fleet.devices["new"] = {"id": created["id"], "name": "new-gateway", "category": "gateway",
                            "organization_id": fleet.globex, "organization": "Globex"}
    fleet.devices["a1"] |= {"name": "a1-renamed", "category": "gateway"}
    fleet.devices["b1"] |= {"organization_id": fleet.acme, "organization": "Acme Corp"}
    assert_matches_reference(fleet, ("1h", "24h"))
    for organization in (fleet.acme, fleet.globex):
        body = fleet.summary(f"?organization={organization}").json_body
        assert [row["device_id"] for row in body["results"]] == [d["id"] for d in fleet.in_org(organization)]
        assert body["summary"]["total_devices"] == len(fleet.in_org(organization))
    gateways = fleet.summary("?device_type=gateway&status=active").json_body["results"]
    assert [row["device_id"] for row in gateways] == [a1["id"], b1["id"]]
    assert fleet.summary("?device_type=sensor").json_body["count"] == 1
    assert fleet.summary("?status=inactive&organization=Globex").json_body["results"][0]["device_id"] == created["id"]
