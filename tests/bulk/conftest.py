"""Shared by the bulk operation tests (API.md §11): a controllable clock, the bulk rounds fed from the real moto
queue as Lambda's event source mapping feeds them, and the agent working the operations queue whenever a round
waits between slices (as it would meanwhile, deployed).

`clock` replaces chalicelib.clock's now() and sleep(): a round's sleep moves the time on at once and lets the
agent run, so a rollout of several simulated minutes takes a second or two.
"""
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from chalice.local import LambdaContext

from app import app
from chalicelib import clock as real_clock
from chalicelib.bulk import queue as bulk_queue
from chalicelib.bulk.models import FINAL
from local.workers import sqs_event
from tests.operations import conftest as operations_fixtures
from tests.operations.conftest import Agent, Fleet, queue_depth, sqs

BULKS = "/bulk_operations/"
# The operations tests' fleet (one organization and type, the simulated driver with a short timeout) and agent.
fleet, agent, fast_driver = operations_fixtures.fleet, operations_fixtures.agent, operations_fixtures.fast_driver


@dataclass
class Clock:
    """The time the code sees; sleeping moves it on and runs what happens meanwhile (the agent)."""
    at: datetime
    meanwhile: list = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        for work in self.meanwhile:
            work()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    controlled = Clock(real_clock.now())
    monkeypatch.setattr(real_clock, "now", controlled.now)
    monkeypatch.setattr(real_clock, "sleep", controlled.sleep)
    return controlled


def worker_context() -> LambdaContext:
    return LambdaContext("bulk_operations_worker", 256, bulk_queue.WORKER_TIMEOUT_SECONDS * 1000)


class Rollouts:
    """Bulk operations over the HTTP API, and their background rounds run from the real queue."""

    def __init__(self, fleet: Fleet, agent: Agent, clock: Clock):
        self.fleet, self.api, self.agent, self.clock = fleet, fleet.api, agent, clock
        self.agent_runs = True
        clock.meanwhile.append(self.work_agent)

    def start(self, body: dict, token=..., status: int = 202) -> dict:
        response = self.api.post(BULKS, body, token=token)
        assert response.status_code == status, response.body
        return response.json_body

    def get(self, bulk_id: int, token=...) -> dict:
        response = self.api.get(f"{BULKS}{bulk_id}/", token=token)
        assert response.status_code == 200, response.body
        return response.json_body

    def devices(self, bulk_id: int, query: str = "") -> list[dict]:
        response = self.api.get(f"{BULKS}{bulk_id}/devices/?limit=500{query}")
        assert response.status_code == 200, response.body
        return response.json_body["results"]

    def act(self, bulk_id: int, action: str):
        return self.api.post(f"{BULKS}{bulk_id}/{action}/")

    def round(self) -> str | None:
        """Receive one round's message, run it as the event source mapping would; None when there is none."""
        url = bulk_queue.queue_url()
        received = sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]).get(
            "Messages", [])
        if not received:
            return None
        arn = sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        answer = app.handler_map["bulk_operations_worker"](sqs_event(received, arn), worker_context())
        assert answer["batchItemFailures"] == [], answer
        sqs().delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
        return json.loads(received[0]["Body"])

    def run(self, bulk_id: int, until=lambda bulk: bulk["state"] in FINAL and bulk_closed(bulk), rounds: int = 60):
        """Rounds (and the agent between slices) until `until(bulk)`; the bulk operation then."""
        for _ in range(rounds):
            bulk = self.get(bulk_id)
            if until(bulk):
                return bulk
            if self.round() is None:
                self.work_agent()
                if self.round() is None:
                    raise AssertionError(f"no round is asked for, and the bulk operation is {bulk}")
        bulk = self.get(bulk_id)
        assert until(bulk), f"not done after {rounds} rounds: {bulk}"
        return bulk

    def work_agent(self) -> None:
        """Deliver every operation message there is (failures retried at once), as the agent does meanwhile."""
        if not self.agent_runs:
            return
        for _ in range(100):
            delivery = self.agent.deliver()
            if not delivery.messages:
                return
            self.agent.backoff_passed(delivery)
        raise AssertionError(f"the operations queue still holds {queue_depth()} messages")


def bulk_closed(bulk: dict) -> bool:
    """Final, and its in-flight operations done: progress holds no queued or dispatched device."""
    return bulk["progress"]["queued"] == 0 and bulk["progress"]["dispatched"] == 0


@pytest.fixture
def rollouts(fleet, agent, clock) -> Rollouts:
    return Rollouts(fleet, agent, clock)


def rollout(fleet: Fleet, operation: str = "reboot", **extra) -> dict:
    """A request body targeting the fleet's organization."""
    return {"operation": operation, "target": {"organization_id": fleet.organization}, **extra}
