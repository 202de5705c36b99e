"""Bulk operations (API.md §11): the request, its parts, the queries, and what the API answers."""
import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from chalicelib.ids import Id, whole
from chalicelib.operations.models import OperationName
from chalicelib.paging import PageQuery

State = Literal["scheduled", "in_progress", "paused", "completed", "aborted", "cancelled"]
FINAL: tuple[str, ...] = ("completed", "aborted", "cancelled")
# Where a device of the target stands: not reached yet, its operation's state, or passed over.
TargetState = Literal["pending", "queued", "dispatched", "succeeded", "failed", "timed_out", "cancelled", "skipped"]
TARGET_STATES: tuple[str, ...] = TargetState.__args__
COUNTED = TARGET_STATES[1:]       # held by the progress counters; `pending` is what remains of target_count
OUTCOMES = ("succeeded", "failed", "timed_out")   # what `min_finished` and the failure ratio count
MAX_DEVICE_IDS = 10_000
MAX_RATE = 10_000
# Asked of a reset (API.md §11): without it, the request is refused.
NEEDS_CONFIRM = ("factory", "device_factory")


Rate = whole(1, MAX_RATE)


def _not_bool(value: Any) -> Any:
    # true is not the number 1 (API.md §1).
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


class Target(BaseModel):
    """Which devices: filters that combine with AND. Needs at least one key."""
    model_config = ConfigDict(extra="forbid")

    organization_id: Id | None = None
    all_organizations: bool = False
    type: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = None
    status: Literal[0, 1] | None = Field(default=None, description="1 = Up, 0 = Down")
    firmware_image: Id | None = None
    device_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_DEVICE_IDS)] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_not_bool(cls, value):
        return _not_bool(value)

    @model_validator(mode="after")
    def _at_least_one_key(self):
        if not (self.model_fields_set - {"all_organizations"} or self.all_organizations):
            raise ValueError("target needs at least one of organization_id, all_organizations, type, status, "
                             "firmware_image, device_ids")
        if self.all_organizations and self.organization_id is not None:
            raise ValueError("organization_id and all_organizations contradict each other")
        return self

    def described(self) -> dict:
        """The target as stored and shown: the keys given (device ids apart, in their own items)."""
        return self.model_dump(exclude_defaults=True, exclude={"device_ids"})


class Ramp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_per_minute: Rate
    increment_factor: Annotated[float, BeforeValidator(_not_bool), Field(ge=1.1, le=5)]
    every_succeeded: whole(1, 1_000_000)


class Rollout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_per_minute: Rate = 100
    ramp: Ramp | None = None

    @model_validator(mode="after")
    def _ramp_below_max(self):
        if self.ramp is not None and self.ramp.base_per_minute > self.max_per_minute:
            raise ValueError("ramp.base_per_minute may not exceed max_per_minute")
        return self

    def rate(self, succeeded: int) -> int:
        """Devices per minute after `succeeded` successes: the ramp's base times its factor for each
        `every_succeeded` successes, never above max_per_minute."""
        if self.ramp is None:
            return self.max_per_minute
        steps = succeeded // self.ramp.every_succeeded
        # Past the exponent where the base would exceed the maximum, stop multiplying (no float overflow).
        limit = math.log(self.max_per_minute / self.ramp.base_per_minute) / math.log(self.ramp.increment_factor)
        if steps > limit:
            return self.max_per_minute
        return min(self.max_per_minute, int(self.ramp.base_per_minute * self.ramp.increment_factor ** steps))


class AbortConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failure_threshold_percent: Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=100)]
    min_finished: whole(1, 1_000_000) = 10

    def exceeded(self, failed: int, finished: int) -> bool:
        """Failed and timed out at or above the threshold, once min_finished have finished."""
        return finished >= self.min_finished and failed * 100 >= self.failure_threshold_percent * finished


class DebugParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class FirmwareParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    firmware_image: Id


class NoParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


PARAMETERS: dict[str, type[BaseModel]] = {"debug": DebugParameters, "firmware_update": FirmwareParameters}


class BulkOperationCreate(BaseModel):
    """POST /bulk_operations/."""
    model_config = ConfigDict(extra="forbid")

    operation: OperationName
    parameters: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    target: Target
    rollout: Rollout = Field(default_factory=Rollout)
    abort: AbortConfig | None = None
    confirm: bool = Field(default=False, validate_default=True)
    dry_run: bool = False

    @field_validator("parameters")
    @classmethod
    def _parameters_fit_the_operation(cls, value: dict, info: ValidationInfo) -> dict:
        operation = info.data.get("operation")
        if operation is None:
            return value   # the operation itself is refused
        model = PARAMETERS.get(operation, NoParameters)
        try:
            return model.model_validate(value).model_dump()
        except ValueError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or operation}: {e['msg']}"
                                 for e in error.errors(include_url=False))
            raise ValueError(f"parameters of {operation}: {problems}") from None

    @field_validator("confirm")
    @classmethod
    def _resets_need_confirm(cls, value: bool, info: ValidationInfo) -> bool:
        if info.data.get("operation") in NEEDS_CONFIRM and value is not True:
            raise ValueError(f"a bulk {info.data['operation']} needs \"confirm\": true")
        return value


class BulkOperationListQuery(PageQuery):
    state: State | None = None


class BulkDeviceListQuery(PageQuery):
    state: TargetState | None = None


# --- what the API answers (for the OpenAPI description; the routes build dicts from stored items) --------

class _View(BaseModel):
    model_config = ConfigDict(extra="allow")


class Progress(_View):
    """Devices of the target by state; sums to target_count."""
    pending: int
    queued: int
    dispatched: int
    succeeded: int
    failed: int
    timed_out: int
    cancelled: int
    skipped: int


class AbortReason(_View):
    code: str
    message: str
    failed: int
    finished: int


class BulkOperation(_View):
    id: int
    operation: OperationName
    parameters: dict[str, Any]
    target: dict[str, Any]
    rollout: dict[str, Any]
    abort: dict[str, Any] | None
    state: State
    target_count: int = Field(description="Devices in the target: fixed once it is expanded (`in_progress`); while "
                                          "`scheduled`, as the request counted them (or those found so far)")
    progress: Progress
    current_rate_per_minute: int
    abort_reason: AbortReason | None
    requested_by: dict[str, Any]
    created: datetime
    started: datetime | None
    finished: datetime | None


class BulkDryRun(_View):
    dry_run: Literal[True]
    operation: OperationName
    target: dict[str, Any]
    target_count: int
    target_count_complete: bool = Field(description="False when counting was cut short (a firmware_image filter "
                                                    "over a very large organization): target_count is then a floor")
    device_ids: list[int] = Field(description="The first 20 devices, by id")


class BulkDevice(_View):
    device_id: int
    operation_id: int | None
    state: TargetState
    error: dict[str, Any] | None
