"""Scheduled rollups: precomputed aggregates of the telemetry (API.md §7, §8)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
