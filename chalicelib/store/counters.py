"""Sharded counters: exact, written inside the transaction of the change they count, read in one request.

A counter is COUNTER_SHARDS items (schema.counter_keys); a write adds its delta to one of them, its process's
writer shard (store/sequences.py), and a read sums them all with one BatchGetItem. A shard may go negative
(a device created through one Lambda and deleted through another): only the sum means anything, and it is
exact as soon as the transactions that wrote it have returned.
"""
from chalicelib.store import schema, sequences


def writer_shard() -> int:
    return sequences.writer_slot() % schema.COUNTER_SHARDS


def add(key: dict, deltas: dict[str, int]) -> dict:
    """The transaction item adding `deltas` ({attribute: delta}) to the counter item `key` (one shard)."""
    names = {f"#c{i}": name for i, name in enumerate(deltas)}
    values = {f":d{i}": delta for i, delta in enumerate(deltas.values())}
    adds = ", ".join(f"#c{i} :d{i}" for i in range(len(deltas)))
    return {"Update": {"Key": key, "UpdateExpression": f"SET entity = :counter ADD {adds}",
                       "ExpressionAttributeNames": names,
                       "ExpressionAttributeValues": values | {":counter": "Counter"}}}


def totals(keys: list[dict]) -> dict[str, int]:
    """Every attribute of the counter's shards, summed (one BatchGetItem for up to 100 shards)."""
    from chalicelib.store import dynamo

    summed: dict[str, int] = {}
    for item in dynamo.batch_get(keys):
        for name, value in item.items():
            if name not in ("PK", "SK", "entity"):
                summed[name] = summed.get(name, 0) + int(value)
    return summed
