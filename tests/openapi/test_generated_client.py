"""A client generated from GET /openapi.json by openapi-python-client (pinned in requirements-dev.txt), used as a
user would against `chalice local`'s server: typed models for every step, ingest records included (API.md §5).

The generation writes into the test's own temporary folder and caches nothing elsewhere; ruff's post-hooks are
off (they would only format the generated code), which keeps it to a few seconds.
"""
import importlib
import json
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib import clock
from tests.docs.server import serving
from tests.factories import imei

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "fleetline_client"
GENERATION_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def served():
    with serving() as served:
        yield served


@pytest.fixture(scope="module")
def generated(served, tmp_path_factory):
    """The generated package, imported from the test's temporary folder."""
    folder = tmp_path_factory.mktemp("generated")
    with urllib.request.urlopen(served.url + "/openapi.json", timeout=10) as response:
        (folder / "openapi.json").write_bytes(response.read())
    (folder / "config.json").write_text(json.dumps({"post_hooks": [], "package_name_override": PACKAGE,
                                                    "project_name_override": "fleetline-client"}))
    run = subprocess.run([str(GENERATOR), "generate", "--path", "openapi.json", "--config", "config.json",
                          "--meta", "none", "--output-path", PACKAGE], cwd=folder, capture_output=True, text=True,
                         timeout=GENERATION_TIMEOUT_SECONDS)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr   # every route and schema understood
    sys.path.insert(0, str(folder))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_generated_client_creates_a_device_ingests_each_record_kind_and_reads_it_back(served, generated,
                                                                                      monkeypatch):
    client_module, models = generated("client"), generated("models")
    api = {name: generated(f"api.{group}.{name}") for group, name in (
        ("administration", "create_organization"), ("administration", "create_device_type"),
        ("administration", "run_rollups"), ("devices", "create_inventory_device"),
        ("telemetry", "ingest_connection_events"), ("telemetry", "ingest_app_sessions"),
        ("telemetry", "ingest_usage_records"), ("telemetry", "get_connection_history"),
        ("analytics", "get_subscriber_data_usage"), ("reports", "get_device_app_connection_summary"))}
    client = client_module.AuthenticatedClient(base_url=served.url, token=served.api.platform,
                                              raise_on_unexpected_status=True)

    # GIVEN an organization, a device type and a device, each made from the client's typed models
    organization = api["create_organization"].sync(client=client, body=models.OrganizationCreate(name="typed"))
    device_type = api["create_device_type"].sync(client=client, body=models.DeviceTypeCreate(
        short_name="typed_gw", name="Gateway", category="gateway"))
    subscriber = imei(7001)
    device = api["create_inventory_device"].sync(client=client, body=models.DeviceCreate(
        name="typed-1", serial_number="TYPED-0001", type_=device_type.id, organization_id=organization.id,
        identifiers=models.Identifiers(imei=subscriber)))
    assert isinstance(device, models.Device) and device.serial_number == "TYPED-0001"

    # WHEN one record of each kind is sent as the typed models, naming the device by id, serial and IMEI
    at = clock.now().replace(microsecond=0) - timedelta(hours=1)
    event = models.ConnectionEventRecord(
        event_id="typed-event-1", device_id=device.id, occurred_at=at, event=models.ConnectionEventRecordEvent.START,
        attributes=models.ConnectionEventRecordAttributes.from_dict({"FramedIpAddress": "10.9.8.7"}))
    session = models.AppSessionRecord(
        event_id="typed-session-1", started_at=at, app_id="maps", app_name="Maps", app_category="navigation",
        success=True, response_time_ms=120.0, duration_s=3.5, bytes_=2048,
        device_id=models.RecordDeviceIdentifier(kind=models.RecordDeviceIdentifierKind.SERIAL, id="TYPED-0001"))
    usage = models.UsageRecord(
        event_id="typed-usage-1", occurred_at=at, mo_bytes=100, mt_bytes=900, protocol="TCP",
        destination_ip="93.184.216.34",
        device_id=models.RecordDeviceIdentifier(kind=models.RecordDeviceIdentifierKind.IMEI, id=subscriber))
    answers = [
        api["ingest_connection_events"].sync(client=client, body=models.ConnectionEventBatch(records=[event])),
        api["ingest_app_sessions"].sync(client=client, body=models.AppSessionBatch(records=[session])),
        api["ingest_usage_records"].sync(client=client, body=models.UsageRecordBatch(records=[usage])),
    ]

    # THEN each is accepted, and reads back: the event in the history, the session and the usage in the figures
    for answer in answers:
        assert isinstance(answer, models.IngestResult)
        assert (answer.accepted, answer.duplicates, answer.rejected) == (1, 0, [])
    history = api["get_connection_history"].sync(
        device.id, client=client, earliest=at - timedelta(minutes=1), latest=clock.now())
    assert isinstance(history, models.DeviceConnectionHistory) and history.is_complete
    [read] = history.connection_history
    assert read.occurred_at == at
    assert {(a.key, a.value) for a in read.connection_event_attributes} >= {("FramedIpAddress", "10.9.8.7"),
                                                                             ("Event", "Start")}
    # The rollups read what was ingested at least ROLLUP_SETTLE_SECONDS (60) ago: the server's clock moves on.
    later = clock.now() + timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    api["run_rollups"].sync(client=client)
    usage_read = api["get_subscriber_data_usage"].sync(
        subscriber, client=client, start_date=at - timedelta(hours=1), end_date=clock.now())
    [by_direction] = usage_read.content
    assert sum(map(int, by_direction.mobile_originated.additional_properties.values())) == 100
    assert sum(map(int, by_direction.mobile_terminated.additional_properties.values())) == 900
    summary = api["get_device_app_connection_summary"].sync(client=client, organization_id=organization.id)
    [row] = summary.results
    assert (row.device_id, row.total_attempts, row.successful_connections) == (device.id, 1, 1)
