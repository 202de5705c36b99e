"""A module-wide moto world (tests/devices/support.shared_api) and a small fleet of subscribers in it."""
import itertools

import pytest

from local.demo import luhn_complete
from tests.analytics.support import ANALYTICS_PERMISSIONS, Device
from tests.devices.support import shared_api  # noqa: F401
from tests.factories import imei

_numbers = itertools.count(1)


def iccid() -> str:
    return luhn_complete(f"894450{next(_numbers):012d}")


def eui() -> str:
    return f"70B3D5E75E{next(_numbers):06X}"


class Fleet:
    """Organizations, subscribers (one ICCID, EUI or IMEI each, the seed's physicalIds) and tokens."""

    def __init__(self, api):
        self.api = api
        self.type_id = api.device_type()

    def organization(self) -> int:
        return self.api.organization()

    def subscriber(self, organization_id: int, kind: str) -> Device:
        """A device with one identifier of `kind`; kind "serial": none, so its serial number is its physicalId."""
        if kind == "serial":
            body = self.api.device(organization_id, self.type_id)
            return Device(body["id"], organization_id, body["serial_number"])
        value = {"iccid": iccid, "eui": eui, "imei": lambda: imei(next(_numbers))}[kind]()
        body = self.api.device(organization_id, self.type_id, identifiers={kind: value})
        return Device(body["id"], organization_id, value)

    def token(self, organization_id: int | None, permissions=ANALYTICS_PERMISSIONS) -> str:
        # The module's tests share their tokens: beyond the default 100 requests a minute.
        return self.api.token(organization_id, permissions, rate_limit_per_minute=100_000)


@pytest.fixture(scope="module")
def api(shared_api):  # noqa: F811
    return shared_api


@pytest.fixture(scope="module")
def fleet(api) -> Fleet:
    return Fleet(api)
