"""Transitions of operations that belong to bulk operations, recorded as they commit and handed over afterwards.

Operations do not import bulk operations (docs/operations.md, "Layers"): a transition writes the bulk
operations' target items inside its own transaction (db.target_update) and is recorded here; the handler that
ran the step (the agent's batch, the sweep, a cancel request) drains the record and hands it to
bulk.progress.settle, which adds it to the progress counters and checks the abort threshold. Only committed
transitions are recorded, so a duplicate delivery, whose transaction failed, counts nothing.
"""
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    bulk_operation_id: int
    device_id: int
    before: str      # the target's state before: pending, queued, dispatched
    after: str       # and after: queued, dispatched, skipped, or a final state


_recorded: list[Transition] = []
_lock = threading.Lock()   # make run's agent and schedules share a process


def record(bulk_operation_ids: list[int], device_id: int, before: str, after: str) -> None:
    with _lock:
        _recorded.extend(Transition(bulk, int(device_id), before, after) for bulk in bulk_operation_ids)


def drain() -> list[Transition]:
    """What was recorded since the last drain, in order; forgotten here."""
    with _lock:
        taken = list(_recorded)
        _recorded.clear()
    return taken
