"""Everything by keyboard alone: the skip link, a mentee's switch, a staff sign-in, a case's move.

Each journey uses only Tab, Shift+Tab, Enter and Space, as a person without a mouse does, and
checks where the focus is and what the page then says.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tests.browser.checks import assert_accessible
from tests.browser.conftest import PORTAL_RETURN_PREFIX
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# Enough presses to cross any page's header and content; a journey that needs more has lost its way.
MOST_TABS = 60
WAIT_MS = 10_000


def focused(page: Page) -> str:
    """What has the focus, as a person would name it: its accessible name or its text."""
    return str(
        page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) return "";
                const label = el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].innerText);
                return (label || el.innerText || el.value || el.id || "").trim();
            }"""
        )
    )


def tab_to(page: Page, wanted: Locator) -> None:
    """Press Tab until ``wanted`` has the focus (fail after MOST_TABS, naming what it went through)."""
    seen = []
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        if wanted.evaluate("element => element === document.activeElement"):
            return
        seen.append(focused(page))
    raise AssertionError(f"Tab never reaches {wanted}; it went through {seen}")


def test_the_first_tab_offers_the_skip_link_and_it_moves_to_the_content(server: Server, page: Page) -> None:
    page.goto("/escalation")
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert_accessible(page)


def test_a_mentee_switches_a_purpose_with_the_keyboard(server: Server, page: Page) -> None:
    mentee = f"mentee-{uuid.uuid4().hex[:8]}"
    with server.client(server.token("platform-1", "platform")) as platform:
        opened = platform.post(
            "/api/v1/privacy/portal-sessions",
            json={"mentee_id": mentee, "return_url": f"{PORTAL_RETURN_PREFIX}/privacy"},
        )
    assert opened.status_code == 201, opened.text
    page.goto(opened.json()["url"])
    tab_to(page, page.get_by_role("button", name="Continue"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy")

    switch = page.get_by_role("switch", name="Product analytics")
    assert switch.get_attribute("aria-checked") == "true"
    tab_to(page, switch)
    page.keyboard.press("Space")
    page.locator("#switch-status").filter(has_text="Product analytics is now not allowed").wait_for(
        state="attached", timeout=WAIT_MS
    )
    assert switch.get_attribute("aria-checked") == "false"
    # The focus stays on the switch just used, so the next key press goes on from there.
    assert switch.evaluate("element => element === document.activeElement")
    with server.client(server.token("platform-1", "platform")) as platform:
        preferences = platform.get(f"/api/v1/privacy/mentees/{mentee}/preferences").json()
    states = {purpose["purpose"]: purpose for purpose in preferences["preferences"]["purposes"]}
    assert states["product_analytics"]["allowed"] is False


def test_staff_sign_in_and_work_a_case_with_the_keyboard(server: Server, page: Page) -> None:
    with server.client(server.token("mentee-kb", "mentee")) as mentee:
        filed = mentee.post(
            "/api/v1/complaints",
            json={"category": "billing", "description": "Two charges for one session."},
        )
    assert filed.status_code == 201, filed.text
    case = filed.json()["id"]
    token = server.token("agent-kb", "support_agent")

    page.goto(f"/sign-in?next=/support/cases/{case}")
    tab_to(page, page.get_by_label("Token"))
    page.keyboard.type(token)
    # The token is a text area (Enter would add a line): Tab on to the button, then Enter.
    tab_to(page, page.get_by_role("button", name="Sign in"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/support/cases/{case}")
    assert_accessible(page)

    tab_to(page, page.get_by_role("button", name="Acknowledge"))
    page.keyboard.press("Enter")
    page.get_by_text("Acknowledged").first.wait_for(timeout=WAIT_MS)
    with server.client(server.token("agent-kb", "support_agent")) as agent:
        assert agent.get(f"/api/v1/complaints/{case}").json()["state"] == "acknowledged"
