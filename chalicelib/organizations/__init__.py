"""Organizations, the tenants (API.md §9)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
