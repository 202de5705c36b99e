"""The rollups' queue: its declaration (one source for tests, make run and the template), the lanes, and every
message a lane receives (docs/rollups.md, "Messages").

A FIFO queue whose message groups are the lanes: SQS hands a group's messages to one consumer at a time, in the
order they were sent. Device d belongs to lane d % ROLLUP_LANES. A lane has two groups: its inbox (`lane-<n>-in`:
records, device changes, purges, and the ticks of the schedule and of POST /admin/rollups/), which only appends to the
lane's pending log and passes each tick on, in order, to its compute group (`lane-<n>`: ticks, which run the units).
So a tick's units never hold up what ingest tells the lane, and a tick still follows everything told before it.
"""
import json
import uuid
from typing import Annotated, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import ServiceUnavailable
from chalicelib.operations import queue as operations_queue

# A tick's unit may run for most of the worker's 300 s; SQS must not hand the lane to a second consumer meanwhile.
VISIBILITY_TIMEOUT_SECONDS = 1800
MAX_RECEIVES = 10                  # then the message moves to the dead-letter queue (an alarm fires)
RETENTION_SECONDS = 14 * 24 * 3600  # the most SQS keeps a message; pending work itself waits in the table
MESSAGE_ENTRIES = 2000             # per message: ~40 bytes each, far below SQS's 256 KB
KINDS = ("connection_event", "app_session", "usage")


dead_letter_queue_name = operations_queue.dead_letter_queue_name
dead_letter_attributes = operations_queue.dead_letter_attributes


def queue_attributes(dead_letter_arn: str) -> dict[str, str]:
    return operations_queue.fifo_attributes(dead_letter_arn, VISIBILITY_TIMEOUT_SECONDS, MAX_RECEIVES,
                                            RETENTION_SECONDS) | operations_queue.HIGH_THROUGHPUT


def queue_url() -> str:
    return operations_queue.url_of(get_settings().rollup_queue_name)


def lane_count() -> int:
    return get_settings().rollup_lanes


def lane_of(device_id: int) -> int:
    return int(device_id) % lane_count()


def group_of(lane: int) -> str:
    """The lane's compute group: its ticks."""
    return f"lane-{lane}"


def inbox_of(lane: int) -> str:
    """The lane's inbox: what it is told, and the ticks it passes on."""
    return f"lane-{lane}-in"


def lane_of_group(group: str) -> int:
    return int(group.removeprefix("lane-").removesuffix("-in"))


def is_inbox(group: str) -> bool:
    return group.endswith("-in")


# --- messages ------------------------------------------------------------------------------------

class RecordsMessage(BaseModel):
    """(device, organization, hour, kind) of the records an ingest batch wrote into the lane's devices."""
    type: Literal["records"]
    entries: list[tuple[int, int, str, Literal[KINDS]]]


class DeviceChange(BaseModel):
    device_id: int
    organizations: list[int]         # where its summaries may be: the old and new organization of a move
    created: dict | None = None      # the device as its create entry recorded it, when that is all that happened


class DevicesMessage(BaseModel):
    type: Literal["devices"]
    changes: list[DeviceChange]


class PurgeMessage(BaseModel):
    type: Literal["purge"]
    device_id: int


class TickMessage(BaseModel):
    type: Literal["tick"]
    at: str                          # clock.iso: the time the lane's figures are brought to
    id: str
    # Set by the inbox as it passes the tick on: the pending items written before (their sort keys up to it). The
    # inbox goes on appending while the units run; a tick takes what was there when it was passed, and ends.
    upto: str | None = None


LaneMessage = Annotated[RecordsMessage | DevicesMessage | PurgeMessage | TickMessage, Field(discriminator="type")]


def _send(messages: list[tuple[str, dict]]) -> None:
    """SendMessageBatch, 10 a request; any failure is a 503 for the caller (nothing it acknowledged is lost: ingest
    has written no guard yet, so a retried batch is new again).

    Raises:
        ServiceUnavailable: SQS refused or could not be reached.
    """
    sqs, url = aws.client("sqs"), queue_url()
    entries = [{"Id": str(n), "MessageBody": json.dumps(body, separators=(",", ":")), "MessageGroupId": group,
                "MessageDeduplicationId": uuid.uuid4().hex} for n, (group, body) in enumerate(messages)]
    try:
        for start in range(0, len(entries), 10):
            answer = sqs.send_message_batch(QueueUrl=url, Entries=entries[start:start + 10])
            if answer.get("Failed"):
                raise ServiceUnavailable("The rollups queue refused a message; retry later.")
    except (ClientError, BotoCoreError) as error:
        raise ServiceUnavailable("The rollups queue is unavailable; retry later.") from error


def announce_records(buckets: set[tuple[int, int, str, str]]) -> None:
    """Tell each lane which (organization, device, hour, kind) buckets an ingest batch wrote records into."""
    by_lane: dict[int, list] = {}
    for organization_id, device_id, hour, kind in sorted(buckets):
        by_lane.setdefault(lane_of(device_id), []).append([device_id, organization_id, hour, kind])
    _send([(inbox_of(lane), {"type": "records", "entries": entries[start:start + MESSAGE_ENTRIES]})
           for lane, entries in sorted(by_lane.items()) for start in range(0, len(entries), MESSAGE_ENTRIES)])


def send_device_changes(changes: list[DeviceChange]) -> None:
    by_lane: dict[int, list] = {}
    for change in changes:
        by_lane.setdefault(lane_of(change.device_id), []).append(change.model_dump())
    chunk = 500   # a create snapshot is a few hundred bytes
    _send([(inbox_of(lane), {"type": "devices", "changes": items[start:start + chunk]})
           for lane, items in sorted(by_lane.items()) for start in range(0, len(items), chunk)])


def send_purge(device_id: int) -> None:
    _send([(inbox_of(lane_of(device_id)), {"type": "purge", "device_id": int(device_id)})])


def send_ticks(at: str, tick_id: str, lanes: list[int] | None = None) -> None:
    """A tick to each lane's inbox, behind everything it has been told."""
    _send([(inbox_of(lane), {"type": "tick", "at": at, "id": tick_id})
           for lane in (range(lane_count()) if lanes is None else lanes)])


def pass_tick(lane: int, at: str, tick_id: str, upto: str) -> None:
    """A tick to the lane's compute group: from its inbox once what came before is in the pending log (`upto` the
    sort key bound of those pending items), or again from a tick that ran out of time."""
    _send([(group_of(lane), {"type": "tick", "at": at, "id": tick_id, "upto": upto})])
