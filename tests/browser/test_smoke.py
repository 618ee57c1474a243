"""The harness end to end, on the one page the service has always served: the API docs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.checks import axe_violations, describe, screenshot
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_the_docs_page_opens_in_chromium_from_the_server(server: Server, page: Page, tmp_path: Path) -> None:
    page.goto("/schema")

    # Swagger UI builds the page from the OpenAPI document, which it fetches from the server.
    page.get_by_role("heading", name="governance").first.wait_for()
    assert page.title() == "governance: API documentation"
    # Third-party markup: axe runs on it (the helper works) but the quality bar is for our pages.
    violations = axe_violations(page)
    assert isinstance(violations, list)
    describe(violations)
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
