"""The evidence pages as an officer and an auditor use them: the dashboard and its summaries,
bundles asked for and downloaded through a form, the audit search, an entry, the log panel
with its verify button and export, and the auditor's desk; and who may not."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from governance.app import create_app
from governance.audit import note
from governance.audit import service as audit
from governance.audit.cosignature import CosignerKey
from governance.audit.tables import CheckpointRow
from governance.bootstrap import Services
from governance.core.clock import ManualClock
from governance.core.identity import Identity
from governance.evidence import presenting, seal
from governance.privacy import summary as privacy_summary
from governance.settings import Settings
from governance.vetting import summary as vetting_summary
from governance.web import sessions
from governance.web.config import Web
from governance.web.security import csrf_token

from ..conftest import AuthHeaders
from ..vetting.conftest import Vetting
from .conftest import Bundles, Platform, sha256

ROOT = Path(__file__).resolve().parents[2]
SESSION = "governance-session"
OFFICER = "officer-pages"
AUDITOR = "auditor-pages"
NOT_STAFF_OF_EVIDENCE = ("mentee", "mentor", "support_agent", "platform", "admin")
READ_PAGES = (
    "/dashboard",
    "/dashboard/complaints",
    "/dashboard/privacy",
    "/bundles",
    "/audit",
    "/audit/log",
    "/audit/log/verify",
    "/audit/log/export",
)

SignIn = Callable[..., Awaitable[str]]


@pytest.fixture
def sign_in(client: httpx.AsyncClient, settings: Settings, clock: ManualClock) -> SignIn:
    """``token = await sign_in("auditor", sub="a-1")``: a session for the client; its CSRF token."""

    async def open_one(*roles: str, sub: str) -> str:
        session = await sessions.open_session(
            Web.configure(settings), Identity(sub=sub, roles=roles), clock.now(), kind="staff", method="token"
        )
        client.cookies.set(SESSION, session.secret)
        return csrf_token(session.secret)

    return open_one


def text_of(html: str) -> str:
    """The page's words, tags removed and spaces folded (what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def assert_no_inline_script_or_style(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert not re.search(r"\sstyle=|<style", html), "an inline style"
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"


async def entries(client: httpx.AsyncClient, auth: AuthHeaders, **params: str) -> list[dict[str, Any]]:
    found = await client.get(
        "/api/v1/audit/entries", params={"limit": "200", "order": "desc", **params}, headers=auth("auditor")
    )
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


# The dashboard and its summaries


async def test_the_dashboard_shows_the_readiness_figures_the_services_count(
    client: httpx.AsyncClient, sign_in: SignIn, platform: Platform, clock: ManualClock, services: Services
) -> None:
    checkpoint = await audit.sign_checkpoint(services.log_key)
    await sign_in("compliance_officer", sub=OFFICER)
    page = await client.get("/dashboard")
    assert page.status_code == 200, page.text
    watch = await vetting_summary.watch(clock.now())
    due = await privacy_summary.requests_due(clock.now())
    words = text_of(page.text)
    assert f"{watch.decisions_awaiting_second_officer} decisions awaiting a second officer" in words
    for days, count in watch.checks_expiring.items():
        assert re.search(rf"{count} checks? expiring within {days} days?", words), days
    assert f"{due.overdue} data requests overdue" in words
    assert f"{due.due_within_7_days} more due within 7 days; {due.open} open in all" in words
    # The chart reads without colour: a title, a description naming every figure, and the table.
    assert "<svg" in page.text and '<title id="mentors-by-status-title">' in page.text
    approved = watch.mentors_by_status["approved"]
    assert re.search(rf"<desc [^>]*>[^<]*Approved: {approved}\.", page.text)
    assert f'<th scope="row">Approved</th><td class="number">{approved}</td>' in page.text
    assert 'href="/dashboard"' in page.text, "the navigation names the dashboard"
    assert f"Latest signed checkpoint: {checkpoint.tree_size} entries" in words
    assert_no_inline_script_or_style(page.text)


async def test_the_api_answers_the_dashboards_figures(
    client: httpx.AsyncClient, auth: AuthHeaders, sign_in: SignIn, platform: Platform, clock: ManualClock
) -> None:
    answer = await client.get("/api/v1/evidence/readiness", headers=auth("auditor"))
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    assert set(figures["vetting"]["checks_expiring"]) == {"1", "7", "30"}
    assert figures["complaints_this_month"]["period_start"] == clock.now().date().replace(day=1).isoformat()
    await sign_in("compliance_officer", sub=OFFICER)
    words = text_of((await client.get("/dashboard")).text)
    assert f"{figures['data_requests']['overdue']} data requests overdue" in words
    waiting = figures["vetting"]["decisions_awaiting_second_officer"]
    assert f"{waiting} decisions awaiting a second officer" in words
    refused = await client.get("/api/v1/evidence/readiness", headers=auth("support_agent"))
    assert refused.status_code == 403


async def test_the_watch_counts_expiring_checks_and_decisions_awaiting_a_second_officer(
    client: httpx.AsyncClient, auth: AuthHeaders, clock: ManualClock
) -> None:
    vetting = Vetting(client, auth)
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:8]}")
    checks = await vetting.pass_everything(mentor["id"])
    before = await vetting_summary.watch(clock.now())
    proposed = await client.post(
        f"/api/v1/mentors/{mentor['id']}/decisions",
        json={"action": "approve", "rationale": "every check passed"},
        headers=vetting.officer(),
    )
    assert proposed.status_code == 201, proposed.text
    after = await vetting_summary.watch(clock.now())
    assert after.decisions_awaiting_second_officer == before.decisions_awaiting_second_officer + 1
    assert after.mentors_by_status == before.mentors_by_status
    expiring = min(datetime.fromisoformat(check["expires_at"]) for check in checks if check.get("expires_at"))
    near = await vetting_summary.watch(expiring - timedelta(hours=12))
    assert 1 <= near.checks_expiring[1] <= near.checks_expiring[7] <= near.checks_expiring[30]
    ours = sum(
        1 for check in checks if check.get("expires_at") and datetime.fromisoformat(check["expires_at"]) == expiring
    )
    assert near.checks_expiring[1] >= ours >= 1


async def test_data_requests_due_count_open_ones_by_their_due_date(
    client: httpx.AsyncClient, platform: Platform, clock: ManualClock
) -> None:
    now = clock.now()
    today = await privacy_summary.requests_due(now)
    open_request = platform.data_requests[1]
    due_at = datetime.fromisoformat(open_request["due_at"])
    late = await privacy_summary.requests_due(due_at + timedelta(seconds=1))
    assert late.overdue >= 1 and late.open == today.open
    soon = await privacy_summary.requests_due(due_at - timedelta(days=3))
    assert soon.due_within_7_days >= 1
    assert today.open >= 1


async def test_the_summary_pages_draw_charts_for_the_period_asked(
    client: httpx.AsyncClient, sign_in: SignIn, platform: Platform, clock: ManualClock
) -> None:
    await sign_in("auditor", sub=AUDITOR)
    today = clock.now().date()
    complaints = await client.get("/dashboard/complaints")
    assert complaints.status_code == 200, complaints.text
    assert "Complaints by category" in complaints.text and complaints.text.count("<svg") >= 3
    assert f"From {today.replace(day=1).strftime('%b')}" in text_of(complaints.text)
    # The seeded platform resolved one complaint this month: a share is judged, in words.
    assert re.search(r"\d+(\.\d+)?% of \d+ judged", text_of(complaints.text))
    billing = re.search(r'<th scope="row">Billing</th><td class="number">(\d+)</td>', complaints.text)
    assert billing and int(billing.group(1)) >= 2
    privacy = await client.get("/dashboard/privacy", params={"period_start": today.isoformat(), "lang": "en"})
    assert privacy.status_code == 200, privacy.text
    assert "Data requests by type" in privacy.text and "<desc" in privacy.text
    assert_no_inline_script_or_style(privacy.text)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"period_start": "2026-05-01", "period_end": "2026-04-01"}, "period_end", "before"),
        ({"period_start": "2020-01-01", "period_end": "2026-01-01"}, "period_end", "at most 3 years"),
        ({"period_start": "2026-13-01"}, "period_start", "date"),
    ],
)
async def test_a_bad_period_comes_back_with_the_message_beside_the_field(
    client: httpx.AsyncClient, sign_in: SignIn, params: dict[str, str], field: str, message: str
) -> None:
    await sign_in("compliance_officer", sub=OFFICER)
    for path in ("/dashboard/complaints", "/dashboard/privacy"):
        page = await client.get(path, params=params)
        assert page.status_code == 422, page.text
        error = re.search(rf'id="field-{field}-error">(.*?)</p>', page.text, re.S)
        assert error, f"no error beside {field} on {path}"
        assert message in error.group(1)
        assert 'aria-invalid="true"' in page.text


async def test_a_control_character_in_a_query_is_refused_at_the_edge(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in("compliance_officer", sub=OFFICER)
    for path in ("/dashboard/complaints", "/audit"):
        page = await client.get(path, params={"period_start": "2026-01-01\x00", "actor": "a\x00"})
        assert page.status_code == 400 and "<html" in page.text


@pytest.mark.parametrize("role", NOT_STAFF_OF_EVIDENCE)
async def test_other_roles_are_refused_every_evidence_page(
    client: httpx.AsyncClient, sign_in: SignIn, role: str
) -> None:
    await sign_in(role, sub=f"{role}-pages")
    for path in (*READ_PAGES, "/auditor", f"/bundles/{uuid.uuid4()}", "/audit/entries/0"):
        page = await client.get(path)
        assert page.status_code == 403, f"{role} reached {path}"
        assert page.headers["content-type"].startswith("text/html")
    home = await client.get("/")
    assert 'href="/dashboard"' not in home.text and 'href="/auditor"' not in home.text


async def test_the_desk_is_the_auditors_and_only_officers_ask_for_bundles(
    client: httpx.AsyncClient, sign_in: SignIn, clock: ManualClock
) -> None:
    await sign_in("compliance_officer", sub=OFFICER)
    assert (await client.get("/auditor")).status_code == 403
    token = await sign_in("auditor", sub=AUDITOR)
    bundles_page = await client.get("/bundles")
    assert bundles_page.status_code == 200
    assert 'action="/bundles"' not in bundles_page.text, "an auditor is not offered the form"
    today = clock.now().date().isoformat()
    refused = await client.post(
        "/bundles",
        data={"_csrf_token": token, "title": "Auditor's own", "period_start": today, "period_end": today},
    )
    assert refused.status_code == 403
    retry = await client.post(f"/bundles/{uuid.uuid4()}/retry", data={"_csrf_token": token})
    assert retry.status_code == 403


async def test_a_signed_out_visitor_is_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard")
    assert page.status_code in {302, 303}
    assert page.headers["location"].startswith("/sign-in?next=")


# Bundles


async def test_an_officer_asks_for_a_bundle_follows_its_progress_and_downloads_it(
    client: httpx.AsyncClient, sign_in: SignIn, bundles: Bundles, clock: ManualClock, auth: AuthHeaders
) -> None:
    token = await sign_in("compliance_officer", sub=OFFICER)
    form = await client.get("/bundles")
    assert form.status_code == 200 and 'action="/bundles"' in form.text
    today = clock.now().date()
    asked = await client.post(
        "/bundles",
        data={
            "_csrf_token": token,
            "title": "Pages bundle",
            "period_start": today.replace(day=1).isoformat(),
            "period_end": today.isoformat(),
        },
    )
    assert asked.status_code == 303, asked.text
    location = asked.headers["location"]
    bundle_id = location.rsplit("/", 1)[1]
    requested = await entries(client, auth, action="evidence.bundle.requested", resource_id=bundle_id)
    assert [entry["actor"]["sub"] for entry in requested] == [OFFICER]
    # The list (kept whole while it stands, see render's ``shared``) shows it, queued.
    listed = await client.get("/bundles")
    row = listed.text[listed.text.index(f'href="/bundles/{bundle_id}"') :].split("</tr>")[0]
    assert f'href="/bundles/{bundle_id}"' not in form.text and "(0%)" in row

    queued = await client.get(location)
    assert queued.status_code == 200
    assert '<progress id="bundle-progress"' in queued.text
    assert f'hx-get="/bundles/{bundle_id}" hx-trigger="every 2s"' in queued.text
    polled = await client.get(location, headers={"HX-Request": "true", "HX-Target": "bundle-job"})
    assert polled.status_code == 200
    assert polled.text.lstrip().startswith('<section id="bundle-job"') and "<h1>" not in polled.text

    assert await bundles.work()
    ready = await client.get(location)
    assert "Download the PDF" in ready.text and "hx-trigger" not in ready.text
    assert "<progress" not in ready.text
    view = await bundles.get(bundle_id)
    assert view["pdf_sha256"] in ready.text
    listed = await client.get("/bundles")
    row = listed.text[listed.text.index(f'href="/bundles/{bundle_id}"') :].split("</tr>")[0]
    assert "Ready" in row and "(0%)" not in row

    pdf = await client.get(f"/bundles/{bundle_id}/download")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert sha256(pdf.content) == view["pdf_sha256"]
    manifest = await client.get(f"/bundles/{bundle_id}/download", params={"file": "manifest"})
    assert sha256(manifest.content) == view["manifest_sha256"]
    downloads = await entries(client, auth, action="evidence.bundle.downloaded", resource_id=bundle_id)
    assert sorted(entry["details"]["file"] for entry in downloads) == ["manifest", "pdf"]
    assert {entry["actor"]["sub"] for entry in downloads} == {OFFICER}
    # The proof of the ready entry (both hashes), from the page as from the API.
    assert f'href="/bundles/{bundle_id}/proof"' in ready.text
    proof = await client.get(f"/bundles/{bundle_id}/proof")
    assert proof.status_code == 200 and proof.headers["content-disposition"].startswith("attachment")
    key = bundles.evidence.log_key.verifier_key
    assert seal.verify_manifest(manifest.content, key, pdf=pdf.content, ready_proof=proof.text).ok

    listed = await client.get("/bundles")
    assert f'href="/bundles/{bundle_id}"' in listed.text and "Pages bundle" in listed.text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "Enter a value."),
        ({"title": "x" * 201}, "title", "at most 200"),
        ({"title": "nul\x00byte"}, "title", "Remove the NUL character."),
        ({"period_start": "not a day"}, "period_start", "date"),
        ({"period_end": "tomorrow"}, "period_end", "after today"),
        ({"period_start": "2020-01-01", "period_end": "2026-01-01"}, "period_end", "at most 3 years"),
    ],
)
async def test_a_bad_bundle_request_comes_back_beside_its_field_and_asks_for_nothing(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    bundles: Bundles,
    clock: ManualClock,
    auth: AuthHeaders,
    overrides: dict[str, str],
    field: str,
    message: str,
) -> None:
    token = await sign_in("compliance_officer", sub=OFFICER)
    today = clock.now().date()
    before = len(await entries(client, auth, action="evidence.bundle.requested"))
    body = {"title": "Bad one", "period_start": today.replace(day=1).isoformat(), "period_end": today.isoformat()}
    body.update(overrides)
    if body["period_end"] == "tomorrow":
        body["period_end"] = (today + timedelta(days=1)).isoformat()
    answer = await client.post("/bundles", data={"_csrf_token": token, **body})
    assert answer.status_code == 422, answer.text
    error = re.search(rf'id="field-{field}-error">(.*?)</p>', answer.text, re.S)
    assert error and message in error.group(1), answer.text
    assert len(await entries(client, auth, action="evidence.bundle.requested")) == before


async def test_a_forged_form_token_is_refused_and_asks_for_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, clock: ManualClock, auth: AuthHeaders, bundles: Bundles
) -> None:
    await sign_in("compliance_officer", sub=OFFICER)
    before = len(await entries(client, auth, action="evidence.bundle.requested"))
    today = clock.now().date().isoformat()
    body = {"title": "Forged", "period_start": today, "period_end": today}
    forged = await client.post("/bundles", data={"_csrf_token": "0" * 64, **body})
    assert forged.status_code == 403
    missing = await client.post("/bundles", data=body)
    assert missing.status_code == 403
    assert len(await entries(client, auth, action="evidence.bundle.requested")) == before


async def test_a_failed_bundle_is_retried_from_its_page_and_a_ready_one_is_not(
    client: httpx.AsyncClient, sign_in: SignIn, bundles: Bundles, services: Services, clock: ManualClock
) -> None:
    from governance.evidence.tables import EvidenceBundle

    ready = await bundles.ready()
    failed = await bundles.queued(title="Will fail")
    await EvidenceBundle.update(
        {EvidenceBundle.state: "failed", EvidenceBundle.failure_reason: "the store was down"}
    ).where(EvidenceBundle.id == uuid.UUID(failed["id"]))
    await sign_in("auditor", sub=AUDITOR)
    seen = await client.get(f"/bundles/{failed['id']}")
    assert "the store was down" in seen.text and "/retry" not in seen.text, "an auditor is not offered the retry"
    token = await sign_in("compliance_officer", sub=OFFICER)
    page = await client.get(f"/bundles/{failed['id']}")
    assert "the store was down" in page.text and f'action="/bundles/{failed["id"]}/retry"' in page.text
    retried = await client.post(f"/bundles/{failed['id']}/retry", data={"_csrf_token": token})
    assert retried.status_code == 303
    assert (await bundles.get(failed["id"]))["state"] == "queued"
    again = await client.post(f"/bundles/{ready['id']}/retry", data={"_csrf_token": token})
    assert again.status_code == 409 and "<html" in again.text
    not_ready = await client.get(f"/bundles/{failed['id']}/download")
    assert not_ready.status_code == 409 and "<html" in not_ready.text
    unknown = await client.get(f"/bundles/{uuid.uuid4()}")
    assert unknown.status_code == 404 and "<html" in unknown.text
    not_an_id = await client.get("/bundles/not-a-uuid")
    assert not_an_id.status_code == 404


# The audit log


async def test_the_audit_search_filters_and_pages_newest_first(
    client: httpx.AsyncClient, sign_in: SignIn, auth: AuthHeaders
) -> None:
    actor = f"searcher-{uuid.uuid4().hex[:6]}"
    for _ in range(presenting.PAGE_SIZE + 2):
        assert (await client.get("/api/v1/audit/verify", headers=auth("admin", sub=actor))).status_code == 200
        # Reads by an admin are not entries; a denied one is, with the actor.
        assert (await client.get("/api/v1/audit/entries", headers=auth("admin", sub=actor))).status_code == 403
    await sign_in("auditor", sub=AUDITOR)
    first = await client.get("/audit", params={"actor": actor, "action": "access.denied"})
    assert first.status_code == 200, first.text
    seqs = [int(seq) for seq in re.findall(r'<a href="/audit/entries/(\d+)">', first.text)]
    assert len(seqs) == presenting.PAGE_SIZE and seqs == sorted(seqs, reverse=True)
    older = re.search(r'<a href="(/audit\?[^"]+)">Older entries</a>', first.text)
    assert older
    second = await client.get(older.group(1).replace("&amp;", "&"))
    rest = [int(seq) for seq in re.findall(r'<a href="/audit/entries/(\d+)">', second.text)]
    assert len(rest) == 2 and max(rest) < min(seqs)
    assert "Older entries" not in second.text
    nothing = await client.get("/audit", params={"actor": actor, "action": "evidence."})
    assert "No entry matches these filters." in nothing.text
    today = datetime.now(UTC).date()
    within = await client.get("/audit", params={"actor": actor, "since": today.isoformat(), "until": today.isoformat()})
    assert len(re.findall(r'<a href="/audit/entries/(\d+)">', within.text)) == presenting.PAGE_SIZE
    before = await client.get("/audit", params={"actor": actor, "until": (today - timedelta(days=1)).isoformat()})
    assert "No entry matches these filters." in before.text
    # The same search again, once the log has grown: the page (kept while what it shows
    # stands) has the new entry first.
    assert (await client.get("/api/v1/audit/entries", headers=auth("admin", sub=actor))).status_code == 403
    again = await client.get("/audit", params={"actor": actor, "action": "access.denied"})
    newest = [int(seq) for seq in re.findall(r'<a href="/audit/entries/(\d+)">', again.text)]
    assert newest[0] > seqs[0] and newest[1:] == seqs[:-1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"actor": "x" * 201}, "actor"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_a_bad_audit_filter_comes_back_beside_its_field(
    client: httpx.AsyncClient, sign_in: SignIn, params: dict[str, str], field: str
) -> None:
    await sign_in("compliance_officer", sub=OFFICER)
    page = await client.get("/audit", params=params)
    assert page.status_code == 422, page.text
    if field == "cursor":  # not a field of the form: the message heads it
        assert "not a cursor this service issued" in page.text
    else:
        assert re.search(rf'id="field-{field}-error">', page.text)


async def test_an_entry_page_shows_the_entry_as_stored(
    client: httpx.AsyncClient, sign_in: SignIn, auth: AuthHeaders
) -> None:
    await sign_in("compliance_officer", sub=OFFICER)
    latest = (await entries(client, auth, action="web.session"))[0]
    page = await client.get(f"/audit/entries/{latest['seq']}")
    assert page.status_code == 200
    assert latest["leaf_hash"] in page.text and latest["action"] in page.text
    missing = await client.get("/audit/entries/999999999")
    assert missing.status_code == 404 and "<html" in missing.text
    negative = await client.get("/audit/entries/-1")
    assert negative.status_code in {400, 404}


async def test_the_log_panel_verifies_and_hands_out_an_export_that_verifies_offline(
    client: httpx.AsyncClient, sign_in: SignIn, auth: AuthHeaders, tmp_path: Path
) -> None:
    await sign_in("auditor", sub=AUDITOR)
    export = await client.get("/audit/log/export")
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith('attachment; filename="audit-0-')
    key = (await client.get("/api/v1/audit/public-key")).text.strip()
    (tmp_path / "audit.jsonl").write_bytes(export.content)
    checker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tools" / "verify_export.py"),
        str(tmp_path / "audit.jsonl"),
        "--key",
        key,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await checker.communicate()
    assert checker.returncode == 0, output.decode()
    last = json.loads(export.content.splitlines()[-1])
    recorded = await entries(client, auth, action="audit.export.downloaded", actor=AUDITOR)
    assert recorded and recorded[0]["details"]["tree_size"] == last["tree_size"]

    panel = await client.get("/audit/log")
    assert panel.status_code == 200
    assert key in panel.text and 'href="/audit/log/export"' in panel.text
    assert f"{last['tree_size']} entries" in text_of(panel.text) or "Tree size" in panel.text
    assert "No witness has cosigned this checkpoint" in panel.text
    verified = await client.get("/audit/log/verify")
    assert verified.status_code == 200 and "Verified" in verified.text
    fragment = await client.get("/audit/log/verify", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="verification"') and "Verified" in fragment.text
    assert "<h1>" not in fragment.text


async def test_the_log_panel_names_the_witnesses_that_cosigned_the_checkpoint(
    client: httpx.AsyncClient, sign_in: SignIn, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_key = services.log_key
    body = note.checkpoint_body(log_key.origin, 7, bytes(32))
    witness = note.Signer("witness.example/w1", Ed25519PrivateKey.generate())
    cosigned = log_key.signer.sign_note(body) + witness.signature_line(body)
    row = CheckpointRow(
        tree_size=7,
        root_hash=bytes(32),
        note=cosigned,
        key_id=f"{log_key.signer.key_id:08x}",
        signed_at=datetime.now().astimezone(),
        compact_range=b"",
        link="",
    )

    async def latest(_: audit.LogKey) -> CheckpointRow:
        return row

    monkeypatch.setattr(audit, "latest_checkpoint", latest)
    await sign_in("compliance_officer", sub=OFFICER)
    panel = await client.get("/audit/log")
    assert "witness.example/w1" in panel.text and f"{witness.key_id:08x}" in panel.text
    assert "No witness has cosigned" not in panel.text


async def test_the_log_panel_shows_a_newer_checkpoint_once_it_is_signed(
    client: httpx.AsyncClient, sign_in: SignIn, services: Services
) -> None:
    """The panel is rendered once for everyone who reads the same (render's ``shared``):
    a checkpoint signed since shows on the next request."""
    await sign_in("compliance_officer", sub=OFFICER)
    await audit.number_queued()
    await audit.sign_checkpoint(services.log_key)
    first = await client.get("/audit/log")
    assert (await client.get("/audit/log")).text == first.text
    await sign_in("compliance_officer", sub=OFFICER)  # more entries in the log
    await audit.number_queued()
    await audit.sign_checkpoint(services.log_key)
    latest = await audit.latest_checkpoint(services.log_key)
    assert latest is not None
    newer = await client.get("/audit/log")
    assert f"{latest.tree_size} entries" not in text_of(first.text)
    assert f"{latest.tree_size} entries" in text_of(newer.text)


async def test_the_log_panel_says_whether_the_configured_witnesses_cosigned(
    settings: Settings, clock: ManualClock, services: Services
) -> None:
    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    vkey = CosignerKey("accreditor.example/witness", public).encode()
    # A witness that answers nothing: this instance has not reached it, so nothing is witnessed.
    reporting = msgspec.structs.replace(settings, witnesses=(f"http://127.0.0.1:9={vkey}",), witness_quorum=1)
    await audit.sign_checkpoint(services.log_key)
    session = await sessions.open_session(
        Web.configure(settings), Identity(sub=OFFICER, roles=("compliance_officer",)), clock.now(), kind="staff",
        method="token",
    )  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(reporting, clock=clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        browser.cookies.set(SESSION, session.secret)
        panel = await browser.get("/audit/log")
    assert panel.status_code == 200, panel.text
    words = text_of(panel.text)
    assert "Not witnessed yet" in words and "accreditor.example/witness: not asked yet by this instance" in words
    assert "governance audit verify --since FILE" in words and "/tlog/checkpoint" in words


# The auditor's desk


async def test_the_desk_lists_ready_bundles_and_what_one_asks_to_sample(
    client: httpx.AsyncClient, sign_in: SignIn, bundles: Bundles, auth: AuthHeaders, platform: Platform
) -> None:
    ready = await bundles.ready(title="Desk bundle")
    queued = await bundles.queued(title="Still queued")
    await sign_in("auditor", sub=AUDITOR)
    desk = await client.get("/auditor")
    assert desk.status_code == 200, desk.text
    words = text_of(desk.text)
    assert "Accreditation readiness" in words and "Desk bundle" in words and "Still queued" not in words
    assert 'href="/audit/log/export"' in desk.text and 'href="/api/v1/audit/public-key"' in desk.text
    assert "tools/verify_export.py" in desk.text
    assert 'action="/bundles"' not in desk.text, "the desk writes nothing"
    sampled = await client.get("/auditor", params={"bundle": ready["id"]})
    assert sampled.status_code == 200
    manifest = (await bundles.download(ready["id"], "manifest")).json()
    documents = [artifact for artifact in manifest["artifacts"] if artifact["kind"] == "vetting_document"]
    assert documents and all(artifact["sha256"] in sampled.text for artifact in documents[:5])
    reads = await entries(client, auth, action="evidence.bundle.manifest_read", resource_id=ready["id"])
    assert [entry["actor"]["sub"] for entry in reads] == [AUDITOR]
    not_ready = await client.get("/auditor", params={"bundle": queued["id"]})
    assert not_ready.status_code == 409 and "<html" in not_ready.text
    not_an_id = await client.get("/auditor", params={"bundle": "x\x00y"})
    assert not_an_id.status_code == 400


async def test_pages_answer_fragments_to_htmx(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in("compliance_officer", sub=OFFICER)
    for path in ("/dashboard", "/bundles", "/audit", "/audit/log"):
        fragment = await client.get(path, headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert "<html" not in fragment.text and "<h1>" in fragment.text
        french = await client.get(path, params={"lang": "fr"})
        assert french.status_code == 200 and '<html lang="fr">' in french.text


def test_every_counted_value_has_words() -> None:
    from governance.complaints.schemas import CATEGORIES, REFUND_STATES
    from governance.complaints.summary import COMPLAINT_OUTCOMES, DISPUTE_OUTCOMES
    from governance.evidence.schemas import BUNDLE_STATES
    from governance.privacy.summary import CONSENT_STATES, METHODS, REQUEST_TYPES
    from governance.vetting.states import MENTOR_STATUSES

    values = {
        *MENTOR_STATUSES,
        *CATEGORIES,
        *REFUND_STATES,
        *COMPLAINT_OUTCOMES,
        *DISPUTE_OUTCOMES,
        *BUNDLE_STATES,
        *CONSENT_STATES,
        *METHODS,
        *REQUEST_TYPES,
    }
    assert values <= set(presenting.LABELS), sorted(values - set(presenting.LABELS))
