"""The store's own mechanics that the API relies on but cannot show directly."""
from chalicelib.store import dynamo


def test_a_create_after_another_writer_took_ids_claims_the_next_free_one(api):
    # GIVEN two organizations created, and a process whose id memory is behind (a cold Lambda)
    first, second = api.organization(), api.organization()
    dynamo.forget_sequences()
    # WHEN it creates another
    third = api.organization()
    # THEN the lost race is read back from the cancellation and retried with the current id
    assert (first, second, third) == (1, 2, 3)


def test_cancellation_reasons_carry_the_current_item_as_plain_values(api):
    api.organization()
    try:
        dynamo.transact([dynamo.sequence_claim("ORG", 0)])
    except dynamo.Cancelled as cancelled:
        assert cancelled.reasons == ["ConditionalCheckFailed"]
        assert cancelled.items[0]["last_id"] == 1
    else:
        raise AssertionError("claiming a taken id must be cancelled")
