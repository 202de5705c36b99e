"""Bulk operations (API.md §11): fleet rollouts paced in the background, with abort thresholds."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
