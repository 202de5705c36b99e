"""What real DynamoDB does and moto does not, injected at our boto3 clients (tests/concurrency/faults.py):
transactions cancelled by a concurrent one are sent again and succeed, once; throttling and timeouts that
outlast the retries answer 503 with Retry-After and write nothing."""
import pytest

from chalicelib.store import retries
from tests.concurrency import faults

DEVICES = "/inventory_device/"


@pytest.fixture
def fleet(api):
    organization, device_type = api.organization(), api.device_type()
    return {"organization": organization, "type": device_type,
            "device": api.device(organization, device_type, status="Down", description="before")}


def _count(api, organization, **filters) -> int:
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    return api.get(f"{DEVICES}?organization={organization}&limit=1&{query}").json_body["count"]


def _trail(api, device_id: int) -> list[dict]:
    return api.get(f"/audit_log/?device_id={device_id}").json_body["results"]


def test_create_whose_first_attempts_conflict_is_201_and_written_once(api, fleet):
    body = {"name": "retried", "serial_number": "SN-RETRIED", "type": fleet["type"],
            "organization_id": fleet["organization"]}
    with faults.answering("TransactWriteItems", faults.transaction_conflict, faults.first(2)) as conflicts:
        created = api.post(DEVICES, body)
    assert created.status_code == 201, created.body
    assert (conflicts.refused, conflicts.seen) == (2, 3)
    assert _count(api, fleet["organization"]) == 2
    assert [entry["action"] for entry in _trail(api, created.json_body["id"])] == ["create"]
    assert api.post(DEVICES, body).status_code == 409      # its serial number's guard was written with it


def test_patch_whose_first_attempts_conflict_is_200_and_audited_once(api, fleet):
    path = f"{DEVICES}{fleet['device']['id']}/"
    with faults.answering("TransactWriteItems", faults.transaction_conflict, faults.first(3)) as conflicts:
        patched = api.patch(path, {"description": "after"})
    assert patched.status_code == 200, patched.body
    assert conflicts.refused == 3
    assert patched.json_body["description"] == "after"
    updates = [entry for entry in _trail(api, fleet["device"]["id"]) if entry["action"] == "update"]
    assert [entry["changes"] for entry in updates] == [{"description": {"old": "before", "new": "after"}}]


def test_status_change_whose_first_attempts_conflict_moves_the_counts_once(api, fleet):
    path = f"{DEVICES}{fleet['device']['id']}/"
    with faults.answering("TransactWriteItems", faults.transaction_conflict, faults.first(2)):
        patched = api.patch(path, {"status": "Up"})
    assert patched.status_code == 200, patched.body
    assert (_count(api, fleet["organization"], status=1), _count(api, fleet["organization"], status=0)) == (1, 0)


def test_a_single_write_held_by_a_transaction_is_sent_again(api, fleet):
    # The per-minute rate counter (UpdateItem ADD) of this very request meets a transaction on its item once.
    with faults.answering("UpdateItem", faults.single_write_conflict, faults.first(1)) as conflicts:
        read = api.get(f"{DEVICES}{fleet['device']['id']}/")
    assert read.status_code == 200 and conflicts.refused == 1


@pytest.mark.parametrize("method, body", [("POST", "new"), ("PATCH", {"status": "Up", "description": "x"}),
                                          ("DELETE", None)])
def test_throttling_past_the_retries_is_503_with_retry_after_and_writes_nothing(api, fleet, refused, stored,
                                                                               method, body):
    path = DEVICES if method == "POST" else f"{DEVICES}{fleet['device']['id']}/"
    if body == "new":
        body = {"name": "n", "serial_number": "SN-THROTTLED", "type": fleet["type"],
                "organization_id": fleet["organization"]}
    before = stored()
    with faults.answering("TransactWriteItems", faults.throttled):
        answer = api.call(method, path, body)
    refused(answer, 503, "SERVICE_UNAVAILABLE")
    assert int(answer.headers["Retry-After"]) >= 1
    assert stored() == before


def test_conflicts_that_outlast_the_retries_are_503_and_write_nothing(api, fleet, refused, stored):
    before = stored()
    with faults.answering("TransactWriteItems", faults.transaction_conflict) as conflicts:
        answer = api.patch(f"{DEVICES}{fleet['device']['id']}/", {"description": "never"})
    refused(answer, 503, "SERVICE_UNAVAILABLE")
    assert conflicts.seen == retries.ATTEMPTS
    assert stored() == before


def test_a_write_that_keeps_timing_out_is_retried_by_botocore_then_503_and_writes_nothing(api, fleet, refused,
                                                                                         stored):
    before = stored()
    with faults.timing_out("TransactWriteItems") as timeouts:
        answer = api.patch(f"{DEVICES}{fleet['device']['id']}/", {"description": "lost"})
    refused(answer, 503, "SERVICE_UNAVAILABLE")
    assert "Retry-After" in answer.headers
    assert timeouts.seen == 4      # botocore's standard mode as configured (chalicelib/aws.py): 1 + 3 retries
    # Each re-send carried the same ClientRequestToken: had the first committed unseen, DynamoDB would not
    # apply the re-sends again.
    [token] = set(timeouts.request_tokens)
    assert token
    assert stored() == before


def test_a_throttled_read_is_503(api, fleet, refused):
    with faults.answering("GetItem", faults.throttled):
        answer = api.get(f"{DEVICES}{fleet['device']['id']}/")
    refused(answer, 503, "SERVICE_UNAVAILABLE")


def test_a_throttled_idempotency_record_is_503_and_creates_nothing(api, fleet, refused, stored):
    before = stored()
    with faults.answering("PutItem", faults.throttled):
        answer = api.post(DEVICES, {"name": "n", "serial_number": "SN-IDEM", "type": fleet["type"],
                                    "organization_id": fleet["organization"]}, headers={"Idempotency-Key": "k-1"})
    refused(answer, 503, "SERVICE_UNAVAILABLE")
    assert stored() == before


def test_kms_unavailable_for_a_password_is_503_and_creates_nothing(api, fleet, refused, stored):
    before = stored()
    with faults.answering("Encrypt", faults.kms_unavailable, service="kms") as kms:
        answer = api.post(DEVICES, {"name": "n", "serial_number": "SN-KMS", "type": fleet["type"],
                                    "organization_id": fleet["organization"], "password": "s3cret-pass"})
    refused(answer, 503, "SERVICE_UNAVAILABLE")
    assert kms.refused == 1 and stored() == before
