"""Remote operations, the agent and the device drivers (API.md §3)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
