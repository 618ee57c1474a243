"""Two compliance officers vet and approve a mentor, in Chromium, through the pages only."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pypdf import PdfReader

from tests.browser.checks import assert_accessible, screenshot
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import NewPage

# The server's own worker renders the bundle (a busy machine takes a while).
BUNDLE_TIMEOUT_MS = 120_000
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# What each detail the shipped requirements ask for is filled in with.
DETAILS = {
    "method": "document and video check",
    "level": "enhanced",
    "certificate_number": "001234567890",
    "issuing_body": "DBS",
    "credential": "ICF PCC",
    "referee_relationship": "former manager",
    "interviewer": "officer-a",
    "code_version": "2026.1",
    "course": "Safeguarding adults and children",
    "provider": "NSPCC",
    "issued_on": datetime.now(UTC).date().isoformat(),
}


def signed_in(new_page: NewPage, server: Server, sub: str, **options: Any) -> Page:
    """A browser of its own, signed in through a one-time link as ``governance token link`` prints it."""
    page = new_page(**options)
    link = server.cli("token", "link", "--sub", sub, "--role", "compliance_officer")
    page.goto(link)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{server.url}/")
    return page


def register(server: Server, external_id: str) -> dict[str, Any]:
    with server.client(server.token("platform-1", "platform")) as api:
        created = api.post(
            "/api/v1/mentors",
            json={
                "external_id": external_id,
                "display_name": "Ada Mentor",
                "email": "ada@example.org",
                "jurisdiction": "GB",
                "engagement_type": "contractor",
                "specialties": ["interview practice"],
            },
        )
    assert created.status_code == 201, created.text
    return dict(created.json())


def move(page: Page, to: str) -> None:
    page.get_by_role("group", name="Move it to").get_by_label(to, exact=True).check()
    page.get_by_role("button", name="Move", exact=True).click()


def record_checks(page: Page, evidence: Path, check: bool) -> list[str]:
    """Record every check the dossier asks for, from its requirements table: details,
    evidence, review, and a pass where this officer may give one. Returns the check pages
    whose pass needs another officer (four eyes)."""
    dossier_url = page.url
    wanted = []
    for row in page.get_by_role("table", name="Checks this mentor needs").locator("tbody tr").all():
        needed = row.get_by_role("rowheader").inner_text()
        href = row.get_by_role("link").get_attribute("href")
        wanted.append((href, 2 if "(2 needed)" in needed else 1))
    others = []
    for href, count in wanted:
        for _ in range(count):
            assert href
            page.goto(href)
            for field in page.locator("input[name^=detail_]").all():
                name = (field.get_attribute("name") or "").removeprefix("detail_")
                field.fill(DETAILS[name])
            if check:
                assert_accessible(page)
            page.get_by_role("button", name="Record the check").click()
            page.get_by_role("heading", name="Evidence").wait_for()
            if page.get_by_label("Document to attach").count():
                page.get_by_label("Document to attach").set_input_files(evidence)
                page.get_by_role("button", name="Attach", exact=True).click()
                page.get_by_role("cell", name="application/pdf").first.wait_for()
            if check:
                assert_accessible(page)
                check = False
            move(page, "Move to review")
            page.get_by_text("In review").first.wait_for()
            if "background_check" in href:  # four eyes: A attached its evidence
                others.append(page.url)
                continue
            move(page, "Pass")
            page.locator(".badge", has_text="Passed").first.wait_for()
    page.goto(dossier_url)
    return others


def test_two_officers_vet_and_approve_a_mentor_and_download_the_bundle(
    server: Server, new_page: NewPage, tmp_path: Path
) -> None:
    mentor = register(server, "journey-ada")
    evidence = tmp_path / "evidence.pdf"
    evidence.write_bytes(PDF)
    first = signed_in(new_page, server, "officer-a")
    # The second officer's browser runs no script: every step works without htmx.
    second = signed_in(new_page, server, "officer-b", java_script_enabled=False)

    # Officer A: the list, then the dossier.
    first.get_by_role("navigation", name="Main").get_by_role("link", name="Mentor vetting").click()
    first.get_by_role("heading", name="Mentor vetting", level=1).wait_for()
    assert_accessible(first)
    screenshot(first, "mentor-list", narrow=True)
    first.get_by_role("link", name="Ada Mentor").click()
    first.get_by_role("heading", name="Dossier of Ada Mentor").wait_for()
    assert_accessible(first)
    screenshot(first, "dossier", narrow=True)

    # A records every check with its evidence; the background check needs B's pass.
    for_the_second = record_checks(first, evidence, check=True)
    assert len(for_the_second) == 1
    second.goto(for_the_second[0])
    move(second, "Pass")
    second.locator(".badge", has_text="Passed").first.wait_for()

    # A proposes the approval; the page says who proposed and what is still needed.
    first.reload()
    assert first.get_by_text("Every required check is passed or waived, and current").is_visible()
    first.get_by_label("Approve").check()
    first.get_by_label("Rationale").fill("Every required check passed with its evidence.")
    first.get_by_role("button", name="Propose").click()
    first.get_by_role("heading", name="Proposal awaiting a second officer: Approve").wait_for()
    assert first.get_by_text("confirmation or rejection by a compliance officer other than officer-a").is_visible()
    # A's own confirmation is refused by the service, and the page says why.
    first.get_by_role("button", name="Confirm: Approve").click()
    first.get_by_text("another compliance officer must confirm or reject it").first.wait_for()
    assert_accessible(first)
    screenshot(first, "decision-pending", narrow=True)

    # B confirms: the mentor is approved, on the page and in the API.
    second.goto(f"/vetting/mentors/{mentor['id']}")
    second.get_by_role("button", name="Confirm: Approve").click()
    second.get_by_role("heading", name="Dossier of Ada Mentor").wait_for()
    assert "Approved" in second.locator("dl.facts dd").first.inner_text()
    # axe runs as a script: the approved dossier is checked in the first officer's browser.
    first.goto(f"/vetting/mentors/{mentor['id']}")
    assert "Approved" in first.locator("dl.facts dd").first.inner_text()
    assert_accessible(first)
    with server.client(server.token("officer-c", "compliance_officer")) as api:
        answer = api.get(f"/api/v1/mentors/{mentor['id']}")
    assert answer.json()["status"] == "approved"

    # They produce the evidence bundle of this month, which holds the approval, and download it.
    today = datetime.now(UTC).date()
    first.goto("/bundles")
    first.get_by_label("Title").fill("This month's vetting")
    first.get_by_label("First day").fill(today.replace(day=1).isoformat())
    first.get_by_label("Last day").fill(today.isoformat())
    first.get_by_role("button", name="Ask for the bundle").click()
    download_link = first.get_by_role("link", name="Download the PDF")
    download_link.wait_for(timeout=BUNDLE_TIMEOUT_MS)
    with first.expect_download() as pdf_download:
        download_link.click()
    pdf = tmp_path / "bundle.pdf"
    pdf_download.value.save_as(pdf)
    shown = first.locator("dd code.hash").first.inner_text().strip()
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == shown
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert mentor["external_id"] in text, "the bundle's vetting register names the approved mentor"
