"""One declaration per route: method, path, who may call it, and its contract entry (what it takes and answers).

    route = Routes(app)

    @route("GET", "/inventory_device/{device_id}", "devices:read", "Get a device", "devices",
           query="devices.models.DeviceQuery", answers={200: "Device"}, etag=True)
    def get_inventory_device(device_id: int, query):
        ...

Everything else reads that one declaration: the HTTP middleware checks its access before the route runs
(api/envelope.py), the wrapper made here turns its path ids into ints and parses the query and body its entry
names (handed to the view as `query` and `body` when the view takes them), the OpenAPI document describes it
(api/openapi.py), and infra/ and the tests list routes from it. A route has no default access: leaving it
out is a TypeError at import, and a route registered with plain `@app.route` makes `verify(app)` (the last line
of app.py) refuse to start. Public routes say so with PUBLIC.
"""
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from chalicelib.api.contract import Op, model
from chalicelib.errors import BadRequest, Forbidden
from chalicelib.ids import MAX_ID, parse_digits

# Path parameters that are not ids, and their longest value; every other path parameter is an id.
TEXT_PATH_PARAMETERS = {"physical_id": 64}


@dataclass(frozen=True)
class Access:
    """Who may call a route: anyone (public), or a token holding `needs` (all of them, or one when any_one),
    and a platform token when platform_only."""
    needs: tuple[str, ...] = ()
    any_one: bool = False
    platform_only: bool = False
    public: bool = False

    def check(self, principal) -> None:
        """Raises: Forbidden when the token may not call the route."""
        if self.any_one:
            principal.require_any(self.needs)
        else:
            for permission in self.needs:
                principal.require(permission)
        if self.platform_only and not principal.is_platform:
            raise Forbidden("Only a platform token may call this route.", code="PLATFORM_ONLY")

    def text(self) -> str:
        """What the OpenAPI description says of it."""
        if self.public:
            return "No token needed."
        joined = (" or " if self.any_one else " and ").join(f"`{p}`" for p in self.needs)
        text = f"Needs the {joined} permission{'s' if len(self.needs) > 1 and not self.any_one else ''}."
        return text + (" Platform tokens only." if self.platform_only else "")


PUBLIC = Access(public=True)


def needs(*permissions: str, platform_only: bool = False) -> Access:
    """Every one of `permissions`."""
    return Access(tuple(permissions), platform_only=platform_only)


def any_of(*permissions: str) -> Access:
    """At least one of `permissions` (the service checks finer, e.g. PATCH's operation flags)."""
    return Access(tuple(permissions), any_one=True)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    view: str            # the view function's name: the OpenAPI operationId
    access: Access
    op: Op


DECLARED: dict[tuple[str, str], Route] = {}
_TARGETS: list = []     # the apps and blueprints routes are declared on


class Routes:
    """The route decorator of a Chalice app or Blueprint (register blueprints without url_prefix: the declared
    path is the served path)."""

    def __init__(self, target):
        self.target = target
        _TARGETS.append(target)

    def __call__(self, method: str, path: str, access: str | Access, summary: str, tag: str, **contract):
        if isinstance(access, str):
            access = needs(access)
        if not isinstance(access, Access) or not (access.public or access.needs):
            raise TypeError(f"{method} {path}: access must name a permission, or be PUBLIC")
        op = Op(summary, tag, **contract)

        def register(view: Callable):
            key = (method, path)
            if key in DECLARED:
                raise ValueError(f"{method} {path} is declared twice")
            DECLARED[key] = Route(method, path, view.__name__, access, op)
            takes = inspect.signature(view).parameters
            parsers = [(name, reference, parse) for name, reference, parse in (
                ("query", op.query, _parse_query), ("body", op.body, _parse_body)) if reference and name in takes]

            @functools.wraps(view)
            def handler(**path_values):
                request = self.target.current_request
                values = {name: path_value(name, text) for name, text in path_values.items()}
                for name, reference, parse in parsers:
                    values[name] = parse(request, model(reference))
                return view(**values)

            self.target.route(path, methods=[method])(handler)
            return view
        return register


def _parse_query(request, query_model):
    from chalicelib.api.parsing import parse_query
    return parse_query(request, query_model)


def _parse_body(request, body_model):
    from chalicelib.api.parsing import parse_body
    return parse_body(request, body_model)


def path_value(name: str, text: str) -> int | str:
    """A path parameter as the view gets it: an id as an int, text decoded (paths arrive URL-encoded).

    Raises:
        BadRequest: INVALID_PATH for an id that is not 1 to 9,999,999,999 in ASCII digits, or text that is empty,
            too long or holds control characters.
    """
    value = unquote(text)
    if name in TEXT_PATH_PARAMETERS:
        longest = TEXT_PATH_PARAMETERS[name]
        if 1 <= len(value) <= longest and value.isprintable():
            return value
        problem = f"1 to {longest} printable characters are expected"
    else:
        number = parse_digits(value)
        if number is not None:
            return number
        problem = f"an id from 1 to {MAX_ID} in ASCII digits (0-9) is expected"
    raise BadRequest(f"The path parameter {name} is not valid: {problem}.", code="INVALID_PATH",
                     details=[{"field": name, "problem": problem}])


def find(method: str, path: str) -> Route | None:
    """The declaration of a route; None for a method the path does not serve (Chalice answers 405).

    Raises:
        Forbidden: ROUTE_NOT_DECLARED for a route served without a declaration (fail closed: verify() stops
            app.py from starting with one, so only a route added after start-up gets here).
    """
    route = DECLARED.get((method, path))
    if route is None and any(method in getattr(target, "routes", {}).get(path, {}) for target in _TARGETS):
        raise Forbidden("This route has no access rule and is refused.", code="ROUTE_NOT_DECLARED")
    return route


def undeclared(app) -> list[str]:
    """Routes `app` serves without a declaration (plain @app.route): each would run with no access check."""
    return sorted(f"{method} {path}" for path, methods in app.routes.items() for method in methods
                  if (method, path) not in DECLARED)


def verify(app) -> None:
    """Refuse to start with a route that has no declaration (and so no access rule). Raises: RuntimeError."""
    missing = undeclared(app)
    if missing:
        raise RuntimeError(f"routes without a declaration (chalicelib/api/routes.py): {', '.join(missing)}")
