"""The rollups' DynamoDB access, through the store toolkit, counted: a unit reports the records it read, the items
it read and wrote and the requests it made (powertools metrics, POST /admin/rollups/'s answer, the bench).

Reads of the table are strongly consistent: a unit reads what the previous unit of its lane wrote, and the raw
records an ingest wrote before it sent its message. Requests of one unit may run on several threads.
"""
import json
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.store import dynamo

THREADS = 8        # concurrent requests of one unit (DynamoDB answers each in milliseconds; the Lambda waits)


@dataclass
class Counts:
    records_read: int = 0     # raw telemetry items
    items_read: int = 0       # aggregates, states, pending and journal items
    items_written: int = 0    # puts, deletes and guarded adds
    requests: int = 0

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


counts = Counts()
_lock = threading.Lock()


def reset_counts() -> Counts:
    global counts
    counts = Counts()
    return counts


def _count(requests: int = 0, read: int = 0, records: int = 0, written: int = 0) -> None:
    with _lock:
        counts.requests += requests
        counts.items_read += read
        counts.records_read += records
        counts.items_written += written


def key_range(pk: str, low: str | None = None, high: str | None = None, *, pk_name: str = "PK",
              sk_name: str = "SK", attributes: tuple[str, ...] = ()) -> dict:
    """Query arguments for low <= sort key <= high (either may be None), as plain expression strings: boto3's
    condition builder is one per client and not thread-safe, and a unit queries from several threads."""
    names, values = {"#pk": pk_name, "#sk": sk_name}, {":pk": pk}
    expression = "#pk = :pk"
    if low is not None and high is not None:
        expression += " AND #sk BETWEEN :low AND :high"
        values |= {":low": low, ":high": high}
    elif low is not None:
        expression += " AND #sk >= :low"
        values[":low"] = low
    elif high is not None:
        expression += " AND #sk <= :high"
        values[":high"] = high
    else:
        del names["#sk"]
    out: dict[str, Any] = {"KeyConditionExpression": expression, "ExpressionAttributeValues": values}
    if attributes:
        projected = {f"#a{i}": name for i, name in enumerate(dict.fromkeys(attributes))}
        names |= projected
        out["ProjectionExpression"] = ", ".join(projected)
    out["ExpressionAttributeNames"] = names
    return out


def query(pk: str, low: str | None = None, high: str | None = None, *, attributes: tuple[str, ...] = (),
          records: bool = False, limit: int | None = None) -> list[dict]:
    """The items of a partition with low <= sort key <= high, in order (all pages, or the first `limit`)."""
    kwargs: dict[str, Any] = {**key_range(pk, low, high, attributes=attributes), "ConsistentRead": True}
    items, last = [], None
    while True:
        start = {"ExclusiveStartKey": last} if last else {}
        page, last = dynamo.query(**kwargs, **start, **({"Limit": limit - len(items)} if limit else {}))
        _count(requests=1, read=0 if records else len(page), records=len(page) if records else 0)
        items += page
        if not last or (limit and len(items) >= limit):
            return items


def query_index(index: str, pk: str, after: str | None, below: str, limit: int,
                attributes: tuple[str, ...] = ()) -> tuple[list[dict], bool]:
    """Up to `limit` items of an index partition with after < sort key < below, in order; and whether more remain."""
    sk = f"{index}SK"
    # `between` is inclusive: the item at the watermark was taken by the previous run, and dropped below.
    kwargs: dict[str, Any] = {**key_range(pk, after, below, pk_name=f"{index}PK", sk_name=sk,
                                          attributes=(sk, *attributes) if attributes else ()), "IndexName": index}
    if after is None:
        kwargs["KeyConditionExpression"] = kwargs["KeyConditionExpression"].replace("<= :high", "< :high")
    items, last = [], None
    while len(items) < limit:
        start = {"ExclusiveStartKey": last} if last else {}
        page, last = dynamo.query(Limit=limit - len(items) + 1, **kwargs, **start)
        _count(requests=1, read=len(page))
        items += [item for item in page if item[sk] not in (after, below)]
        if not last:
            break
    return items[:limit], len(items) > limit or last is not None


def get(key: dict) -> dict | None:
    _count(requests=1)
    item = dynamo.get(key, consistent=True)
    _count(read=item is not None)
    return item


def batch_get(keys: Iterable[dict]) -> dict[tuple[str, str], dict]:
    """{(PK, SK): item} of the keys that exist (BatchGetItem, 100 keys a request)."""
    distinct = list({(k["PK"], k["SK"]): k for k in keys}.values())
    if not distinct:
        return {}
    found = dynamo.batch_get(distinct)
    _count(requests=-(-len(distinct) // dynamo.BATCH_GET), read=len(found))
    return {(item["PK"], item["SK"]): item for item in found}


def write(puts: Iterable[dict] = (), deletes: Iterable[dict] = ()) -> None:
    """BatchWriteItem of every put and delete (store.dynamo.batch_write), chunks on parallel threads."""
    puts, deletes = list(puts), list(deletes)
    if not puts and not deletes:
        return
    chunk = dynamo.BATCH_WRITE * 4
    work = [(puts[i:i + chunk], []) for i in range(0, len(puts), chunk)]
    work += [([], deletes[i:i + chunk]) for i in range(0, len(deletes), chunk)]

    def one(part: tuple[list, list]) -> int:
        return dynamo.batch_write(*part)
    made = sum(parallel(one, work))
    _count(requests=made, written=len(puts) + len(deletes))


def guarded_add(key: dict, adds: dict[str, Any], sets: dict[str, Any], guard: str, seq: int) -> bool:
    """ADD `adds` and SET `sets` on one item unless its `guard` attribute already holds `seq` or more: a lane's share
    of a shared item, applied once however often its unit is replayed. False when the guard refused it."""
    names, values, add_parts, set_parts = {"#g": guard}, {":seq": seq}, [], ["#g = :seq"]
    for i, (name, value) in enumerate(adds.items()):
        names[f"#a{i}"], values[f":a{i}"] = name, value
        add_parts.append(f"#a{i} :a{i}")
    for i, (name, value) in enumerate(sets.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, value
        set_parts.append(f"#s{i} = :s{i}")
    expression = "SET " + ", ".join(set_parts) + (" ADD " + ", ".join(add_parts) if add_parts else "")
    _count(requests=1, written=1)
    try:
        aws.dynamodb().update_item(TableName=dynamo.table_name(), Key={"PK": key["PK"], "SK": key["SK"]},
                                   UpdateExpression=expression,
                                   ConditionExpression="attribute_not_exists(#g) OR #g < :seq",
                                   ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def update(key: dict, **kwargs) -> bool:
    """One conditional UpdateItem (a lane state's commit); False when its condition failed."""
    _count(requests=1, written=1)
    try:
        aws.dynamodb().update_item(TableName=dynamo.table_name(), Key=key, **kwargs)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def parallel(function, items: list) -> list:
    """function(item) for each item, on up to THREADS threads, in order."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        return list(pool.map(function, items))


# --- figures as JSON text ---------------------------------------------------------------------------

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
