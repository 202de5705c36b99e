"""GET /docs: the interactive reference of GET /openapi.json (Swagger UI), served by the API's own Lambda.

Operators run Fleetline in closed networks, so nothing comes from a CDN: the page and its assets come from the
pinned `swagger-ui-bundle-v2` package (Swagger UI's own distribution files), through this one route:
`/docs` answers the page, `/docs?asset=<name>` one of the files it loads. The page's Content-Security-Policy
allows this origin only, so a browser refuses anything a future Swagger UI would fetch from elsewhere.

Sizes: the largest asset (swagger-ui-bundle.js, 1.5 MB) stays far below Lambda's 6 MB response limit once
JSON-escaped into the proxy answer (tests/docs checks it), and every asset is text (JavaScript, CSS, HTML),
which API Gateway passes through without binary media types. Only this route imports this module, and it
reads each file once per warm Lambda: other routes' cold start is unchanged.
"""
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from chalice import Response
from pydantic import BaseModel, ConfigDict, Field
from swagger_ui_bundle import swagger_ui_path

ROUTE = "/docs"
# Swagger UI's own page title would say "Swagger UI"; ours names the API.
TITLE = "Fleetline API reference"
# The files the page loads, with their media types. The initializer is ours: a script file rather than an
# inline <script>, so that the policy below needs no 'unsafe-inline' for scripts.
AssetName = Literal["swagger-ui-bundle.js", "swagger-ui.css", "fleetline-docs.js"]
ASSETS = dict(zip(get_args(AssetName), ("text/javascript; charset=utf-8", "text/css; charset=utf-8",
                                         "text/javascript; charset=utf-8"), strict=True))
# Swagger UI sets inline styles and shows data: images (icons in its CSS).
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
# The initializer: Swagger UI on the document named by the page, without the standalone top bar (which would
# let a visitor load any URL) and without the public validator badge (a call to swagger.io).
INITIALIZER = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    docExpansion: "list",
    displayRequestDuration: true,
    filter: true,
    persistAuthorization: false,
    validatorUrl: null
  });
});
"""
PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{docs}?asset=swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi="{openapi}"></div>
  <script src="{docs}?asset=swagger-ui-bundle.js"></script>
  <script src="{docs}?asset=fleetline-docs.js"></script>
</body>
</html>
"""


class DocsQuery(BaseModel):
    """GET /docs: without `asset`, the page; with it, one of the files the page loads."""
    model_config = ConfigDict(extra="forbid")

    asset: AssetName | None = Field(default=None, description="A file the page loads.")


def answer(request, query: DocsQuery) -> Response:
    """The page, or the asset `query` names."""
    if query.asset is None:
        base = base_path(request)
        html = PAGE.format(title=TITLE, docs=base + ROUTE, openapi=base + "/openapi.json")
        return Response(body=html, status_code=200, headers={
            "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": POLICY,
            "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
    return Response(body=asset_text(query.asset), status_code=200, headers={
        "Content-Type": ASSETS[query.asset], "Cache-Control": "public, max-age=86400",
        "ETag": f'"swagger-ui-{swagger_ui_version()}"', "X-Content-Type-Options": "nosniff"})


def base_path(request) -> str:
    """The path this API is served under: API Gateway's stage prefix ("/api"), or "" on `chalice local`."""
    path = (request.context.get("path") or request.path).rstrip("/")
    return path.removesuffix(ROUTE)


@cache
def asset_text(name: str) -> str:
    if name == "fleetline-docs.js":
        return INITIALIZER
    return (_distribution() / name).read_text(encoding="utf-8")


def swagger_ui_version() -> str:
    """The Swagger UI release the pinned package carries (its folder is named swagger-ui-<version>)."""
    return _distribution().name.removeprefix("swagger-ui-")


def _distribution() -> Path:
    return Path(swagger_ui_path)     # the package's one export: the folder of Swagger UI's distribution files
