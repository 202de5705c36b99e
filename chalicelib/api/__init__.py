"""The HTTP edge: routes, auth, envelope, parsing, paging and the HTTP shapes of answers; modules load on first use
(app.py names `api.connection_history` only inside its route)."""
from chalicelib import submodules_on_first_use

__getattr__ = submodules_on_first_use(__name__)
