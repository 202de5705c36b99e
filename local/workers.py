"""The agent, the rollups' queue consumer and the schedules for `make run`, which `chalice local` does not run
(STYLE fact 9).

Each worker calls the same handler the Lambda runs (`app.handler_map[name]`), with the event AWS
would send, so the local run exercises the deployed code path.
"""
import threading
import time
import uuid
from datetime import UTC, datetime

from chalice.app import Rate
from chalice.local import LambdaContext

from chalicelib import aws
from chalicelib.operations import queue
from chalicelib.rollups import lanes


def _context(name: str) -> LambdaContext:
    return LambdaContext(function_name=name, memory_size=256, max_runtime_ms=30_000)


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """The Lambda event for messages received from SQS (ReceiveMessage with all attributes)."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": aws.session().region_name,
    } for m in messages]}


class QueueWorker:
    """Long-polls a queue (the operations queue unless told) and hands each batch to its handler (the agent unless
    told); deletes what succeeded."""

    def __init__(self, app, handler_name: str = "operations_agent_handler", queue_url=None, batch_size: int = 10,
                 timeout_seconds: int = 30):
        self.handler = app.handler_map[handler_name]
        self.name = handler_name
        self.queue_url = queue_url or queue.queue_url
        self.batch_size = batch_size
        self.timeout_ms = timeout_seconds * 1000

    def poll_once(self, wait_seconds: int = 1) -> int:
        """One receive and one batch; the number of messages handled."""
        sqs = aws.client("sqs")
        url = self.queue_url()
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=self.batch_size, WaitTimeSeconds=wait_seconds,
                                       AttributeNames=["All"]).get("Messages", [])
        if not received:
            return 0
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        context = LambdaContext(function_name=self.name, memory_size=256, max_runtime_ms=self.timeout_ms)
        result = self.handler(sqs_event(received, arn), context) or {}
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(received) if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=done)
        return len(received)


class LaneWorker(QueueWorker):
    """The rollups' queue consumer (aggregate_telemetry): what the event source mapping does deployed."""

    def __init__(self, app):
        # A tick's units get a Lambda's time: the local run has no 15-minute limit, but units are bounded anyway.
        super().__init__(app, "aggregate_telemetry", lanes.queue_url, timeout_seconds=300)


class ScheduleRunner:
    """Fires every @app.schedule handler on its rate (cron expressions are not run locally)."""

    def __init__(self, app):
        self.schedules = [(source.name, _seconds(source.schedule_expression))
                          for source in app.event_sources if hasattr(source, "schedule_expression")]
        self.app = app
        self.next_run = {name: 0.0 for name, _ in self.schedules}

    def run_due(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        fired = []
        for name, every in self.schedules:
            if every and now >= self.next_run[name]:
                self.app.handler_map[name](scheduled_event(), _context(name))
                self.next_run[name] = now + every
                fired.append(name)
        return fired


def scheduled_event() -> dict:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": aws.session().region_name, "resources": [], "detail": {}}


def _seconds(expression) -> float | None:
    if not isinstance(expression, Rate):
        return None
    unit = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}[expression.unit]
    return expression.value * unit


def agent_loop(app, log=print):
    """A BackgroundWorkers worker: poll the operations queue until stopped."""
    return polling_loop(QueueWorker(app), "agent", log)


def lanes_loop(app, log=print):
    """A BackgroundWorkers worker: consume the rollups queue until stopped (make run starts one a lane)."""
    return polling_loop(LaneWorker(app), "rollups", log)


def polling_loop(worker: QueueWorker, label: str, log=print):
    """A BackgroundWorkers worker that polls `worker`'s queue until stopped; an error is shown, not fatal."""
    def loop(stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                worker.poll_once(wait_seconds=1)
            except Exception as error:  # keep the local run alive; the error is shown
                log(f"{label}: {error!r}")
                stopping.wait(1)
    return loop


def bulk_loop(app, log=print):
    """A BackgroundWorkers worker: run the bulk operations' rounds from their queue until stopped (a round sleeps
    between its slices, so it has a thread of its own)."""
    from chalicelib.bulk import queue as bulk_queue

    worker = QueueWorker(app, "bulk_operations_worker", bulk_queue.queue_url, batch_size=1,
                         timeout_seconds=bulk_queue.WORKER_TIMEOUT_SECONDS)
    return polling_loop(worker, "bulk operations", log)


def schedule_loop(app, log=print):
    """A BackgroundWorkers worker: fire the schedules on their rates until stopped."""
    schedules = ScheduleRunner(app)

    def loop(stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                schedules.run_due()
            except Exception as error:
                log(f"schedules: {error!r}")
            stopping.wait(1)
    return loop
