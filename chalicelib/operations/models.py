"""Remote operations (API.md §3): names, states, the queue message and request models."""
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.drivers.protocol import OperationName  # noqa: F401 (re-exported: the names drivers carry out)
from chalicelib.paging import PageQuery

# The order in which the operations of one PATCH are queued: wipe first, then install, configure, reboot last.
QUEUE_ORDER: tuple[str, ...] = ("factory", "device_factory", "firmware_update", "reconf", "sync", "debug", "reboot")
# Never sent twice once the device may have received them: an uncertain outcome is final.
DESTRUCTIVE = frozenset({"reboot", "factory", "device_factory"})
UNFINISHED = ("queued", "dispatched")
FINISHED = ("succeeded", "failed", "timed_out", "cancelled")
# Driver calls retried for non-destructive operations (transient errors), with backoff between them.
MAX_ATTEMPTS = 3
DEADLINE_MINUTES = {"firmware_update": 60}
DEFAULT_DEADLINE_MINUTES = 15

PUBLIC_FIELDS = ("id", "device_id", "operation", "parameters", "state", "attempts", "error", "requested_by",
                 "created", "updated", "finished", "bulk_operation_id")


class OperationMessage(BaseModel):
    """What the queue carries: which operation, never the request itself."""
    model_config = ConfigDict(extra="forbid")

    device_id: int = Field(ge=1)
    operation_id: int = Field(ge=1)
    # Set for an operation a bulk operation requested: the agent cancels it, rather than send it, once the bulk
    # operation was cancelled or aborted.
    bulk_operation_id: int | None = Field(default=None, ge=1)


class OperationListQuery(PageQuery):
    pass
