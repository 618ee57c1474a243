"""Agreement and templates in a browser: the public ratings method lists the standard
templates and the method; the officer's complaints dashboard shows alpha with its interval."""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING

from tests.browser.checks import NARROW, assert_accessible, screenshot
from tests.browser.server import Server
from tests.browser.test_auditor import sign_in_with_link

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import NewPage


def test_the_ratings_method_lists_the_templates(server: Server, page: Page) -> None:
    page.goto("/ratings-method")
    assert page.get_by_role("heading", name="Attestation templates", level=2).is_visible()
    assert page.get_by_role("heading", name="System design readiness", level=3).is_visible()
    levels = page.get_by_role("table", name="Levels of System design readiness (2026.1)")
    assert levels.get_by_role("rowheader", name="Ready").is_visible()
    assert page.get_by_text("Krippendorff's alpha for ordinal data").first.is_visible()
    assert_accessible(page)
    screenshot(page, "ratings-method", narrow=True)


def test_the_officer_sees_agreement_on_the_complaints_dashboard(server: Server, new_page: NewPage) -> None:
    # Three mentors score eight candidates in a month of their own; the third is one step off.
    mentors = [f"mentor-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    with server.client(server.token("platform-agreement", "platform")) as platform:
        for n in range(8):
            candidate = f"mentee-{uuid.uuid4().hex[:8]}"
            for m, mentor in enumerate(mentors):
                body = {
                    "mentor_id": mentor,
                    "candidate_id": candidate,
                    "competency": "system-design",
                    "score": n % 4 + (1 if m == 2 and n % 2 else 0),
                    "rubric_version": "2026.1",
                    "session_date": "2017-05-10",
                    "token_sha256": hashlib.sha256(f"{candidate}{m}".encode()).hexdigest(),
                }
                assert platform.post("/api/v1/attestations", json=body).status_code == 201
    with server.client(server.token("officer-agreement", "compliance_officer")) as officer:
        summary = officer.get("/api/v1/complaints/summary?period_start=2017-05-01&period_end=2017-05-31")
    assert summary.status_code == 200, summary.text
    alpha = summary.json()["agreement"]["platform"]["alpha"]
    page = new_page(viewport=NARROW)
    sign_in_with_link(server, page, "officer-agreement", "compliance_officer")
    page.goto("/dashboard/complaints?period_start=2017-05-01&period_end=2017-05-31")
    table = page.get_by_role("table", name="Mentor agreement by template")
    table.wait_for()
    row = table.get_by_role("row", name="All templates")
    assert f"{alpha:.3f}" in row.inner_text() and "24" in row.inner_text()  # alpha; pairable ratings
    assert_accessible(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    table.scroll_into_view_if_needed()
    screenshot(page, "mentor-agreement")
