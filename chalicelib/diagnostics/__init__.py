"""Diagnostics: entries, helpers and the scheduled health check (API.md §4)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
