"""Fixtures of tests/rollups/support.py."""
from tests.rollups.support import fast_moto_queries, fleet, frozen  # noqa: F401
