"""The end of a bulk operation: cancelling what is still queued (cancel, abort), and the exact final figures.

Cancel and abort queue nothing more; the operations this bulk operation queued and no agent has picked up are
cancelled as a DELETE of them would be (operations the bulk operation only joined belong to their own request
and run). Once nothing is queued or dispatched, the targets are recounted and the exact figures stored: the
bulk operation is closed, and a running one is `completed`.
"""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from chalicelib import clock
from chalicelib.bulk import db, progress, targets
from chalicelib.bulk.models import COUNTED, FINAL
from chalicelib.errors import Conflict
from chalicelib.operations import db as operations_db
from chalicelib.operations import service as operations
from chalicelib.operations import transitions
from chalicelib.operations.transitions import Transition
from chalicelib.store import dynamo

THREADS = 8
# While the counters say something is still in flight, recount the targets at most this often (they may lag:
# a settle lost to a crash).
RECOUNT_EVERY = timedelta(seconds=60)


def cancel_queued(bulk: dict) -> int:
    """Cancel every operation of this bulk operation that is still queued; how many."""
    bulk_id = int(bulk["id"])
    actor = dynamo.plain(bulk.get("ended_by"))
    queued = targets.queued(bulk_id)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        cancelled = sum(pool.map(lambda target: _cancel(bulk_id, target, actor), queued))
    progress.settle(transitions.drain())
    return cancelled


def _cancel(bulk_id: int, target: dict, actor: dict | None) -> bool:
    """Cancel the target's operation if this bulk operation requested it (one it joined runs: the target follows)."""
    try:
        state = operations.cancel_queued(int(target["device_id"]), int(target["operation_id"]), actor,
                                         bulk_operation_id=bulk_id)
    except Conflict:
        return False   # its device kept changing: the next step finds it still queued
    return _vanished(bulk_id, target) if state is None else state == "cancelled"


def _vanished(bulk_id: int, target: dict) -> bool:
    """Its operation went with its device (deleted while queued): the target is cancelled."""
    device_id = int(target["device_id"])
    try:
        dynamo.transact([targets.move(bulk_id, device_id, target["state"], "cancelled", clock.now(),
                                      error={"code": "DEVICE_DELETED", "message": "The device was deleted."})])
    except dynamo.Cancelled:
        return False
    progress.settle([Transition(bulk_id, device_id, target["state"], "cancelled")])
    return True


def close_if_done(bulk: dict, pacer: dict, counts: dict) -> bool:
    """Store the exact figures and close the bulk operation once nothing of it is pending, queued or dispatched
    (a running one becomes completed); False while something is."""
    in_flight = max(0, counts.get("queued", 0)) + max(0, counts.get("dispatched", 0))
    last = pacer.get("last_recount")
    now = clock.now()
    if in_flight and last and clock.parse_iso(last) > now - RECOUNT_EVERY:
        return False
    bulk_id = int(bulk["id"])
    db.update_pacer(bulk_id, {"last_recount": clock.iso(now)})
    exact = targets.recount(bulk_id)
    if exact.get("queued") or exact.get("dispatched"):
        for target in targets.queued(bulk_id):   # operations that went with their device
            if operations_db.get(int(target["device_id"]), int(target["operation_id"])) is None:
                _vanished(bulk_id, target)
        return False
    if bulk["state"] not in FINAL and exact.get("pending"):
        return False
    figures = {state: exact.get(state, 0) for state in ("pending", *COUNTED)}
    figures["cancelled"] += figures.pop("pending")
    final = {"pending": 0, **figures}
    if bulk["state"] not in FINAL:
        try:
            bulk = db.change_state(bulk, (bulk["state"],), "completed", "bulk_operation_completed", None, now,
                                   finished=clock.iso(now))
        except db.StateConflict:
            return False   # paused, cancelled or aborted meanwhile: the next round sees it
    db.close(bulk, final)
    return True
