"""How the agent and the health checks reach devices: the driver protocol (`protocol.py`), its errors
(`errors.py`), the simulated CWMP device (`simulator.py`, the default; its admin settings in
`simulator_settings.py`) and the HTTP driver for GenieACS's northbound API (`genieacs.py`).

This package sits below `operations` and `diagnostics` and imports neither: they call `get_driver()`.
"""
from functools import lru_cache

from chalicelib import submodules_on_first_use
from chalicelib.config import get_settings
from chalicelib.drivers.protocol import Driver

__getattr__ = submodules_on_first_use(__name__)


def get_driver() -> Driver:
    """The driver the settings choose (one instance per configuration, reused across calls)."""
    settings = get_settings()
    return _build(settings.device_driver, settings.genieacs_url)


@lru_cache(maxsize=4)
def _build(kind: str, genieacs_url: str | None) -> Driver:
    # Imported here: the agent loads only the driver it uses (cold start).
    if kind == "genieacs":   # settings refuse genieacs without a URL
        from chalicelib.drivers.genieacs import GenieAcsDriver
        return GenieAcsDriver(genieacs_url)
    from chalicelib.drivers.simulator import SimulatedDriver
    return SimulatedDriver()


def reset_driver() -> None:
    """Forget the built drivers (tests)."""
    _build.cache_clear()
