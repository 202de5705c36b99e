"""Token items: stored under a keyed digest of the secret (HMAC-SHA256 with the signing key), never the secret
itself nor a plain digest of it, which anyone holding a copy of the table could test guesses against."""
from boto3.dynamodb.conditions import Key

from chalicelib import signing
from chalicelib.store import dynamo, schema, sequences
from chalicelib.tokens.models import Token


def hash_secret(secret: str) -> str:
    return signing.digest(signing.TOKEN, secret)


def to_item(token: Token, token_hash: str) -> dict:
    return {**schema.token_key(token_hash), **schema.token_list_keys(token.organization_id, token.id),
            "entity": "Token", **token.model_dump()}


def from_item(item: dict) -> Token:
    return Token(**{k: item.get(k) for k in Token.model_fields})


def put(token: Token, token_hash: str) -> int:
    return sequences.create_with_new_id("TOKEN", lambda new_id: [
        {"Put": {"Item": to_item(token.model_copy(update={"id": new_id}), token_hash),
                 "ConditionExpression": "attribute_not_exists(PK)"}}])


def token_pk(token_hash: str) -> str:
    return schema.token_key(token_hash)["PK"]


def get_by_hash(token_hash: str) -> dict | None:
    return dynamo.get(schema.token_key(token_hash))


def list_tokens(organization_id: int | None) -> list[Token]:
    if organization_id is None:
        items = dynamo.query_all(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(schema.TOKENS_PK))
    else:
        items = dynamo.query_all(IndexName="GSI1",
                                 KeyConditionExpression=Key("GSI1PK").eq(schema.org_tokens_pk(organization_id)))
    return [from_item(i) for i in items]


def find_by_id(token_id: int) -> dict | None:
    items, _ = dynamo.query(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(schema.TOKENS_PK)
                            & Key("GSI2SK").eq(schema.token_sort_value(token_id)))
    return items[0] if items else None


def mark_revoked(item: dict, at: str) -> None:
    dynamo.update({"PK": item["PK"], "SK": item["SK"]}, UpdateExpression="SET revoked = :at",
                  ExpressionAttributeValues={":at": at})
