"""The storage toolkit over the DynamoDB client: get, query pages, batch get/write with backoff, transactions,
id sequences. Every capability's db.py goes through it; none keeps a loop of its own."""
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import ServiceUnavailable
from chalicelib.store import schema


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


def put_new(item: dict) -> bool:
    """Put unless the key exists; False when it does."""
    try:
        aws.dynamodb().put_item(TableName=table_name(), Item=item,
                                ConditionExpression="attribute_not_exists(PK)")
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


BATCH_WRITE = 25       # DynamoDB's limit per BatchWriteItem
BATCH_GET = 100        # and per BatchGetItem
UNPROCESSED_RETRIES = 8


def _backoff(attempt: int) -> None:
    """Full-jitter exponential backoff before re-sending what DynamoDB left unprocessed (throttled
    partitions); past the last attempt the caller's request answers 503 and may be retried whole."""
    if attempt >= UNPROCESSED_RETRIES:
        raise ServiceUnavailable("The database is throttling requests; retry later.")
    # Backoff jitter spreads retries out; nothing guessable rests on it (bandit B311 asks for a CSPRNG).
    time.sleep(random.uniform(0, min(0.05 * 2 ** attempt, 2.0)))  # nosec B311


def batch_write(puts: Iterable[dict] = (), deletes: Iterable[dict] = ()) -> int:
    """BatchWriteItem, 25 per request, re-sending what DynamoDB left unprocessed; returns the requests made.

    A key both put and deleted is put (one request may not name a key twice). Not atomic: callers write
    items whose repetition is harmless (deterministic keys, idempotent values).

    Raises:
        ServiceUnavailable: items were still unprocessed after the backoff.
    """
    requests = {(key["PK"], key["SK"]): {"DeleteRequest": {"Key": {"PK": key["PK"], "SK": key["SK"]}}}
                for key in deletes}
    requests |= {(item["PK"], item["SK"]): {"PutRequest": {"Item": item}} for item in puts}
    writes, client, name, made = list(requests.values()), aws.dynamodb(), table_name(), 0
    for start in range(0, len(writes), BATCH_WRITE):
        pending, attempt = {name: writes[start:start + BATCH_WRITE]}, 0
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or None
            made += 1
            if pending:
                _backoff(attempt)
                attempt += 1
    return made


def delete_keys(keys: list[dict]) -> int:
    """BatchWriteItem deletes (see batch_write)."""
    return batch_write(deletes=keys)


def batch_get(keys: Iterable[dict], projection: str | None = None) -> list[dict]:
    """BatchGetItem, 100 distinct keys per request, re-asking for unprocessed keys; items in no particular order.

    Raises:
        ServiceUnavailable: keys were still unprocessed after the backoff.
    """
    client, name, found = aws.dynamodb(), table_name(), []
    distinct = list({(key["PK"], key["SK"]): {"PK": key["PK"], "SK": key["SK"]} for key in keys}.values())
    for start in range(0, len(distinct), BATCH_GET):
        ask: dict[str, Any] = {"Keys": distinct[start:start + BATCH_GET]}
        if projection:
            ask["ProjectionExpression"] = projection
        pending, attempt = {name: ask}, 0
        while pending:
            answer = client.batch_get_item(RequestItems=pending)
            found += answer["Responses"].get(name, [])
            pending = answer.get("UnprocessedKeys") or None
            if pending:
                _backoff(attempt)
                attempt += 1
    return found


@dataclass
class Cancelled(Exception):
    """A transaction was cancelled; `reasons[i]` is the code for the i-th item ('None' if fine)."""
    reasons: list[str]
    items: list[dict | None]


def transact(actions: list[dict]) -> None:
    """TransactWriteItems; actions are {"Put"|"Update"|"Delete"|"ConditionCheck": {...}} without TableName.

    Raises:
        Cancelled: with the per-item cancellation reasons and, where asked for, the item as it was.
    """
    name = table_name()
    items = [{kind: {"TableName": name, **body}} for action in actions for kind, body in action.items()]
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons", [])
        # boto3 converts only successful responses: the items in an error are still in wire format.
        from boto3.dynamodb.types import TypeDeserializer
        wire = TypeDeserializer()
        raise Cancelled([r.get("Code", "None") for r in reasons],
                        [{k: wire.deserialize(v) for k, v in r["Item"].items()} if r.get("Item") else None
                         for r in reasons]) from error


def sequence_claim(entity: str, expected_last: int) -> dict:
    """Transaction item taking id expected_last + 1, valid only if no one took it first.

    Claiming the id inside the create transaction (instead of a separate counter update) keeps a
    create at one request; on a lost race the cancellation returns the current value to retry with.
    """
    condition = "attribute_not_exists(PK)" if expected_last == 0 else "last_id = :expected"
    values: dict[str, Any] = {":next": expected_last + 1}
    if expected_last:
        values[":expected"] = expected_last
    return {"Update": {"Key": schema.sequence_key(entity), "UpdateExpression": "SET last_id = :next, entity = :seq",
                       "ConditionExpression": condition,
                       "ExpressionAttributeValues": values | {":seq": "Sequence"},
                       "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


_last_ids: dict[str, int] = {}


def create_with_new_id(entity: str, build_actions, attempts: int = 20) -> int:
    """Run build_actions(new_id) in one transaction with the id claim at position 0; returns the id.

    A warm Lambda remembers the last id it saw, so a create is one transaction unless another
    writer took that id meanwhile.

    Raises:
        Cancelled: when an item other than the id claim failed its condition.
    """
    for _ in range(attempts):
        last = _last_ids.get(entity, 0)
        try:
            transact([sequence_claim(entity, last), *build_actions(last + 1)])
            _last_ids[entity] = last + 1
            return last + 1
        except Cancelled as cancelled:
            if cancelled.reasons[0] != "ConditionalCheckFailed":
                raise
            current = cancelled.items[0]
            _last_ids[entity] = int(current["last_id"]) if current else 0
    raise RuntimeError(f"could not claim a new {entity} id after {attempts} attempts")


def forget_sequences() -> None:
    _last_ids.clear()


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
