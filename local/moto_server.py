"""moto's server for `make run`: DynamoDB requests one at a time, and, on the moto version they were written
for, transactions and queries that cost what they touch.

One at a time (dynamodb_requests_one_at_a_time): moto's server answers requests on threads, and moto's
DynamoDB is not thread-safe: a transaction checks its conditions and then writes, an `ADD` reads and then
writes, and a cancelled transaction rolls back by putting back a copy of the whole table, undoing what
other threads wrote meanwhile. DynamoDB itself serializes what touches one item; serializing every request
is the simplest order that gives the same answers. The tests use this alone, on moto as released.

Speed-ups, for `make run` only (SPEED_UPS_WRITTEN_FOR): moto 5.2.5 backs up a whole table with copy.deepcopy
for every action of a TransactWriteItems, so that it can roll back a cancelled transaction. A device create
is one transaction of about fifteen actions, so each create deep-copies the table fifteen times: the demo
load grows quadratically (past a second per device at a few hundred devices) and every write through the
running API slows down with it. transactions_backing_up_items keeps moto's own checks and error answers,
but the backup holds only the items its actions address, and a cancelled transaction puts those back.
moto_queries_by_partition answers a Query from its partition rather than the whole table. Both replace
moto internals: on another moto version the server runs without them (slower, as correct).

Run as `python -m local.moto_server -H 127.0.0.1 -p 5000` (moto's own arguments).
"""
import copy
import sys
import threading
from contextlib import contextmanager

import moto
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table

SPEED_UPS_WRITTEN_FOR = "5.2.5"


class _CopyKeepingTables:
    """Stands in for `copy` inside moto.dynamodb.models: a Table "copy" is the table itself, so moto's
    own per-table backup costs nothing (and restoring it changes nothing; the item backup does that)."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


class _TablesCopiedOncePerTransaction:
    """Stands in for `copy` inside moto.dynamodb.models: within one transaction, the first copy of a table is
    handed out again for the later actions. moto copies the whole table once per action, before writing
    anything, and keeps the last copy to roll back to: every copy is the same, so one is enough."""

    _current = threading.local()

    @classmethod
    def deepcopy(cls, value, memo=None):
        tables = getattr(cls._current, "tables", None)
        if tables is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in tables:
            tables[id(value)] = copy.deepcopy(value)
        return tables[id(value)]


@contextmanager
def _transactions_patched(copy_stand_in, wrap):
    """moto's transact_write_items replaced by wrap(the original), and `copy` inside moto.dynamodb.models by
    copy_stand_in, while inside."""
    backend_class = dynamodb_models.DynamoDBBackend
    original = backend_class.transact_write_items
    dynamodb_models.copy = copy_stand_in
    backend_class.transact_write_items = wrap(original)
    try:
        yield
    finally:
        backend_class.transact_write_items = original
        dynamodb_models.copy = copy


def transactions_copying_tables_once():
    """moto's own transactions and rollback, without the redundant copies of the table: one per transaction
    instead of one per action (a device create has about fifteen). The tests use this on moto as released."""
    def wrap(original):
        def transact_write_items(self, transact_items):
            _TablesCopiedOncePerTransaction._current.tables = {}
            try:
                return original(self, transact_items)
            finally:
                _TablesCopiedOncePerTransaction._current.tables = None
        return transact_write_items

    return _transactions_patched(_TablesCopiedOncePerTransaction, wrap)


def _item_backup(backend, transact_items: list[dict]) -> list[tuple]:
    """(table, hash key, range key, a copy of the item or None) for each action's item, in order."""
    backup = []
    for action in transact_items:
        body = next(iter(action.values()), None)
        table = backend.tables.get(body.get("TableName")) if isinstance(body, dict) else None
        if table is None:
            continue
        key = body.get("Key") or {name: body.get("Item", {}).get(name)
                                  for name in (table.hash_key_attr, table.range_key_attr) if name}
        try:
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:  # a malformed key: moto rejects the action itself before writing it
            continue
        backup.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return backup


def _restore(backup: list[tuple]) -> None:
    # Newest first, so an item addressed twice ends as it was before the first action.
    for table, hash_key, range_key, item in reversed(backup):
        if item is None:
            table.delete_item(hash_key, range_key)
        elif range_key is not None:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item


_one_at_a_time = threading.RLock()


@contextmanager
def dynamodb_requests_one_at_a_time():
    """While inside, moto answers one DynamoDB request at a time (from any thread): each request is atomic,
    as DynamoDB's are, and concurrent ones take effect in some serial order."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "one_at_a_time", False):   # already inside
        yield
        return

    def call_action(self):
        with _one_at_a_time:
            return original(self)

    call_action.one_at_a_time = True
    DynamoHandler.call_action = call_action
    try:
        yield
    finally:
        DynamoHandler.call_action = original


def speed_ups_apply() -> bool:
    return moto.__version__ == SPEED_UPS_WRITTEN_FOR


def transactions_backing_up_items():
    """Patch moto's DynamoDB backend while inside; the previous behaviour returns on exit. Not safe for
    concurrent writers alone (a rollback puts items back): use inside dynamodb_requests_one_at_a_time."""
    def wrap(original):
        def transact_write_items(self, transact_items):
            backup = _item_backup(self, transact_items)
            try:
                return original(self, transact_items)
            except Exception:
                _restore(backup)
                raise
        return transact_write_items

    return _transactions_patched(_CopyKeepingTables, wrap)


@contextmanager
def moto_queries_by_partition():
    """moto 5.2.5 answers every Query by sorting every item of the table (Table.all_items); here a table Query
    looks at its own partition and an index Query at the items unsorted (both sort their results afterwards):
    the same answers, in a time that does not grow with the rest of the table. Scans keep moto's order."""
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "by_partition", False):   # already patched
        yield
        return

    lock = threading.Lock()

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        with lock:   # all_items is set on the shared table: one Query at a time (moto server is threaded)
            # Set under the lock: set before it, a waiting Query's all_items was another's, or gone (moto's own,
            # which sorts the whole table) by the time it ran.
            if index_name:
                # Only the items in the index's partition: moto's own loop then checks far fewer.
                conditions = [(name, value) for name, value in kwargs.get("hash_key_conditions") or []
                              if value is not None]
                self.all_items = lambda: [item for partition in self.items.values()
                                          for item in (partition.values() if self.range_key_attr else [partition])
                                          if all(item.attrs.get(name) is not None and item.attrs[name] == value
                                                 for name, value in conditions)]
            elif not self.range_key_attr:
                self.all_items = lambda: list(self.items.values())
            else:
                partition = self.items.get(hash_key) or {}
                self.all_items = lambda: list(partition.values())
            try:
                return original(self, hash_key, *args, **kwargs)
            finally:
                self.__dict__.pop("all_items", None)

    query.by_partition = True
    Table.query = query
    try:
        yield
    finally:
        Table.query = original


def main(argv: list[str]) -> None:
    from contextlib import ExitStack

    from moto.server import main as moto_main

    with ExitStack() as patches:
        patches.enter_context(dynamodb_requests_one_at_a_time())
        if speed_ups_apply():
            patches.enter_context(transactions_backing_up_items())
            patches.enter_context(moto_queries_by_partition())
        else:
            print(f"moto {moto.__version__}: the DynamoDB speed-ups were written for {SPEED_UPS_WRITTEN_FOR} and are "
                  "off; make run works, more slowly as the table grows (local/moto_server.py)", file=sys.stderr)
        moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
