"""Journeys of the evidence pages in Chromium: an auditor downloads the log export and the
public key from the desk and verifies them offline, then with the verify button; an officer
asks for a bundle, watches its progress, and downloads the PDF once it is ready.

The server runs its own bundle worker (``GOVERNANCE_EVIDENCE_POLL_INTERVAL`` keeps its
default of 2 seconds, and a request through the server wakes it at once), so the bundle
page's progress is the real job's, polled by htmx.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.browser.checks import NARROW, assert_accessible, screenshot
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import NewPage

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_TIMEOUT_S = 120.0


def sign_in_with_link(server: Server, page: Page, sub: str, role: str) -> None:
    """As staff do: ``governance token link`` prints a one-time link; open it and continue."""
    link = server.cli("token", "link", "--sub", sub, "--role", role)
    page.goto(urlsplit(link).path)
    assert_accessible(page)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/$|/\?"))


def seed(server: Server) -> None:
    """A few mentors and complaints through the API, so that the figures and charts show something."""
    with server.client(server.token("platform-journey", "platform")) as platform:
        for n in range(3):
            mentor = {
                "external_id": f"journey-{uuid.uuid4().hex[:8]}-{n}",
                "display_name": f"Mentor {n}",
                "email": f"journey-{n}@example.org",
                "jurisdiction": "GB",
                "engagement_type": "contractor",
                "specialties": ["interview practice"],
            }
            assert platform.post("/api/v1/mentors", json=mentor).status_code == 201
    for n, category in enumerate(("session_quality", "billing", "billing", "mentor_conduct", "other")):
        with server.client(server.token(f"mentee-journey-{n}", "mentee")) as mentee:
            filed = mentee.post(
                "/api/v1/complaints", json={"category": category, "description": "The mentor did not show up"}
            )
            assert filed.status_code == 201, filed.text


def ready_bundle(server: Server, title: str) -> dict[str, Any]:
    """A bundle of this month asked for through the API, once the server's worker made it."""
    today = datetime.now(UTC).date()
    with server.client(server.token("officer-api", "compliance_officer")) as api:
        asked = api.post(
            "/api/v1/evidence/bundles",
            json={"period_start": today.replace(day=1).isoformat(), "period_end": today.isoformat(), "title": title},
        )
        assert asked.status_code == 202, asked.text
        deadline = time.monotonic() + BUNDLE_TIMEOUT_S
        while True:
            bundle: dict[str, Any] = api.get(f"/api/v1/evidence/bundles/{asked.json()['id']}").json()
            if bundle["state"] in {"ready", "failed"} or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert bundle["state"] == "ready", bundle
    return bundle


def test_an_auditor_downloads_the_export_and_verifies_it(server: Server, new_page: NewPage, tmp_path: Path) -> None:
    bundle = ready_bundle(server, f"Desk journey {uuid.uuid4().hex[:6]}")
    page = new_page(accept_downloads=True)
    sign_in_with_link(server, page, "auditor-journey", "auditor")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Auditor's desk").click()
    page.get_by_role("heading", name="Auditor's desk", level=1).wait_for()
    assert_accessible(page)
    assert page.get_by_role("button", name="Ask for the bundle").count() == 0, "the desk writes nothing"
    screenshot(page, "auditor-desk", narrow=True)

    with page.expect_download() as export_download:
        page.get_by_role("link", name="Download the log export").first.click()
    export = tmp_path / "audit.jsonl"
    export_download.value.save_as(export)
    with page.expect_download() as key_download:
        page.get_by_role("link", name="Download the public key").first.click()
    key_file = tmp_path / "governance-log.pub"
    key_download.value.save_as(key_file)
    key = key_file.read_text().strip()
    assert key == page.locator("#verifier-key").first.inner_text().strip()

    # The README's offline check: only Python, the cryptography package and the pinned key.
    checked = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "verify_export.py"), str(export), "--key", key],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The records the bundle asks to sample.
    page.get_by_role("row", name=re.compile(re.escape(bundle["title"]))).get_by_role(
        "link", name="What to sample"
    ).click()
    page.get_by_role("heading", name=re.compile("Records to sample")).wait_for()
    assert page.get_by_role("table", name=re.compile("Artifacts of bundle")).get_by_text("checkpoint").count() >= 1
    assert_accessible(page)

    # The verify button on the log panel: htmx swaps the result in.
    page.goto("/audit/log")
    assert_accessible(page)
    page.get_by_role("button", name="Verify the log").click()
    page.locator("#verification .notice--ok").wait_for()
    assert "Verified" in page.locator("#verification").inner_text()
    assert_accessible(page)
    screenshot(page, "log-panel", narrow=True)


def test_an_officer_asks_for_a_bundle_sees_its_progress_and_downloads_the_pdf(
    server: Server, new_page: NewPage, tmp_path: Path
) -> None:
    seed(server)
    page = new_page(accept_downloads=True)
    sign_in_with_link(server, page, "officer-journey", "compliance_officer")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compliance").click()
    page.get_by_role("heading", name="Compliance dashboard", level=1).wait_for()
    assert_accessible(page)
    screenshot(page, "dashboard", narrow=True, full_page=True)

    page.goto("/bundles")
    today = datetime.now(UTC).date()
    title = f"Journey bundle {uuid.uuid4().hex[:6]}"
    page.get_by_label("Title").fill(title)
    page.get_by_label("First day").fill(today.replace(day=1).isoformat())
    page.get_by_label("Last day").fill(today.isoformat())
    page.get_by_role("button", name="Ask for the bundle").click()
    page.wait_for_url(re.compile(r"/bundles/[0-9a-f-]{36}$"))
    page.get_by_role("heading", name="Progress").wait_for()
    # The job's state in words (queued, rendering ... with its percentage, then ready).
    assert page.get_by_role("status").first.inner_text().strip()
    assert_accessible(page)
    download_link = page.get_by_role("link", name="Download the PDF")
    download_link.wait_for(timeout=BUNDLE_TIMEOUT_S * 1000)
    assert_accessible(page)
    shown = page.locator("dd code.hash").first.inner_text().strip()
    with page.expect_download() as pdf_download:
        download_link.click()
    pdf = tmp_path / "bundle.pdf"
    pdf_download.value.save_as(pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == shown

    page.goto("/bundles")
    page.get_by_role("link", name=title).wait_for()
    assert_accessible(page)
    screenshot(page, "bundles", narrow=True)

    page.goto("/audit")
    page.get_by_label("Actor").fill("officer-journey")
    page.get_by_label("Action starts with").fill("evidence.bundle.")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("table", name=re.compile("Matching entries")).wait_for()
    actions = page.locator("table code").all_inner_texts()
    assert {"evidence.bundle.requested", "evidence.bundle.downloaded"} <= set(actions)
    assert_accessible(page)
    screenshot(page, "audit-search", narrow=True)

    narrow = new_page(viewport=NARROW)
    sign_in_with_link(server, narrow, "officer-narrow", "compliance_officer")
    narrow.goto("/dashboard/complaints")
    narrow.get_by_role("heading", name="Complaints, refunds and disputes").wait_for()
    assert_accessible(narrow)
    screenshot(narrow, "dashboard-complaints", full_page=True)
    for path in ("/dashboard", "/dashboard/complaints", "/dashboard/privacy", "/bundles", "/audit", "/audit/log"):
        narrow.goto(path)
        width = narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], f"{path} scrolls sideways at 360 px ({width})"
    assert_accessible(narrow)
