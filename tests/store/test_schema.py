"""The table definition and the documented access patterns are one source."""
from pathlib import Path

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.store import schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def test_data_model_doc_lists_every_access_pattern_as_in_code():
    assert schema.access_pattern_table() in DOC.read_text()


def test_every_index_named_in_access_patterns_exists_in_the_table_definition():
    definition = schema.table_definition("t")
    names = {index["IndexName"] for index in definition["GlobalSecondaryIndexes"]} | {"table"}
    assert {pattern.index for pattern in schema.ACCESS_PATTERNS} <= names


def test_provisioned_table_matches_the_definition(client):
    described = aws.client("dynamodb").describe_table(TableName=get_settings().table_name)["Table"]
    definition = schema.table_definition(get_settings().table_name)
    assert described["KeySchema"] == definition["KeySchema"]
    assert sorted(i["IndexName"] for i in described["GlobalSecondaryIndexes"]) == list(schema.INDEXES)
    ttl = aws.client("dynamodb").describe_time_to_live(TableName=get_settings().table_name)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == schema.TTL_ATTRIBUTE


def test_counter_scopes_cover_every_subset_of_the_countable_filters():
    scopes = schema.count_scopes(5, 12, "Up")
    assert len(set(scopes)) == 8
    assert "ALL" in scopes and "ORG#5#TYPE#12#STATUS#Up" in scopes
    assert schema.count_scope(None, 12, None) in scopes
