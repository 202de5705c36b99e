"""The GenieACS driver against the faithful fake GenieACS (tests/fakes/genieacs.py) on 127.0.0.1."""
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from chalicelib.drivers.genieacs import GenieAcsDriver
from chalicelib.drivers.protocol import DeviceRef
from tests.fakes.genieacs import Cpe, FakeGenieAcs
from tests.fakes.genieacs_nbi import NbiServer

FIRMWARE = {"firmware_image": 47, "version": "2.5.0", "url": "https://fw.example/images/rt5500-2.5.0.bin",
            "checksum": "sha256:ab"}
# What Fleetline stores: its manufacturer field holds the device type's name, not the OUI the device reports.
OUR_MANUFACTURER = "Acme Gateways"


@dataclass
class Acs:
    """The fake GenieACS (`model`), its NBI (`nbi`) and a driver pointed at it."""
    model: FakeGenieAcs
    nbi: NbiServer
    driver: GenieAcsDriver

    def device(self, serial: str = "SN-0001", **behaviour) -> tuple[DeviceRef, str]:
        """A device that has informed the ACS: (what Fleetline knows of it, its id at the ACS)."""
        cpe = Cpe(serial=serial, **behaviour)
        acs_id = self.model.add_device(cpe)
        return DeviceRef(id=7, serial_number=serial, manufacturer=OUR_MANUFACTURER, product_class=None,
                         address=None), acs_id

    def tasks_path(self, acs_id: str) -> str:
        """The POST's path as sent (the id escaped once more)."""
        return f"/devices/{quote(acs_id, safe='')}/tasks"

    def posted(self) -> list:
        return [r for r in self.nbi.requests if r.method == "POST"]

    def rpcs(self, name: str) -> int:
        return sum(1 for _, rpc in self.model.rpcs if rpc == name)


def make_acs(release: str) -> Acs:
    model = FakeGenieAcs(release=release)
    nbi = NbiServer(model).start()
    return Acs(model, nbi, GenieAcsDriver(nbi.url + "/"))


@pytest.fixture
def acs():
    """GenieACS master (the NBI with the session lock)."""
    made = make_acs("master")
    yield made
    made.nbi.stop()


@pytest.fixture(params=["master", "1.2.9"])
def any_acs(request):
    """The same test against master and 1.2.9."""
    made = make_acs(request.param)
    yield made
    made.nbi.stop()
