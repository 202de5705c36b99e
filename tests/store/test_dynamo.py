"""The store's own mechanics that the API relies on but cannot show directly."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.store import dynamo, schema, sequences


def test_ids_come_from_blocks_that_grow_and_a_refused_create_gives_its_id_back(api, refused):
    # GIVEN three organizations: blocks of 1 and 2 ids
    assert [api.organization(f"blocks-{n}") for n in range(3)] == [1, 2, 3]
    # WHEN a create is refused (its name is taken), having claimed the block 4..7
    refused(api.post("/admin/organizations/", {"name": "blocks-0"}), 409, "DUPLICATE_NAME")
    # THEN the next create takes the id the refused one gave back
    assert api.organization() == 4
    assert dynamo.get(schema.sequence_key("ORG"))["last_id"] == 7


def test_a_process_that_forgot_its_block_claims_the_next_one(api):
    first, second = api.organization(), api.organization()
    dynamo.forget_sequences()      # a new Lambda, or another one
    third = api.organization()
    assert (first, second) == (1, 2)
    assert third == 4              # 3 stays in the block the first process held: unique, not dense


def test_threads_of_one_process_never_get_the_same_id(client):
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: sequences.next_id("THREADS"), range(300)))
    assert len(set(ids)) == 300 and min(ids) == 1
    assert int(dynamo.get(schema.sequence_key("THREADS"))["last_id"]) >= max(ids)


def test_cancellation_reasons_carry_the_current_item_as_plain_values(api):
    api.organization("acme")
    taken = {"Put": {"Item": {**schema.organization_name_guard_key("acme"), "entity": "Guard"},
                     "ConditionExpression": "attribute_not_exists(PK)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
    with pytest.raises(dynamo.Cancelled) as cancelled:
        dynamo.transact([taken])
    assert cancelled.value.reasons == ["ConditionalCheckFailed"]
    assert cancelled.value.items[0]["organization_id"] == 1


@pytest.mark.parametrize("descending", [False, True])
def test_merged_shards_page_in_order_by_cursor_and_by_offset(client, descending):
    # GIVEN 11 items spread over three partitions
    pks = [f"MERGE#{shard}" for shard in range(3)]
    dynamo.batch_write(puts=[{"PK": pks[n % 3], "SK": f"{n:04d}", "entity": "Test"} for n in range(11)])
    expected = sorted(f"{n:04d}" for n in range(11))[::-1 if descending else 1]
    # WHEN they are read 4 at a time, each page from the last sort value served
    pages, after, more = [], None, True
    while more:
        items, more = dynamo.read_merged(None, pks, 4, after=after, descending=descending)
        pages.append([item["SK"] for item in items])
        after = items[-1]["SK"]
    # THEN every item comes once, in order, and an offset finds the same pages
    assert [sk for page in pages for sk in page] == expected
    assert [len(page) for page in pages] == [4, 4, 3]
    assert [i["SK"] for i in dynamo.read_merged(None, pks, 4, offset=4, descending=descending)[0]] == pages[1]
    assert dynamo.count_merged(None, pks) == 11
