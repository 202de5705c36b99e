"""Shared by the remote-operation tests (API.md §3): a fleet of simulated devices, the operations queue seen
from outside, and the agent fed from the real moto queue as Lambda's event source mapping feeds it.

`Agent.deliver()` receives a batch from the queue, invokes the handler through `client.lambda_.invoke`,
and deletes what succeeded, as the event source mapping does (and local.workers.QueueWorker in `make run`).
`sqs_event()` builds batches by hand, one messageId per record (STYLE fact 4), for what the queue would
not form on its own: the same message twice in one batch.
"""
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from chalice.local import LambdaContext

from app import app
from chalicelib import aws, clock
from chalicelib.config import get_settings
from chalicelib.operations import queue
from chalicelib.store import schema
from local.workers import sqs_event as received_event
from tests.factories import Api

# Small, so that a device that does not answer costs a test little time.
DRIVER_TIMEOUT_SECONDS = 0.3
# Long enough for a test to act while the agent waits for the device (see `Agent.in_background`), and
# within the timeout of `patient_driver`.
SLOW_DEVICE_MS = 900
PATIENT_DRIVER_TIMEOUT_SECONDS = 5.0


def _driver_timeout(monkeypatch, seconds: float) -> None:
    monkeypatch.setenv("DRIVER_TIMEOUT_SECONDS", str(seconds))
    get_settings.cache_clear()
    # Read now, outside any request: the test client's requests see the stage's variables too (another
    # queue name than the one `client` provisioned).
    assert get_settings().driver_timeout_seconds == seconds


@pytest.fixture
def fast_driver(monkeypatch):
    _driver_timeout(monkeypatch, DRIVER_TIMEOUT_SECONDS)
    yield
    get_settings.cache_clear()


@pytest.fixture
def patient_driver(fleet, monkeypatch):
    """The agent waits for a slow device (SLOW_DEVICE_MS) instead of timing out."""
    _driver_timeout(monkeypatch, PATIENT_DRIVER_TIMEOUT_SECONDS)


# --- the fleet, through the HTTP API -----------------------------------------------------------------

@dataclass
class Fleet:
    """One organization and device type, with helpers over the HTTP API."""
    api: Api
    organization: int
    type: int

    def device(self, **overrides) -> dict:
        return self.api.device(self.organization, self.type, **overrides)

    def read(self, device_id: int, query: str = "") -> dict:
        response = self.api.get(f"/inventory_device/{device_id}/{query}")
        assert response.status_code == 200, response.body
        return response.json_body

    def patch(self, device_id: int, body: dict, **kw):
        return self.api.patch(f"/inventory_device/{device_id}/", body, **kw)

    def request(self, device_id: int, body: dict, **kw) -> dict:
        """A PATCH that must succeed; the device as answered."""
        response = self.patch(device_id, body, **kw)
        assert response.status_code == 200, response.body
        return response.json_body

    def operations(self, device_id: int, query: str = "?limit=100") -> list[dict]:
        response = self.api.get(f"/inventory_device/{device_id}/operations/{query}")
        assert response.status_code == 200, response.body
        return response.json_body["results"]

    def operation(self, device_id: int, operation_id: int) -> dict:
        response = self.api.get(f"/inventory_device/{device_id}/operations/{operation_id}/")
        assert response.status_code == 200, response.body
        return response.json_body

    def behave(self, device_id: int, **behaviour) -> None:
        """How the simulated device answers (PUT /admin/simulator/{id}/ replaces it whole)."""
        response = self.api.put(f"/admin/simulator/{device_id}/", behaviour)
        assert response.status_code == 200, response.body

    def audit(self, device_id: int, action: str | None = None) -> list[dict]:
        query = f"&action={action}" if action else ""
        response = self.api.get(f"/audit_log/?device_id={device_id}&limit=200{query}")
        assert response.status_code == 200, response.body
        return response.json_body["results"]

    def firmware(self, version: str = "2.5.0", types: list[int] | None = None) -> dict:
        response = self.api.post("/admin/firmware_images/", {
            "version": version, "url": f"https://firmware.example.com/rt5500-{version}.bin",
            "checksum": "ab" * 32, "device_types": types or [self.type]})
        assert response.status_code == 201, response.body
        return response.json_body


@pytest.fixture
def fleet(api, fast_driver) -> Fleet:
    return Fleet(api, api.organization(), api.device_type())


# --- the queue, seen from outside ---------------------------------------------------------------------

def sqs():
    return aws.client("sqs")


def queue_arn(url: str | None = None) -> str:
    return sqs().get_queue_attributes(QueueUrl=url or queue.queue_url(),
                                      AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def dead_letter_url() -> str:
    name = queue.dead_letter_queue_name(get_settings().operations_queue_name)
    return sqs().get_queue_url(QueueName=name)["QueueUrl"]


def queue_depth(url: str | None = None) -> int:
    """Every message the queue holds: visible, in flight and delayed."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    attributes = sqs().get_queue_attributes(QueueUrl=url or queue.queue_url(), AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def visible_messages(url: str | None = None) -> int:
    return int(sqs().get_queue_attributes(QueueUrl=url or queue.queue_url(), AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])


def redeliver_at_once() -> None:
    """A message that is received and not deleted comes back at once (instead of after 180 s)."""
    sqs().set_queue_attributes(QueueUrl=queue.queue_url(), Attributes={"VisibilityTimeout": "0"})


def send_raw(body: str, group: str = "stray") -> str:
    """A message that did not come from our producer; its MessageId."""
    return sqs().send_message(QueueUrl=queue.queue_url(), MessageBody=body, MessageGroupId=group,
                              MessageDeduplicationId=str(uuid.uuid4()))["MessageId"]


def sqs_event(bodies: list[dict | str], receive_count: int = 1) -> dict:
    """A Lambda SQS event as the FIFO queue's event source mapping sends it, one messageId per record."""
    arn = queue_arn()
    records = []
    for sequence, body in enumerate(bodies, start=1):
        text = body if isinstance(body, str) else json.dumps(body)
        group = f"device-{body['device_id']}" if isinstance(body, dict) and "device_id" in body else "stray"
        records.append({
            "messageId": str(uuid.uuid4()), "receiptHandle": f"handle-{uuid.uuid4()}", "body": text,
            "attributes": {"ApproximateReceiveCount": str(receive_count),
                           "SentTimestamp": str(int(time.time() * 1000)), "SenderId": "AIDAEXAMPLE",
                           "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                           "SequenceNumber": f"{sequence:020d}", "MessageGroupId": group,
                           "MessageDeduplicationId": str(uuid.uuid4())},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": arn,
            "awsRegion": "us-east-1"})
    return {"Records": records}


# --- the agent ------------------------------------------------------------------------------------------

@dataclass
class Delivery:
    """One batch the agent was handed: the messages, and the ids it reported failed."""
    messages: list[dict] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)

    def failed_bodies(self) -> list[dict]:
        return [json.loads(m["Body"]) for m in self.messages if m["MessageId"] in self.failed]


def agent_context() -> LambdaContext:
    """A Lambda context with the agent's deployed timeout."""
    return LambdaContext("operations_agent_handler", 256, queue.AGENT_TIMEOUT_SECONDS * 1000)


class Agent:
    """The operations agent fed from the real queue, as the event source mapping feeds it."""

    def __init__(self, client):
        self.client = client

    def deliver(self) -> Delivery:
        """Receive one batch, invoke the agent, delete what it did not report failed.

        The handler is called as local.workers.QueueWorker calls it, with the deployed timeout: the test client's
        invoke gives every function 3 s (the agent would hand every message back) and swaps os.environ for its
        call, which two threads at once would leave swapped.
        """
        url = queue.queue_url()
        received = sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                         AttributeNames=["All"]).get("Messages", [])
        if not received:
            return Delivery()
        event = received_event(received, queue_arn())
        answer = self.invoke(event)
        failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(received) if m["MessageId"] not in failed]
        if done:
            sqs().delete_message_batch(QueueUrl=url, Entries=done)
        return Delivery(received, failed)

    def invoke(self, event: dict) -> dict:
        return app.handler_map["operations_agent_handler"](event, agent_context())

    @staticmethod
    def backoff_passed(delivery: Delivery) -> None:
        """The failed messages of a delivery become visible now, as they would once their backoff ran out."""
        for message in delivery.messages:
            if message["MessageId"] in delivery.failed:
                sqs().change_message_visibility(QueueUrl=queue.queue_url(), ReceiptHandle=message["ReceiptHandle"],
                                                VisibilityTimeout=0)

    def drain(self, rounds: int = 10) -> list[Delivery]:
        """Deliver until the queue is empty, every failure retried at once."""
        deliveries = []
        for _ in range(rounds):
            delivery = self.deliver()
            if not delivery.messages:
                return deliveries
            deliveries.append(delivery)
            self.backoff_passed(delivery)
        raise AssertionError(f"the queue still holds {queue_depth()} messages")

    def in_background(self) -> "Background":
        """Deliver one batch in a thread (the test acts while the agent waits for a slow device)."""
        return Background(self.deliver)


class Background:
    def __init__(self, work: Callable[[], Delivery]):
        self.result: Delivery | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self.thread.start()

    def _run(self, work) -> None:
        try:
            self.result = work()
        except BaseException as error:  # re-raised in the test's thread by join()
            self.error = error

    def join(self, timeout: float = 10) -> Delivery:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the agent did not finish"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def agent(client) -> Agent:
    return Agent(client)


def wait_for_state(fleet: Fleet, device_id: int, operation_id: int, state: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = fleet.operation(device_id, operation_id)
        if operation["state"] == state:
            return operation
        time.sleep(0.02)
    raise AssertionError(f"operation {operation_id} never became {state}: {operation}")


def backdate(device_id: int, operation_id: int, minutes: int) -> None:
    """Store the operation as if it had been requested `minutes` earlier (its deadline moves with it)."""
    table = aws.dynamodb()
    key = schema.operation_key(device_id, operation_id)
    item = table.get_item(TableName=get_settings().table_name, Key=key, ConsistentRead=True)["Item"]
    created = clock.parse_iso(item["created"]) - timedelta(minutes=minutes)
    deadline = clock.parse_iso(item["deadline"]) - timedelta(minutes=minutes)
    values = {"created": clock.iso(created), "deadline": clock.iso(deadline),
              **schema.open_operation_keys(clock.iso(deadline), device_id, operation_id)}
    table.update_item(TableName=get_settings().table_name, Key=key,
                      UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
                      ExpressionAttributeNames={f"#{k}": k for k in values},
                      ExpressionAttributeValues={f":{k}": v for k, v in values.items()})
