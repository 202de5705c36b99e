"""`make load` (bench/load.py) exercises routes that exist, and reports percentiles and ratios as it says."""
from app import app
from bench.load import ENDPOINTS, GET_ITEM, Results, percentile, report


def test_every_endpoint_of_the_load_mix_is_a_route_of_app_py():
    # A route renamed in app.py would otherwise be skipped silently by every later load run.
    missing = [f"{e.method} {e.route}" for e in ENDPOINTS if e.method not in app.routes.get(e.route, {})]
    assert not missing


def test_the_report_gives_each_endpoint_its_ratio_to_the_bare_get_item_and_counts_errors():
    results = Results()
    for ms in range(1, 101):
        results.add(GET_ITEM, ms / 1000)
        results.add("GET /x/", 3 * ms / 1000, "500 INTERNAL" if ms == 100 else None)

    text = report(results, seconds=10, threads=2, skipped=[], command="make load", load_before=0.5)

    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert "| GET /x/ | 100 | 1 | 151.5 | 297.0 | 3.0× | 3.0× |" in text
    assert "errors: 1 (1 × 500 INTERNAL)" in text
