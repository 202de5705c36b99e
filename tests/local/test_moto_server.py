"""make run's moto server (local/moto_server.py): transactions back up only their items, and still roll back."""
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend

from chalicelib import aws
from local.moto_server import transactions_backing_up_items

TABLE = "transactions"


@pytest.fixture
def dynamodb(moto):
    client = aws.client("dynamodb")
    client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"},
                                   {"AttributeName": "SK", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                                              {"AttributeName": "SK", "AttributeType": "S"}])
    client.put_item(TableName=TABLE, Item={**_key("A"), "n": {"N": "1"}})
    client.put_item(TableName=TABLE, Item=_key("C"))
    with transactions_backing_up_items():
        yield client


def _key(pk: str) -> dict:
    return {"PK": {"S": pk}, "SK": {"S": pk}}


def _items(client) -> dict[str, dict]:
    return {item["PK"]["S"]: item for item in client.scan(TableName=TABLE)["Items"]}


def _add_one_to_a() -> dict:
    return {"Update": {"TableName": TABLE, "Key": _key("A"), "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}


def _put_new(pk: str) -> dict:
    return {"Put": {"TableName": TABLE, "Item": _key(pk), "ConditionExpression": "attribute_not_exists(PK)"}}


def test_committed_transaction_writes_every_action(dynamodb):
    dynamodb.transact_write_items(TransactItems=[_add_one_to_a(), _put_new("B")])

    items = _items(dynamodb)
    assert items["A"]["n"] == {"N": "2"}
    assert set(items) == {"A", "B", "C"}


def test_cancelled_transaction_restores_updated_and_created_items(dynamodb):
    before = _items(dynamodb)

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[_add_one_to_a(), _put_new("B"), _put_new("C")])

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert _items(dynamodb) == before


def test_invalid_transaction_is_refused_and_writes_nothing(dynamodb):
    before = _items(dynamodb)

    with pytest.raises(ClientError) as refused:  # the same item twice in one transaction
        dynamodb.transact_write_items(TransactItems=[_put_new("B"), _add_one_to_a(), _add_one_to_a()])

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert _items(dynamodb) == before


def test_moto_is_itself_again_after_the_patch():
    original = DynamoDBBackend.transact_write_items
    with transactions_backing_up_items():
        assert DynamoDBBackend.transact_write_items is not original
    assert DynamoDBBackend.transact_write_items is original
