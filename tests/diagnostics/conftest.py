"""Shared by the diagnostics tests (API.md §4): an organization with simulated devices, entries through the API."""
from dataclasses import dataclass

import pytest

from chalicelib.config import get_settings
from tests.factories import Api

PATH = "/inventory_device_diags/"


@dataclass
class Diags:
    api: Api
    organization: int
    type: int

    def device(self, **overrides) -> dict:
        return self.api.device(self.organization, self.type, **overrides)

    def post(self, body: dict, **kw):
        return self.api.post(PATH, body, **kw)

    def create(self, device_id: int, **fields) -> dict:
        """An entry that must be stored; the entry as answered."""
        response = self.post({"device_id": device_id, "diagnostic_type": "maintenance", **fields})
        assert response.status_code == 201, response.body
        return response.json_body

    def get(self, query: str = "", **kw):
        return self.api.get(PATH + query, **kw)

    def page(self, query: str = "", **kw) -> dict:
        response = self.get(query, **kw)
        assert response.status_code == 200, response.body
        return response.json_body

    def behave(self, device_id: int, **behaviour) -> None:
        response = self.api.put(f"/admin/simulator/{device_id}/", behaviour)
        assert response.status_code == 200, response.body


@pytest.fixture
def diags(api) -> Diags:
    return Diags(api, api.organization(), api.device_type())


@pytest.fixture
def fast_driver(monkeypatch):
    """The scheduled check gives a device 0.3 s (instead of the default 10 s) before calling it silent."""
    monkeypatch.setenv("DRIVER_TIMEOUT_SECONDS", "0.3")
    get_settings.cache_clear()
    assert get_settings().driver_timeout_seconds == 0.3
    yield
    get_settings.cache_clear()
