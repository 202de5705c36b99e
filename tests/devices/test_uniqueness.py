"""Serial numbers and network identifiers are unique system-wide (API.md §2), under every write and under races."""
import threading

import pytest

from chalicelib.devices import service
from chalicelib.devices.models import DeviceCreate
from chalicelib.errors import Conflict
from chalicelib.tokens.service import authenticate
from tests.devices.support import DEVICES, audit_of, device_path, world
from tests.factories import device_body, imei


@pytest.fixture
def ids(api) -> tuple[int, int]:
    return api.organization(), api.device_type()


def _conflict(refused, response, field: str) -> None:
    error = refused(response, 409, "DUPLICATE_VALUE")
    assert [d["field"] for d in error["details"]] == [field]


def test_create_with_a_duplicate_serial_is_409_naming_it_and_writes_nothing(api, refused, ids):
    api.device(*ids, serial_number="ZEQ240100001")
    before = world(api)
    _conflict(refused, api.post(DEVICES, device_body(*ids, serial_number="ZEQ240100001")), "serial_number")
    assert world(api) == before


def test_create_with_a_serial_differing_only_in_case_is_409(api, refused, ids):
    api.device(*ids, serial_number="zeq-abc-1")
    before = world(api)
    _conflict(refused, api.post(DEVICES, device_body(*ids, serial_number="ZEQ-ABC-1")), "serial_number")
    assert world(api) == before


def test_serials_are_unique_across_organizations(api, refused, ids):
    api.device(*ids, serial_number="SHARED-1")
    _conflict(refused, api.post(DEVICES, device_body(api.organization(), ids[1], serial_number="SHARED-1")),
              "serial_number")


@pytest.mark.parametrize(("kind", "value", "again"), [
    ("imei", imei(1), imei(1)), ("iccid", "89014103211118510720", "89014103211118510720"),
    ("meid", "A10000009296F2", "a1-00-00-00-92-96-f2"), ("msisdn", "+4915123456789", "4915123456789"),
])
def test_create_with_a_duplicate_identifier_is_409_naming_it_and_writes_nothing(api, refused, ids, kind, value,
                                                                                 again):
    api.device(*ids, identifiers={kind: value})
    before = world(api)
    response = api.post(DEVICES, device_body(*ids, identifiers={"imsi": "310150123456789", kind: again}))
    _conflict(refused, response, f"identifiers.{kind}")
    assert world(api) == before


def test_one_value_under_two_identifier_kinds_is_no_conflict(api, ids):
    api.device(*ids, identifiers={"mdn": "6175551234"})
    assert api.post(DEVICES, device_body(*ids, identifiers={"msisdn": "6175551234"})).status_code == 201


def test_create_duplicating_serial_and_identifier_names_both(api, refused, ids):
    api.device(*ids, serial_number="BOTH-1", identifiers={"imei": imei(2)})
    error = refused(api.post(DEVICES, device_body(*ids, serial_number="both-1", identifiers={"imei": imei(2)})),
                    409, "DUPLICATE_VALUE")
    assert {d["field"] for d in error["details"]} == {"serial_number", "identifiers.imei"}


@pytest.mark.parametrize(("method", "field", "value"), [
    ("patch", "serial_number", "TAKEN-1"), ("put", "serial_number", "taken-1"),
    ("patch", "identifiers", {"imei": imei(3)}),
])
def test_writing_another_devices_unique_value_is_409_and_leaves_the_device_unchanged(api, refused, ids, method,
                                                                                      field, value):
    # GIVEN a device holding the value, and another one
    api.device(*ids, serial_number="TAKEN-1", identifiers={"imei": imei(3)})
    device = api.device(*ids, serial_number="MINE-1", identifiers={"imei": imei(4)})
    before, stored = world(api), api.get(device_path(device))
    # WHEN the other one is given the taken value
    body = {field: value}
    if method == "put":
        body = {k: device[k] for k in ("name", "type", "organization_id")} | body
    response = getattr(api, method)(device_path(device), body)
    # THEN it is refused naming the field, and nothing changed
    _conflict(refused, response, "serial_number" if field == "serial_number" else "identifiers.imei")
    after = api.get(device_path(device))
    assert (after.json_body, after.headers["ETag"]) == (stored.json_body, stored.headers["ETag"])
    assert world(api) == before


def test_a_device_may_change_the_case_of_its_own_serial(api, ids):
    device = api.device(*ids, serial_number="case-1")
    response = api.patch(device_path(device), {"serial_number": "CASE-1"})
    assert response.status_code == 200, response.body
    assert response.json_body["serial_number"] == "CASE-1"


def test_changing_a_serial_frees_the_old_one(api, ids):
    device = api.device(*ids, serial_number="OLD-SERIAL")
    assert api.patch(device_path(device), {"serial_number": "NEW-SERIAL"}).status_code == 200
    assert api.post(DEVICES, device_body(*ids, serial_number="old-serial")).status_code == 201


def test_changing_identifiers_frees_the_ones_dropped(api, ids):
    device = api.device(*ids, identifiers={"imei": imei(5), "imsi": "310150123456789"})
    assert api.patch(device_path(device), {"identifiers": {"imsi": "310150123456789"}}).status_code == 200
    assert api.post(DEVICES, device_body(*ids, identifiers={"imei": imei(5)})).status_code == 201


def test_put_without_identifiers_frees_them(api, ids):
    device = api.device(*ids, identifiers={"iccid": "89014103211118510720"})
    body = {k: device[k] for k in ("name", "type", "organization_id", "serial_number")}
    assert api.put(device_path(device), body).json_body["identifiers"] is None
    assert api.post(DEVICES, device_body(*ids, identifiers={"iccid": "89014103211118510720"})).status_code == 201


def test_deleting_a_device_frees_its_serial_and_identifiers(api, ids):
    device = api.device(*ids, serial_number="GONE-1", identifiers={"imei": imei(6), "eid": "1" * 32})
    assert api.delete(device_path(device)).status_code == 204
    again = api.post(DEVICES, device_body(*ids, serial_number="GONE-1", identifiers={"imei": imei(6),
                                                                                     "eid": "1" * 32}))
    assert again.status_code == 201, again.body


def test_concurrent_creates_with_one_serial_make_exactly_one_device(api, ids):
    # GIVEN eight writers that start together, each creating a device with the same serial number
    # (the service is called directly: chalice's test client keeps the current request on the shared app)
    principal = authenticate(api.platform)
    writers = 8
    start = threading.Barrier(writers)
    created, conflicts, failures = [], [], []

    def create(n: int) -> None:
        body = DeviceCreate.model_validate(device_body(*ids, name=f"racer-{n}", serial_number="RACE-1"))
        start.wait()
        try:
            created.append(service.create_device(principal, body)[0])
        except Conflict as conflict:
            conflicts.append(conflict)
        except Exception as error:  # any other outcome is reported below, with the writer that met it
            failures.append((n, error))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # THEN exactly one wins, the others are told the serial is taken, and one device exists
    assert failures == []
    assert len(created) == 1
    assert len(conflicts) == writers - 1
    assert {c.code for c in conflicts} == {"DUPLICATE_VALUE"}
    listing = api.get(f"{DEVICES}?limit=100").json_body
    assert listing["count"] == 1
    assert [d["id"] for d in listing["results"]] == [created[0]["id"]]
    assert [e["action"] for e in audit_of(api, created[0]["id"])] == ["create"]
