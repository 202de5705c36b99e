"""moto's server for `make run`, with DynamoDB transactions that cost what they touch.

moto 5.2.5 backs up a whole table with copy.deepcopy for every action of a TransactWriteItems, so that
it can roll back a cancelled transaction. A device create is one transaction of about fifteen actions,
so each create deep-copies the table fifteen times: the demo load grows quadratically (past a second
per device at a few hundred devices) and every write through the running API slows down with it.

Here the transaction keeps moto's own checks and error answers, but the backup holds only the items
its actions address, and a cancelled transaction puts those back. Run as
`python -m local.moto_server -H 127.0.0.1 -p 5000` (moto's own arguments).
"""
import copy
import sys
import threading
from contextlib import contextmanager

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table


class _CopyKeepingTables:
    """Stands in for `copy` inside moto.dynamodb.models: a Table "copy" is the table itself, so moto's
    own per-table backup costs nothing (and restoring it changes nothing; the item backup does that)."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


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
def transactions_backing_up_items():
    """Patch moto's DynamoDB backend while inside; the previous behaviour returns on exit."""
    backend_class = dynamodb_models.DynamoDBBackend
    original = backend_class.transact_write_items

    def transact_write_items(self, transact_items):
        # One at a time, as DynamoDB's serializable transactions appear to callers: a rollback must not
        # undo another thread's write (the server's threads, or a test's concurrent writers).
        with _one_at_a_time:
            backup = _item_backup(self, transact_items)
            try:
                return original(self, transact_items)
            except Exception:
                _restore(backup)
                raise

    dynamodb_models.copy = _CopyKeepingTables
    backend_class.transact_write_items = transact_write_items
    try:
        yield
    finally:
        backend_class.transact_write_items = original
        dynamodb_models.copy = copy


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
    from moto.server import main as moto_main

    with transactions_backing_up_items(), moto_queries_by_partition():
        moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
