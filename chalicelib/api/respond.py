"""Build Chalice responses: status, JSON body, headers; the domain never sees HTTP."""
from chalice import Response


def respond(body, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body if body is not None else "", status_code=status, headers=headers or {})


def no_content() -> Response:
    return Response(body="", status_code=204)
