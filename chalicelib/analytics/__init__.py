"""Reads of the precomputed aggregates: the connection summary (API.md §7) and analytics (API.md §8)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
