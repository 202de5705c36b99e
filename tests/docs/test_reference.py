"""GET /docs without a browser: the page and its assets come from the API (the pinned Swagger UI package), need no
token, fit a Lambda answer, and other routes do not load any of it (cold start)."""
import json
import re
import subprocess
import sys
import zipfile

from swagger_ui_bundle import swagger_ui_path

from chalicelib.api import reference
from tests.infra.test_package import packaged  # noqa: F401  (the packaged stack, made once per run)

LAMBDA_ANSWER_LIMIT = 6 * 1024 * 1024      # bytes of a synchronous Lambda answer, the proxy JSON included


def test_the_page_needs_no_token_and_loads_only_this_apis_own_files(api):
    response = api.get("/docs", token=None)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.body.decode()
    sources = sorted(url for url in re.findall(r'(?:src|href)="([^"]+)"', page) if not url.startswith("data:"))
    assert sources == ["/docs?asset=fleetline-docs.js", "/docs?asset=swagger-ui-bundle.js",
                       "/docs?asset=swagger-ui.css"]
    assert 'data-openapi="/openapi.json"' in page
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_behind_api_gateway_the_page_names_its_stage_prefix():
    class Request:
        context = {"path": "/api/docs/"}
        path = "/docs"
    page = reference.answer(Request(), reference.DocsQuery()).body
    assert 'data-openapi="/api/openapi.json"' in page and 'src="/api/docs?asset=swagger-ui-bundle.js"' in page


def test_each_asset_is_the_packages_own_file_as_text_within_a_lambda_answer(api):
    for name, media_type in reference.ASSETS.items():
        response = api.get(f"/docs/?asset={name}", token=None)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == media_type
        assert response.headers["ETag"] == f'"swagger-ui-{reference.swagger_ui_version()}"'
        text = response.body.decode()
        if name != "fleetline-docs.js":
            assert text == (swagger_ui_path / name).read_text()
        proxy_answer = json.dumps({"statusCode": 200, "headers": response.headers, "body": text})
        assert len(proxy_answer.encode()) < LAMBDA_ANSWER_LIMIT / 2, name


def test_an_unknown_asset_or_parameter_is_a_400_that_names_it(api, refused):
    error = refused(api.get("/docs?asset=../../app.py", token=None), 400, "INVALID_QUERY")
    assert error["details"][0]["field"] == "asset"
    error = refused(api.get("/docs?theme=dark", token=None), 400, "INVALID_QUERY")
    assert error["details"][0]["field"] == "theme"


def test_other_routes_do_not_load_the_reference():
    code = ("import sys, app; from chalice.test import Client; "
            "print(sorted(m for m in sys.modules if m.startswith(('swagger_ui_bundle', 'chalicelib.api.reference'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_lambda_package_carries_swagger_ui(packaged):  # noqa: F811
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        names = set(archive.namelist())
    version = reference.swagger_ui_version()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"swagger_ui_bundle/vendor/swagger-ui-{version}/{name}" in names
