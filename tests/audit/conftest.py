"""Fixtures of tests/devices/support.py, shared by the device and audit tests."""
from tests.devices.support import shared_api  # noqa: F401
