"""Telemetry ingestion (API.md §5) and connection history (API.md §6)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
