"""An employer verifies a candidate's attestation credential in Chromium, with no account:
pasted, it verifies check by check; uploaded after a change, it fails and says why."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.browser.checks import assert_accessible, screenshot
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _issued(server: Server) -> dict[str, Any]:
    """The platform records an attestation and fetches its credential, as it hands it to the candidate."""
    mentor, candidate = str(uuid.uuid4()), f"cand-{uuid.uuid4().hex[:8]}"
    body = {
        "mentor_id": mentor,
        "candidate_id": candidate,
        "competency": "system-design",
        "score": 4,
        "rubric_version": "2026.1",
        "session_date": "2026-11-01",
        "token_sha256": hashlib.sha256(candidate.encode()).hexdigest(),
    }
    with server.client(server.token("platform-1", "platform")) as platform:
        recorded = platform.post("/api/v1/attestations", json=body)
        assert recorded.status_code == 201, recorded.text
        credential = platform.get(f"/api/v1/attestations/{recorded.json()['id']}/credential")
    assert credential.status_code == 200, credential.text
    return dict(credential.json())


def test_an_employer_verifies_a_pasted_credential_and_an_altered_upload_fails(
    server: Server, page: Page, tmp_path: Path
) -> None:
    credential = _issued(server)
    page.goto("/credentials/verify")
    page.get_by_role("heading", name="Verify an attestation credential", level=1).wait_for()
    assert_accessible(page)

    page.get_by_label("Credential (JSON)").fill(json.dumps(credential, indent=2))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="Verified: authentic, in force, neither revoked nor suspended").wait_for()
    table = page.get_by_role("table", name="Each check and its result")
    assert table.get_by_role("row").count() == 8  # the heading row and seven checks
    assert table.get_by_role("row", name="Signature").get_by_text("Passed").is_visible()
    assert table.get_by_role("row", name="Not revoked").get_by_text("Passed").is_visible()
    assert_accessible(page)
    screenshot(page, "credential-verify", narrow=True)

    altered = {**credential, "name": "A better attestation"}
    upload = tmp_path / "credential.json"
    upload.write_text(json.dumps(altered))
    page.get_by_label("Credential (JSON)").fill("")
    page.get_by_label("Or its file").set_input_files(upload)
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="Not verified: see the checks below").wait_for()
    assert page.get_by_text("the signature does not match the credential").is_visible()
    assert_accessible(page)


def test_an_empty_submission_is_answered_beside_the_field(server: Server, page: Page) -> None:
    page.goto("/credentials/verify")
    page.get_by_role("button", name="Verify").click()
    page.get_by_text("Paste a credential or choose its file.").first.wait_for()
    assert_accessible(page)
