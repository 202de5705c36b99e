"""API tokens and the Principal a request acts as (API.md §1, §9)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
