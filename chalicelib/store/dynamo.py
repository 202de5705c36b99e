"""The storage toolkit over the DynamoDB client: get, query pages (one partition, or the shards of one merged in
order), batch get/write with backoff, single updates and transactions with the retry policy of
store/retries.py. Every capability's db.py goes through it; none keeps a loop of its own. Ids and counters:
store/sequences.py, store/counters.py."""
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.store import retries


def table_name() -> str:
    return get_settings().table_name


def get(key: dict, consistent: bool = False) -> dict | None:
    response = aws.dynamodb().get_item(TableName=table_name(), Key=key, ConsistentRead=consistent)
    return response.get("Item")


def query(**kwargs) -> tuple[list[dict], dict | None]:
    """One Query request: (items, LastEvaluatedKey)."""
    response = aws.dynamodb().query(TableName=table_name(), **kwargs)
    return response["Items"], response.get("LastEvaluatedKey")


def query_all(**kwargs) -> list[dict]:
    """Every page of a Query; only for bounded sets (a device's own items, small catalogues)."""
    items, last = query(**kwargs)
    while last:
        more, last = query(ExclusiveStartKey=last, **kwargs)
        items += more
    return items


def update(key: dict, **request) -> dict:
    """UpdateItem (`request` as boto3 takes it: UpdateExpression, ConditionExpression, ...) sent again while a
    transaction holds the item (TransactionConflictException: nothing was written); returns `Attributes`.

    Raises:
        ClientError: ConditionalCheckFailedException and the like, as boto3 raises them.
        ServiceUnavailable: still refused after the retries.
    """
    client, name = aws.dynamodb(), table_name()
    for _ in retries.attempts(retries.ATTEMPTS, "this write"):
        try:
            return client.update_item(TableName=name, Key=key, **request).get("Attributes") or {}
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionConflictException":
                raise
    raise AssertionError("unreachable: attempts() raises when spent")


BATCH_WRITE = 25       # DynamoDB's limit per BatchWriteItem
BATCH_GET = 100        # and per BatchGetItem


def batch_write(puts: Iterable[dict] = (), deletes: Iterable[dict] = ()) -> int:
    """BatchWriteItem, 25 per request, re-sending what DynamoDB left unprocessed (throttled partitions) with
    the backoff of store/retries.py; returns the requests made.

    A key both put and deleted is put (one request may not name a key twice). Not atomic: callers write
    items whose repetition is harmless (deterministic keys, idempotent values).

    Raises:
        ServiceUnavailable: items were still unprocessed after the retries.
    """
    requests = {(key["PK"], key["SK"]): {"DeleteRequest": {"Key": {"PK": key["PK"], "SK": key["SK"]}}}
                for key in deletes}
    requests |= {(item["PK"], item["SK"]): {"PutRequest": {"Item": item}} for item in puts}
    writes, client, name, made = list(requests.values()), aws.dynamodb(), table_name(), 0
    for start in range(0, len(writes), BATCH_WRITE):
        pending = {name: writes[start:start + BATCH_WRITE]}
        for _ in retries.attempts(retries.BATCH_ATTEMPTS, "this batch of writes"):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            made += 1
            if not pending:
                break
    return made


def delete_keys(keys: list[dict]) -> int:
    """BatchWriteItem deletes (see batch_write)."""
    return batch_write(deletes=keys)


def batch_get(keys: Iterable[dict], projection: str | None = None) -> list[dict]:
    """BatchGetItem, 100 distinct keys per request, re-asking for unprocessed keys; items in no particular order.

    Raises:
        ServiceUnavailable: keys were still unprocessed after the retries.
    """
    client, name, found = aws.dynamodb(), table_name(), []
    distinct = list({(key["PK"], key["SK"]): {"PK": key["PK"], "SK": key["SK"]} for key in keys}.values())
    for start in range(0, len(distinct), BATCH_GET):
        ask: dict[str, Any] = {"Keys": distinct[start:start + BATCH_GET]}
        if projection:
            ask["ProjectionExpression"] = projection
        pending = {name: ask}
        for _ in retries.attempts(retries.BATCH_ATTEMPTS, "this batch of reads"):
            answer = client.batch_get_item(RequestItems=pending)
            found += answer["Responses"].get(name, [])
            pending = answer.get("UnprocessedKeys")
            if not pending:
                break
    return found


@dataclass
class Cancelled(Exception):
    """A transaction was cancelled by a condition; `reasons[i]` is the code for the i-th item ('None' if fine)."""
    reasons: list[str]
    items: list[dict | None]


def transact(actions: list[dict]) -> None:
    """TransactWriteItems; actions are {"Put"|"Update"|"Delete"|"ConditionCheck": {...}} without TableName.

    A transaction cancelled only because another one held an item (TransactionConflict) or an item was
    throttled wrote nothing, and is sent again (store/retries.py); every caller gets this without asking.

    Raises:
        Cancelled: a condition failed, with the per-item cancellation reasons and, where asked for, the item
            as it was.
        ServiceUnavailable: still conflicting or throttled after the retries (nothing was written).
    """
    name = table_name()
    items = [{kind: {"TableName": name, **body}} for action in actions for kind, body in action.items()]
    client = aws.dynamodb()
    for _ in retries.attempts(retries.ATTEMPTS, "this write"):
        try:
            # Each call gets its own ClientRequestToken from botocore, kept across botocore's re-sends after a
            # timeout: a transaction that committed before its answer was lost is not applied twice.
            client.transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            codes = [r.get("Code", "None") for r in reasons]
            if retries.is_transient(codes):
                continue
            # boto3 converts only successful responses: the items in an error are still in wire format.
            from boto3.dynamodb.types import TypeDeserializer
            wire = TypeDeserializer()
            raise Cancelled(codes, [{k: wire.deserialize(v) for k, v in r["Item"].items()} if r.get("Item") else None
                                    for r in reasons]) from error


def forget_sequences() -> None:
    """What this process holds of the id sequences and its writer slot (a fresh AWS world)."""
    from chalicelib.store import sequences
    sequences.forget()


def update_expression(values: dict[str, Any], remove: list[str] = ()) -> dict:
    """SET/REMOVE expression for plain attribute names, with placeholders for names and values."""
    names, vals, sets = {}, {}, []
    for i, (attr, value) in enumerate(values.items()):
        names[f"#s{i}"] = attr
        vals[f":s{i}"] = value
        sets.append(f"#s{i} = :s{i}")
    removes = []
    for i, attr in enumerate(remove):
        names[f"#r{i}"] = attr
        removes.append(f"#r{i}")
    parts = []
    if sets:
        parts.append("SET " + ", ".join(sets))
    if removes:
        parts.append("REMOVE " + ", ".join(removes))
    out = {"UpdateExpression": " ".join(parts), "ExpressionAttributeNames": names}
    if vals:
        out["ExpressionAttributeValues"] = vals
    return out


def read_page(index: str | None, pk: str, limit: int, *, offset: int = 0, after: str | None = None,
              since: str | None = None, prefix: str | None = None, descending: bool = False,
              filter_expression=None) -> tuple[list[dict], bool]:
    """One page of a partition in sort-key order: (items, more_follow).

    Unfiltered, a page is one Query of limit + 1 items (the extra one says whether a next page
    exists). A FilterExpression is applied after DynamoDB reads, so a selective filter may take more
    Queries to fill the page. `after` (from a cursor) starts the page at a key instead of counting
    `offset` items: deep pages by cursor cost the same as the first. `prefix` keeps the page to one
    kind of item in a shared partition (a device's operations beside its diagnostics).
    """
    from boto3.dynamodb.conditions import Key

    pk_name, sk_name = (f"{index}PK", f"{index}SK") if index else ("PK", "SK")
    lower, upper = since or prefix, (prefix + "~") if prefix else None
    if after is not None:
        upper, lower = (after, lower) if descending else (upper, after)
    sort = Key(sk_name)
    condition = Key(pk_name).eq(pk)
    # DynamoDB takes one condition on the sort key: `between` is inclusive, so with two bounds the
    # `after` item is read again and dropped below; with `after` alone the bound is exclusive.
    rereads_after = after is not None and lower is not None and upper is not None
    if lower is not None and upper is not None:
        condition &= sort.between(lower, upper)
    elif after is not None:
        condition &= sort.lt(after) if descending else sort.gt(after)
    elif lower is not None:
        condition &= sort.gte(lower)
    elif upper is not None:
        condition &= sort.lte(upper)
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": not descending}
    if index:
        kwargs["IndexName"] = index
    if filter_expression is not None:
        kwargs["FilterExpression"] = filter_expression
    wanted = offset + limit + 1
    items: list[dict] = []
    last = None
    while len(items) < wanted:
        # Without a filter every item read is kept, so ask for exactly what is missing.
        missing = wanted - len(items) + rereads_after
        batch = missing if filter_expression is None else max(missing, 100)
        page, last = query(Limit=batch, **({"ExclusiveStartKey": last} if last else {}), **kwargs)
        items += [i for i in page if i.get(sk_name) != after]
        if not last:
            break
    window = items[offset:offset + limit + 1]
    return window[:limit], len(window) > limit


def count(index: str | None, pk: str, filter_expression=None, since: str | None = None) -> int:
    """Items matching a filter in one partition, from `since` on the sort key (Select=COUNT pages): for
    counts no counter serves. Costs a read of the matching range, returned as a number only."""
    from boto3.dynamodb.conditions import Key

    pk_name, sk_name = (f"{index}PK", f"{index}SK") if index else ("PK", "SK")
    condition = Key(pk_name).eq(pk) & Key(sk_name).gte(since) if since else Key(pk_name).eq(pk)
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "Select": "COUNT"}
    if index:
        kwargs["IndexName"] = index
    if filter_expression is not None:
        kwargs["FilterExpression"] = filter_expression
    total, last = 0, None
    while True:
        start = {"ExclusiveStartKey": last} if last else {}
        response = aws.dynamodb().query(TableName=table_name(), **kwargs, **start)
        total += response["Count"]
        last = response.get("LastEvaluatedKey")
        if not last:
            return total


# --- shards read together: one request per shard, in parallel, merged in order -------------------------

FAN_IN_THREADS = 16
_pool: list[ThreadPoolExecutor] = []
_pool_lock = threading.Lock()


def parallel(calls: list[Callable[[], Any]]) -> list:
    """Each call's result, in order; the calls run at once on a pool the process keeps (a warm Lambda too)."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with _pool_lock:
        if not _pool:
            _pool.append(ThreadPoolExecutor(max_workers=FAN_IN_THREADS, thread_name_prefix="fan-in"))
    return [future.result() for future in [_pool[0].submit(call) for call in calls]]


def read_merged(index: str | None, pks: list[str], limit: int, *, offset: int = 0, after: str | None = None,
                since: str | None = None, prefix: str | None = None, descending: bool = False,
                filter_expression=None) -> tuple[list[dict], bool]:
    """One page of the items of several partitions (the shards of one set) in sort-key order: (items, more).

    Each shard is read as read_page reads one, from the same cursor, for offset + limit items; the page is
    taken from their merge. A cursor is the sort value of the last item served, so it works across shards
    as long as sort values are unique in the set (ids, times with an entry id).
    """
    if len(pks) == 1:
        return read_page(index, pks[0], limit, offset=offset, after=after, since=since, prefix=prefix,
                         descending=descending, filter_expression=filter_expression)
    pages = parallel([lambda pk=pk: read_page(index, pk, offset + limit, after=after, since=since, prefix=prefix,
                                              descending=descending, filter_expression=filter_expression)
                      for pk in pks])
    sk_name = f"{index}SK" if index else "SK"
    merged = sorted((item for items, _ in pages for item in items), key=lambda item: item[sk_name],
                    reverse=descending)
    more = len(merged) > offset + limit or any(shard_more for _, shard_more in pages)
    return merged[offset:offset + limit], more


def count_merged(index: str | None, pks: list[str], filter_expression=None, since: str | None = None) -> int:
    """count() of each partition, in parallel, summed."""
    return sum(parallel([lambda pk=pk: count(index, pk, filter_expression, since) for pk in pks]))


def query_merged(pks: list[str], key_condition: Callable[[str], Any], *, index: str | None = None,
                 sort_key: str | None = None, **kwargs) -> list[dict]:
    """Every item of several partitions (query_all of each, in parallel), merged by `sort_key` when given;
    for bounded sets. key_condition(pk) builds each partition's KeyConditionExpression."""
    extra = {"IndexName": index} if index else {}
    found = parallel([lambda pk=pk: query_all(KeyConditionExpression=key_condition(pk), **extra, **kwargs)
                      for pk in pks])
    items = [item for items in found for item in items]
    return sorted(items, key=lambda item: item[sort_key]) if sort_key else items


def all_of(conditions: list):
    """The AND of boto3 conditions; None when there are none (no FilterExpression)."""
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def plain(value):
    """DynamoDB's Decimals and sets as JSON-ready ints, floats and lists."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain(v) for v in value]
    return value
