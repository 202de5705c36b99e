"""GET /docs in a real headless browser (Debian's chromium, driven by playwright) against `chalice local`'s server:
every operation group of /openapi.json is shown, and "Try it out" with a bearer token reads a 200.

Needs /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it): without it the test is skipped, saying
so, except in CI. Playwright never downloads a browser of its own here (`executable_path`): the network is closed.
"""
import json
import os
import shutil
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.docs.server import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium calls Google's hosts at start and they are refused; a fresh
# profile per run comes from playwright itself (a new --user-data-dir in a temporary folder).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TIMEOUT_MS = 20_000

# .ci/run sets FLEETLINE_REQUIRE_BROWSER: there a missing browser fails the test instead of skipping it.
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None and not os.environ.get("FLEETLINE_REQUIRE_BROWSER"),
                                reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)")


@pytest.fixture(scope="module")
def served():
    with serving() as served:
        yield served


@pytest.fixture
def page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _spec(url: str) -> dict:
    with urllib.request.urlopen(url + "/openapi.json", timeout=10) as response:
        return json.load(response)


def test_docs_shows_every_operation_group_and_tries_a_get_with_a_token(served, page):
    # GIVEN an organization to list, and a record of every request the page makes and every console error
    served.api.organization("reference-demo")
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    # WHEN the reference is opened without a token
    response = page.goto(served.url + "/docs")
    assert response.status == 200

    # THEN it shows every operation group (tag) of the document, and nothing came from anywhere but this API
    page.wait_for_selector(".opblock-tag-section")
    tags = {tag["name"] for tag in _spec(served.url)["tags"]}
    shown = set(page.locator(".opblock-tag").evaluate_all("nodes => nodes.map(n => n.dataset.tag)"))
    assert shown == tags
    assert page.locator(".opblock").count() == sum(len(ops) for ops in _spec(served.url)["paths"].values())

    # WHEN a bearer token is given to Authorize, and "Try it out" runs GET /admin/organizations
    page.click("button.authorize")
    page.fill(".modal-ux input", served.api.platform)
    page.click(".modal-ux .auth-btn-wrapper button.authorize")
    page.click(".modal-ux button.btn-done")
    operation = page.locator("#operations-administration-list_organizations")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()

    # THEN the answer shown is the API's 200 with the organization, and the request carried the token
    status = operation.locator(".live-responses-table tbody .response-col_status")
    status.wait_for()
    assert status.inner_text().strip() == "200"
    shown_body = operation.locator(".live-responses-table .response-col_description pre").first.inner_text()
    assert "reference-demo" in shown_body
    assert f"Authorization: Bearer {served.api.platform}" in operation.locator(".curl-command").inner_text()
    origin = urlsplit(served.url).netloc
    assert {urlsplit(url).netloc for url in requests if not url.startswith("data:")} == {origin}
    assert not problems, problems
