"""A mentee's journeys in Chromium: from the platform's portal link to their choices, their
receipts, a copy of their data and an erasure request; and the public notices."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING

from tests.browser.checks import NARROW, assert_accessible, screenshot
from tests.browser.conftest import PORTAL_RETURN_PREFIX, NewPage
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page

ANALYTICS = "Product analytics"
WAIT_MS = 10_000


def _arrive(server: Server, page: Page, mentee: str) -> None:
    """The platform asks for a portal link (its own token), the mentee opens it and continues."""
    with server.client(server.token("platform-1", "platform")) as platform:
        opened = platform.post(
            "/api/v1/privacy/portal-sessions",
            json={"mentee_id": mentee, "return_url": f"{PORTAL_RETURN_PREFIX}/privacy"},
        )
    assert opened.status_code == 201, opened.text
    page.goto(opened.json()["url"])
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/privacy")


def _switch_checked(page: Page, title: str) -> str | None:
    return page.get_by_role("switch", name=title).get_attribute("aria-checked")


def test_a_mentee_switches_a_purpose_off_sees_the_receipt_and_the_api_reports_it(server: Server, page: Page) -> None:
    mentee = f"mentee-{uuid.uuid4().hex[:8]}"
    _arrive(server, page, mentee)
    page.get_by_role("heading", name="Your privacy", level=1).wait_for()
    assert page.get_by_role("link", name="Back to platform.example").get_attribute("href") == (
        f"{PORTAL_RETURN_PREFIX}/privacy"
    )
    assert _switch_checked(page, ANALYTICS) == "true"
    assert_accessible(page)
    screenshot(page, "preference-centre", narrow=True)

    page.get_by_role("switch", name=ANALYTICS).click()
    # The page's live region says it (screen readers announce it), and the purpose shows its receipt.
    said = page.locator("#switch-status")
    said.filter(has_text="Recorded: Product analytics is now not allowed.").wait_for(state="attached", timeout=WAIT_MS)
    assert said.get_attribute("role") == "status"
    receipt = page.locator("#purpose-product_analytics .purpose__receipt")
    assert "Recorded: Product analytics is now not allowed." in receipt.inner_text()
    # htmx swapped only that purpose: the page did not reload, the switch says off and keeps focus.
    assert page.url.endswith("/privacy")
    assert _switch_checked(page, ANALYTICS) == "false"
    assert page.evaluate("document.activeElement && document.activeElement.id") == "switch-product_analytics"
    assert_accessible(page)
    link = receipt.get_by_role("link", name="Download the receipt").get_attribute("href")
    assert link and re.fullmatch(r"/privacy/receipts/[0-9a-f-]{36}", link)

    with server.client(server.token("platform-1", "platform")) as platform:
        reported = platform.get(f"/api/v1/privacy/mentees/{mentee}/preferences")
    analytics = next(p for p in reported.json()["preferences"]["purposes"] if p["purpose"] == "product_analytics")
    assert (analytics["allowed"], analytics["method"]) == (False, "explicit")

    page.get_by_role("link", name="Your choices over time").first.click()
    page.get_by_role("heading", name="Your choices over time", level=1).wait_for()
    row = page.get_by_role("row").filter(has_text=ANALYTICS)
    assert "Not allowed" in row.inner_text()
    assert_accessible(page)
    screenshot(page, "consent-history", narrow=True)
    with page.expect_download() as download:
        row.get_by_role("link", name=re.compile("^Download")).click()
    body = json.loads(download.value.path().read_text())
    assert body["pii_principal_id"] == mentee and body["purposes"][0]["state"] == "opt_out"


def test_a_mentee_reads_a_copy_of_their_data_then_asks_for_erasure(server: Server, new_page: NewPage) -> None:
    mentee = f"mentee-{uuid.uuid4().hex[:8]}"
    page = new_page()
    _arrive(server, page, mentee)
    page.get_by_role("link", name="Your data requests").first.click()
    page.get_by_label("Anything you want to tell us").fill("Everything you hold about me, please.")
    page.get_by_role("button", name="Ask for a copy").click()
    page.get_by_role("heading", name="A copy of your data", level=1).wait_for()
    assert "Your copy is not ready yet" in page.inner_text("main")
    request_id = page.url.rsplit("/", 1)[-1]

    # The compliance officer carries it out through the API; the mentee comes back to the page.
    with server.client(server.token("officer-journey", "compliance_officer")) as officer:
        for state in ("in_progress", "completed"):
            etag = officer.get(f"/api/v1/privacy/requests/{request_id}").headers["etag"]
            moved = officer.post(
                f"/api/v1/privacy/requests/{request_id}/transitions", json={"to": state}, headers={"If-Match": etag}
            )
            assert moved.status_code == 200, moved.text
    page.reload()
    page.get_by_role("heading", name="Your copy is ready").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Read your copy").click()
    page.get_by_role("heading", name="Your copy of your data", level=1).wait_for()
    assert "Everything you hold about me, please." in page.inner_text("main")
    assert_accessible(page)

    page.goto("/privacy/requests")
    assert "Copy ready" in page.get_by_role("row").filter(has_text="A copy of your data").inner_text()
    assert_accessible(page)
    screenshot(page, "data-requests", narrow=True)

    page.get_by_role("link", name="Ask for erasure").click()
    page.get_by_role("heading", name="What we erase").wait_for()
    confirmation = page.inner_text("main")
    assert "Everything you allow now is switched off: Product analytics." in confirmation
    assert "nothing is kept under a legal hold" in confirmation
    assert_accessible(page)
    screenshot(page, "erasure-confirmation", narrow=True, full_page=True)
    page.get_by_role("button", name="Erase my data").click()
    page.get_by_role("heading", name="Erasure of your data", level=1).wait_for()
    assert "Received" in page.inner_text("main")
    assert_accessible(page)


def test_the_privacy_notices_are_public(new_page: NewPage) -> None:
    page = new_page()
    page.goto("/privacy/notices")
    page.get_by_role("heading", name="Privacy notices", level=1).wait_for()
    assert page.get_by_role("heading", name="Share attestations with employers", level=3).is_visible()
    assert_accessible(page)
    screenshot(page, "privacy-notices", narrow=True)
    french = new_page(locale="fr-FR", viewport=NARROW)
    french.goto("/privacy/notices")
    assert "Nous partageons les attestations" in french.inner_text("main")
    assert_accessible(french)


def test_without_scripts_the_switch_still_records_and_shows_the_receipt(server: Server, new_page: NewPage) -> None:
    page = new_page(java_script_enabled=False)
    _arrive(server, page, f"mentee-{uuid.uuid4().hex[:8]}")
    page.get_by_role("switch", name="Marketing").click()
    page.wait_for_url(re.compile(r"/privacy\?receipt=[0-9a-f-]{36}#purpose-marketing$"))
    recorded = page.locator("#receipt")
    assert "Your change is recorded" in recorded.inner_text() and "Marketing: allowed" in recorded.inner_text()
    assert _switch_checked(page, "Marketing") == "true"
