"""The harness end to end, on the one page the service has always served: the API docs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.checks import axe_violations, describe, screenshot
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page

SWAGGER_UI_TIMEOUT_MS = 90_000


def test_the_docs_page_opens_in_chromium_from_the_server(server: Server, page: Page, tmp_path: Path) -> None:
    # Swagger UI builds the page in the browser from the whole OpenAPI document, which it
    # fetches from the server: on a busy machine that took 30 seconds (our pages are light).
    page.goto("/schema", timeout=SWAGGER_UI_TIMEOUT_MS)
    page.get_by_role("heading", name="governance").first.wait_for(timeout=SWAGGER_UI_TIMEOUT_MS)
    assert page.title() == "governance: API documentation"
    # Third-party markup: axe runs on it (the helper works) but the quality bar is for our pages;
    # the heading's block only, since the whole document's operations take axe seconds.
    violations = axe_violations(page, context=".information-container")
    assert isinstance(violations, list)
    report = describe(violations)
    assert all(violation["id"] in report and violation["helpUrl"] in report for violation in violations)
    # Smoke pictures stay out of docs/screenshots, which holds the README's.
    written = screenshot(page, "api-docs", narrow=True, directory=tmp_path)
    assert [path.name for path in written] == ["api-docs.png", "api-docs-360.png"]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)


def test_the_command_line_and_the_api_reach_the_same_server(server: Server) -> None:
    token = server.token("officer-smoke", "compliance_officer")

    with server.client(token) as api:
        me = api.get("/api/v1/me")
    with server.client() as anonymous:
        refused = anonymous.get("/api/v1/me")

    assert me.status_code == 200, me.text
    assert me.json()["sub"] == "officer-smoke"
    assert refused.status_code == 401
