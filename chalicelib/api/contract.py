"""What a route takes and answers: the contract entry of its declaration (chalicelib/api/routes.py).

An entry names models by reference, never by import, so that `import app` loads none of them (STYLE fact 7):
"devices.models.DeviceCreate" is a model of a capability (a path under chalicelib), "Device" a model of
api/schemas.py or api/report_schemas.py, and "DevicePage" the page of Device ({"count", "next", "previous",
"results"}). The route's wrapper parses the query and body with the models named here, and the OpenAPI builder
describes them, so what is documented is what is checked. Error answers follow from what a route takes
(openapi.error_statuses); `errors` adds the ones its use case raises besides.
"""
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module

VERSION = "1.0.0"
DESCRIPTION = ("Fleetline's HTTP API (API.md), generated from its routes and their pydantic models. Every path "
               "also answers with a trailing slash. Lists take `limit`, `offset` and the opaque `cursor` found in "
               "`next`.")
PAGE_SUFFIX = "Page"


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    answers: dict[int, str | None] = field(default_factory=lambda: {200: None})
    query: str | None = None
    body: str | None = None
    # The body the OpenAPI describes, where it is stricter than what the wrapper parses: the ingest routes parse
    # their batch loosely and validate each record on its own (a bad one is answered, not the whole batch), and
    # document the typed records (api/record_schemas.py) so that generated clients build them.
    described_body: str | None = None
    errors: tuple[int, ...] = ()
    idempotent: bool = False         # takes Idempotency-Key (api/idempotency.run_once)
    if_match: bool = False           # takes If-Match (api/conditional)
    if_none_match: bool = False      # takes If-None-Match (a 304 when it names the current ETag)
    etag: bool = False               # answers with an ETag
    description: str = ""
    answer: str = "Done."


@cache
def model(reference: str):
    """The pydantic model a reference names (see the module's docstring). Raises LookupError for none."""
    if "." in reference:
        module, _, name = reference.rpartition(".")
        found = getattr(import_module(f"chalicelib.{module}"), name, None)
    else:
        from chalicelib.api import report_schemas, schemas
        found = getattr(schemas, reference, None) or getattr(report_schemas, reference, None)
    if found is None and reference.endswith(PAGE_SUFFIX):
        from chalicelib.api.schemas import page_of
        found = page_of(model(reference.removesuffix(PAGE_SUFFIX)))
    if found is None:
        raise LookupError(f"no model {reference!r} (see chalicelib/api/contract.py)")
    return found
