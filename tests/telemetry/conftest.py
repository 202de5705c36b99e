"""Fixtures of tests/telemetry/support.py, and the module-wide moto world of tests/devices/support.py."""
from tests.devices.support import shared_api  # noqa: F401
from tests.telemetry.support import fleet  # noqa: F401
