"""The rollups' DynamoDB access: consistent Queries, batched writes, the state partition and the run's lease.

Every request goes through here and is counted (`counts`): the run reports records read, items written and
requests made, as powertools metrics and in POST /admin/rollups/'s answer. Only GetItem, Query, PutItem,
UpdateItem and BatchWriteItem are used: the scheduled Lambda's default grants (infra/policy.py).
Reads are strongly consistent: a run reads back buckets it has just written (a day from its hours).
"""
import json
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.store import dynamo, schema


@dataclass
class Counts:
    records_read: int = 0     # raw telemetry items
    changes_read: int = 0     # change-log entries and audit entries
    items_read: int = 0       # aggregates and state
    items_written: int = 0    # puts and deletes
    requests: int = 0

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


counts = Counts()


def reset_counts() -> Counts:
    global counts
    counts = Counts()
    return counts


def _condition(pk_name: str, sk_name: str, pk: str, low: str | None, high: str | None):
    condition = Key(pk_name).eq(pk)
    if low is not None and high is not None:
        return condition & Key(sk_name).between(low, high)
    if low is not None:
        return condition & Key(sk_name).gte(low)
    if high is not None:
        return condition & Key(sk_name).lte(high)
    return condition


def query(pk: str, low: str | None = None, high: str | None = None, *, index: str | None = None,
          attributes: tuple[str, ...] = (), kind: str = "items") -> list[dict]:
    """Every item of a partition with low <= sort key <= high, in sort order (all pages); only `attributes`
    when named (DynamoDB reads whole items all the same, but sends and decodes less)."""
    pk_name, sk_name = (f"{index}PK", f"{index}SK") if index else ("PK", "SK")
    kwargs: dict[str, Any] = {"KeyConditionExpression": _condition(pk_name, sk_name, pk, low, high)}
    if index:
        kwargs["IndexName"] = index
    else:
        kwargs["ConsistentRead"] = True   # GSIs cannot be read consistently; callers overlay what they wrote
    if attributes:
        names = {f"#p{i}": name for i, name in enumerate(attributes)}
        kwargs |= {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    items, last = [], None
    while True:
        page, last = dynamo.query(**kwargs, **({"ExclusiveStartKey": last} if last else {}))
        _read(kind, len(page))
        items += page
        if not last:
            return items


def query_after(pk: str, after: str | None, below: str, limit: int, *, index: str | None = None,
                attributes: tuple[str, ...] = (), kind: str = "changes") -> tuple[list[dict], bool]:
    """Up to `limit` items with after < sort key < below, in order; and whether more are there."""
    pk_name, sk_name = (f"{index}PK", f"{index}SK") if index else ("PK", "SK")
    condition = Key(pk_name).eq(pk) & (Key(sk_name).between(after, below) if after else Key(sk_name).lt(below))
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
    if attributes:
        names = {f"#p{i}": name for i, name in enumerate(attributes)}
        kwargs |= {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    if index:
        kwargs["IndexName"] = index
    else:
        kwargs["ConsistentRead"] = True
    items, last = [], None
    while len(items) < limit:
        page, last = dynamo.query(Limit=limit - len(items) + 1, **kwargs,
                                  **({"ExclusiveStartKey": last} if last else {}))
        _read(kind, len(page))
        # `between` is inclusive: the item at the watermark was taken by the previous run, and `below`
        # (an instant) never equals a sort key (an instant followed by "#...").
        items += [item for item in page if item[sk_name] not in (after, below)]
        if not last:
            break
    return items[:limit], len(items) > limit or last is not None


def get(key: dict) -> dict | None:
    counts.requests += 1
    item = dynamo.get(key, consistent=True)
    counts.items_read += item is not None
    return item


def _read(kind: str, n: int) -> None:
    counts.requests += 1
    if kind == "records":
        counts.records_read += n
    elif kind == "changes":
        counts.changes_read += n
    else:
        counts.items_read += n


def write(puts: list[dict] = (), deletes: list[dict] = ()) -> None:
    """BatchWriteItem (store.dynamo.batch_write), counted for the run's metrics."""
    counts.requests += dynamo.batch_write(puts, deletes)
    counts.items_written += len({(i["PK"], i["SK"]) for i in [*puts, *deletes]})


def pack(value) -> str:
    """Figures as one compact JSON string attribute rather than nested maps: smaller items, one value to
    (de)serialize instead of hundreds, and a canonical form to compare. Decimals (response-time sums) are
    written as strings, so that no digit is lost; readers take them back with Decimal(str(x))."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=_decimal)


def _decimal(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value.normalize())
    raise TypeError(f"{type(value).__name__} is not JSON")


def unpack(text: str | None):
    return json.loads(text) if text else {}


def same(stored: dict | None, item: dict | None, ignore: tuple[str, ...] = ("computed_at",)) -> bool:
    """Whether writing `item` over `stored` would change a figure (what is ignored changes every run)."""
    if stored is None or item is None:
        return stored is None and item is None

    def canonical(value: dict) -> str:
        return json.dumps({k: v for k, v in dynamo.plain(value).items() if k not in ignore}, sort_keys=True,
                          default=str)
    return canonical(stored) == canonical(item)


# --- the state partition ---------------------------------------------------------------------------

def read_state() -> dict[str, dict]:
    """Every state item, by sort key: one Query per run."""
    return {item["SK"]: item for item in query(schema.ROLLUP_STATE_PK)}


def put_states(states: dict[str, dict]) -> None:
    write([{**schema.rollup_state_key(name), "entity": "RollupState", **values} for name, values in states.items()])


def acquire_lease(owner: str, now: float, seconds: int) -> bool:
    """Take the run's lease unless another run holds an unexpired one: one run at a time, so that two runs
    never interleave their recomputations of the same buckets. A run killed by its time-out leaves a lease
    that expires by itself."""
    counts.requests += 1
    try:
        aws.dynamodb().update_item(
            TableName=dynamo.table_name(), Key=schema.rollup_state_key("LOCK"),
            UpdateExpression="SET #owner = :owner, lease_until = :until, entity = :entity",
            ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": owner, ":until": int(now) + seconds, ":now": int(now),
                                       ":entity": "RollupState"})
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def release_lease(owner: str) -> None:
    try:
        aws.dynamodb().update_item(
            TableName=dynamo.table_name(), Key=schema.rollup_state_key("LOCK"),
            UpdateExpression="SET lease_until = :zero", ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"}, ExpressionAttributeValues={":zero": 0, ":owner": owner})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
