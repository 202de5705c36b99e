"""SnapStart's hooks (chalicelib/snapstart.py): what goes into the snapshot, and what restored copies do not share."""
import random
import sys
import types

from chalicelib import aws, signing, snapstart
from chalicelib.tokens import service as token_service


def test_hooks_are_registered_only_where_the_runtime_offers_them(monkeypatch):
    assert snapstart.register() is False            # tests, make run: no snapshot_restore_py
    registered = {}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda hook: registered.setdefault("before", hook)
    runtime.register_after_restore = lambda hook: registered.setdefault("after", hook)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    assert snapstart.register() is True
    assert registered == {"before": snapstart.prime, "after": snapstart.restore}


def test_the_snapshot_holds_every_model_a_route_names():
    snapstart.prime()
    assert all(module in sys.modules for module in snapstart.PRIMED)


def test_restored_copies_share_no_client_no_cache_and_no_random_state(client, api):
    # GIVEN a process that has made clients, read the signing key and authenticated a token
    assert api.get("/admin/tokens/").status_code == 200
    assert aws.client.cache_info().currsize > 0 and token_service._cache and signing._provider is not None
    snapshot = random.getstate()
    # WHEN two copies are restored from it
    draws = []
    for _ in range(2):
        random.setstate(snapshot)
        snapstart.restore()
        draws.append(random.random())
        # THEN each starts without the clients, the caches and the key the snapshot held
        assert aws.client.cache_info().currsize == 0 and aws.dynamodb.cache_info().currsize == 0
        assert not token_service._cache and signing._provider is None
    assert draws[0] != draws[1]
    assert api.get("/admin/tokens/").status_code == 200      # and works, making what it needs anew
