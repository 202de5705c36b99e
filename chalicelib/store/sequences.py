"""Integer ids without a contended item, and each process's writer slot.

Ids (devices, organizations, device types, firmware images, tokens) come from blocks: a process claims the
next `size` ids of an entity with one atomic `ADD last_id :size` (UpdateItem, no condition, so concurrent
claims never cancel each other) and hands them out one by one. The block grows with use (1, 2, 4, ... up
to MAX_BLOCK), so a process that creates one organization takes one id, and one that creates thousands of
devices claims once per 64. Ids stay unique; they are no longer dense: a process that ends with ids in hand
leaves them unused, and concurrent creates are numbered from different blocks (the list is still by id).

A create refused by a condition (duplicate serial, unknown organization) gives its id back to the process's
pool, so the next create uses it. One that failed otherwise (a 503) does not: after a timeout the
transaction may have committed under that id.

The writer slot: a process (a warm Lambda) takes a number once with `ADD`, and writes its counter deltas to
shard `slot % shards` (store/counters.py): concurrent Lambdas write different shards, so their
transactions do not conflict on the counters.
"""
import threading
from collections import deque

from chalicelib.store import schema

MAX_BLOCK = 64
WRITER = "WRITER"

_lock = threading.Lock()
_pools: dict[str, deque[int]] = {}
_claims: dict[str, int] = {}
_writer_slot: list[int] = []


def _claim(entity: str, size: int) -> range:
    from chalicelib.store import dynamo

    answer = dynamo.update(schema.sequence_key(entity), UpdateExpression="ADD last_id :n SET entity = :e",
                           ExpressionAttributeValues={":n": size, ":e": "Sequence"}, ReturnValues="UPDATED_NEW")
    last = int(answer["last_id"])
    return range(last - size + 1, last + 1)


def next_id(entity: str) -> int:
    """A fresh id of `entity`, from this process's block (a claim when the block is used up)."""
    with _lock:
        pool = _pools.setdefault(entity, deque())
        if pool:
            return pool.popleft()
        claims = _claims.get(entity, 0)
        _claims[entity] = claims + 1
    # Claimed outside the lock: a slow claim holds up only the threads that need a new block too.
    block = _claim(entity, min(MAX_BLOCK, 2 ** claims))
    with _lock:
        pool = _pools.setdefault(entity, deque())
        pool.extend(block[1:])
        return block[0]


def give_back(entity: str, entity_id: int) -> None:
    """An id that no item took (its create was refused): the next create of this process uses it."""
    with _lock:
        _pools.setdefault(entity, deque()).appendleft(entity_id)


def create_with_new_id(entity: str, build_actions) -> int:
    """Run build_actions(new_id) in one transaction; returns the id.

    Raises:
        dynamo.Cancelled: a condition of the transaction failed (a duplicate, a missing parent); the id is
            given back.
    """
    from chalicelib.store import dynamo

    new_id = next_id(entity)
    try:
        dynamo.transact(build_actions(new_id))
    except dynamo.Cancelled:
        give_back(entity, new_id)
        raise
    return new_id


def writer_slot() -> int:
    """This process's writer number (claimed on first use)."""
    with _lock:
        if _writer_slot:
            return _writer_slot[0]
    slot = _claim(WRITER, 1)[0]
    with _lock:
        if not _writer_slot:
            _writer_slot.append(slot)
        return _writer_slot[0]


def forget() -> None:
    """For a fresh AWS world (tests, benchmarks): the blocks and the slot belonged to the old one."""
    with _lock:
        _pools.clear()
        _claims.clear()
        _writer_slot.clear()
