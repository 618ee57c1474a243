"""Complaint pages: a mentee's complaints, the support queue and case page, the public pages.

Each page is reached through a session, as a browser would; forms carry the CSRF token the
page gave. What the tests check is what a person would: who gets in and who is refused, what
each one sees (a complainant never sees staff-only notes), bad input answered beside the field
with nothing changed, and the audit entry every change leaves.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from governance.core.clock import ManualClock
from governance.core.identity import Identity
from governance.settings import Settings
from governance.web import sessions
from governance.web.config import Web

from .conftest import Api

SESSION = "governance-session"
CSRF_VALUE = re.compile(r'name="_csrf_token" value="([^"]+)"')
VERSION_VALUE = re.compile(r'name="version" value="(\d+)"')


class Browser:
    """One person's session on the pages: sign in, open a page, send its forms."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, clock: ManualClock) -> None:
        self.client, self.web, self.clock = client, Web.configure(settings), clock

    async def sign_in(self, sub: str, *roles: str) -> None:
        session = await sessions.open_session(
            self.web, Identity(sub=sub, roles=roles), self.clock.now(), kind=sessions.STAFF, method="token"
        )
        self.client.cookies.set(SESSION, session.secret)

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(path, params=params)

    async def send(
        self, page: str, action: str, fields: dict[str, Any] | list[tuple[str, str]], *, csrf: str | None = None
    ) -> httpx.Response:
        """Open ``page``, then post ``fields`` to ``action`` with the page's CSRF token."""
        opened = await self.client.get(page)
        assert opened.status_code == 200, opened.text
        token = csrf if csrf is not None else _csrf(opened)
        items = list(fields.items()) if isinstance(fields, dict) else list(fields)
        body: dict[str, list[str]] = {}
        for name, value in [*items, ("_csrf_token", token)]:
            body.setdefault(name, []).append(str(value))
        return await self.client.post(action, data=body)


def _csrf(page: httpx.Response) -> str:
    found = CSRF_VALUE.search(page.text)
    assert found, "the page has no form token"
    return found.group(1)


def _version(page: httpx.Response) -> str:
    found = VERSION_VALUE.search(page.text)
    assert found, "the page offers no move"
    return found.group(1)


@pytest.fixture
def browser(client: httpx.AsyncClient, settings: Settings, clock: ManualClock) -> Browser:
    return Browser(client, settings, clock)


def _mentee() -> str:
    return f"mentee-{uuid.uuid4().hex[:10]}"


async def _entries(api: Api, action: str, resource_id: str) -> list[dict[str, Any]]:
    found = await api.call(
        "GET", f"/audit/entries?action={action}&resource_id={resource_id}&limit=100", "auditor", "auditor-1"
    )
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def _main(page: httpx.Response) -> str:
    """The page's main content, as text a reader sees (tags dropped)."""
    main = page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).replace("&#39;", "'")


async def _file(browser: Browser, **fields: str) -> str:
    """File through the form as the signed-in mentee; the new complaint's id."""
    fields.setdefault("category", "billing")
    fields.setdefault("description", "Charged twice for one session")
    filed = await browser.send("/complaints/new", "/complaints/new", fields)
    assert filed.status_code == 303, filed.text
    location = filed.headers["location"]
    assert location.startswith("/complaints/")
    return location.rsplit("/", 1)[1]


async def _move(browser: Browser, complaint_id: str, to: str, **fields: str) -> httpx.Response:
    case = f"/support/cases/{complaint_id}"
    opened = await browser.get(case)
    return await browser.send(case, f"{case}/moves", {"to": to, "version": _version(opened), **fields})


async def _note(browser: Browser, complaint_id: str, body: str, audience: str) -> httpx.Response:
    case = f"/support/cases/{complaint_id}"
    return await browser.send(case, f"{case}/notes", {"body": body, "audience": audience})


async def test_a_mentee_files_a_complaint_through_the_form_and_it_is_audited(browser: Browser, api: Api) -> None:
    mentee = _mentee()
    await browser.sign_in(mentee, "mentee")

    complaint_id = await _file(browser, description="The mentor left after five minutes", session_id="s-41")

    page = await browser.get(f"/complaints/{complaint_id}")
    assert page.status_code == 200
    text = _main(page)
    assert "The mentor left after five minutes" in text and "s-41" in text and "Received" in text
    listed = _main(await browser.get("/complaints"))
    assert "Billing and payments" in listed
    (entry,) = await _entries(api, "complaint.filed", complaint_id)
    assert entry["actor"]["sub"] == mentee and entry["details"]["complainant_id"] == mentee
    # The page and the API serve the same complaint.
    served = await api.call("GET", f"/complaints/{complaint_id}", "mentee", mentee)
    assert served.json()["description"] == "The mentor left after five minutes"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"category": "billing", "description": "bad\x00byte"}, "description", "Remove the NUL character."),
        ({"category": "billing", "description": "x" * 20_001}, "description", "Use at most 20000 characters."),
        ({"category": "billing", "description": "ok", "session_id": "s" * 201}, "session_id", "Use at most 200"),
        ({"category": "billing", "description": "ok", "session_id": "tab\there"}, "session_id", "printable"),
        ({"category": "refunds-please", "description": "ok"}, "category", "Choose one of the options."),
        ({"description": "no category"}, "category", "Enter a value."),
        ({"category": "billing"}, "description", "Enter a value."),
    ],
)
async def test_a_bad_filing_comes_back_beside_its_field_and_files_nothing(
    browser: Browser, api: Api, fields: dict[str, str], field: str, message: str
) -> None:
    mentee = _mentee()
    await browser.sign_in(mentee, "mentee")

    answer = await browser.send("/complaints/new", "/complaints/new", fields)

    assert answer.status_code == 422
    assert f'id="field-{field}-error"' in answer.text and message in answer.text
    assert (await api.call("GET", "/complaints", "mentee", mentee)).json()["items"] == []


async def test_a_forged_csrf_token_files_nothing(browser: Browser, api: Api) -> None:
    mentee = _mentee()
    await browser.sign_in(mentee, "mentee")

    forged = await browser.send(
        "/complaints/new", "/complaints/new", {"category": "billing", "description": "x"}, csrf="forged"
    )

    assert forged.status_code == 403
    assert (await api.call("GET", "/complaints", "mentee", mentee)).json()["items"] == []


async def test_a_mentee_reaches_only_their_own_complaints(browser: Browser, api: Api) -> None:
    owner, other = _mentee(), _mentee()
    await browser.sign_in(owner, "mentee")
    complaint_id = await _file(browser, description="Mine only")

    await browser.sign_in(other, "mentee")
    assert (await browser.get(f"/complaints/{complaint_id}")).status_code == 403
    listed = _main(await browser.get("/complaints"))
    assert "You have not filed a complaint." in listed
    own_page = await browser.get("/complaints/new")
    reply = await browser.client.post(
        f"/complaints/{complaint_id}/reply", data={"body": "sneaky", "_csrf_token": _csrf(own_page)}
    )
    assert reply.status_code == 403
    move = await browser.client.post(
        f"/complaints/{complaint_id}/moves", data={"to": "withdrawn", "version": "1", "_csrf_token": _csrf(own_page)}
    )
    assert move.status_code == 403
    served = (await api.call("GET", f"/complaints/{complaint_id}", "support_agent", "agent-1")).json()
    assert served["state"] == "received" and served["notes"] == []


@pytest.mark.parametrize("role", ["mentee", "mentor", "auditor", "platform", "admin"])
async def test_only_support_staff_reach_the_queue_and_the_case_pages(browser: Browser, role: str) -> None:
    await browser.sign_in(_mentee(), "mentee")
    complaint_id = await _file(browser)

    await browser.sign_in(f"{role}-x", role)

    assert (await browser.get("/support")).status_code == 403
    assert (await browser.get(f"/support/cases/{complaint_id}")).status_code == 403


@pytest.mark.parametrize("role", ["support_agent", "compliance_officer", "mentor", "auditor"])
async def test_staff_do_not_use_the_mentee_pages(browser: Browser, role: str) -> None:
    await browser.sign_in(_mentee(), "mentee")
    complaint_id = await _file(browser)
    await browser.sign_in(f"{role}-y", role)

    for path in ("/complaints", "/complaints/new", f"/complaints/{complaint_id}"):
        assert (await browser.get(path)).status_code == 403, path


async def test_an_agent_works_a_case_and_the_complainant_sees_only_what_is_addressed_to_them(
    browser: Browser, api: Api
) -> None:
    mentee = _mentee()
    await browser.sign_in(mentee, "mentee")
    complaint_id = await _file(browser, description="Double charge on 3 November")

    await browser.sign_in("agent-7", "support_agent")
    assert (await _move(browser, complaint_id, "acknowledged", assignee="agent-7")).status_code == 303
    assert (await _note(browser, complaint_id, "Card processor log shows two captures", "staff")).status_code == 303
    assert (await _note(browser, complaint_id, "We found the second charge.", "complainant")).status_code == 303
    assert (await _move(browser, complaint_id, "investigating")).status_code == 303
    assert (await _move(browser, complaint_id, "awaiting_complainant")).status_code == 303
    case = _main(await browser.get(f"/support/cases/{complaint_id}"))
    assert "Staff only" in case and "To the complainant" in case
    assert "Clock paused: waiting for the complainant" in case
    # The timeline comes from the audit log: the filing, the moves and both notes.
    assert "Complaint filed" in case and case.count("Note added") == 2

    await browser.sign_in(mentee, "mentee")
    mine = _main(await browser.get(f"/complaints/{complaint_id}"))
    assert "We found the second charge." in mine
    assert "Card processor log" not in mine
    assert "We are waiting for your answer." in mine
    replied = await browser.send(
        f"/complaints/{complaint_id}", f"/complaints/{complaint_id}/reply", {"body": "Yes, card ending 4242"}
    )
    assert replied.status_code == 303
    assert "Yes, card ending 4242" in _main(await browser.get(f"/complaints/{complaint_id}"))

    await browser.sign_in("agent-7", "support_agent")
    case_page = await browser.get(f"/support/cases/{complaint_id}")
    assert "Under investigation" in _main(case_page), "the answer restarted the investigation"
    resolved = await _move(
        browser,
        complaint_id,
        "resolved",
        outcome="upheld",
        reasons="You were charged twice; we refund the second charge.",
    )
    assert resolved.status_code == 303

    await browser.sign_in(mentee, "mentee")
    final = _main(await browser.get(f"/complaints/{complaint_id}"))
    assert "Upheld" in final and "we refund the second charge" in final
    notes = await _entries(api, "complaint.note_added", complaint_id)
    assert [e["details"]["to_complainant"] for e in notes] == [False, True, False]
    assert [e["actor"]["sub"] for e in notes] == ["agent-7", "agent-7", mentee]
    moves = await _entries(api, "complaint.transitioned", complaint_id)
    assert [e["details"]["to"] for e in moves][-1] == "resolved"


async def test_resolving_without_an_outcome_comes_back_beside_the_field_and_changes_nothing(
    browser: Browser, api: Api
) -> None:
    await browser.sign_in(_mentee(), "mentee")
    complaint_id = await _file(browser)
    await browser.sign_in("agent-8", "support_agent")
    await _move(browser, complaint_id, "acknowledged")
    await _move(browser, complaint_id, "investigating")
    before = (await api.call("GET", f"/complaints/{complaint_id}", "support_agent", "agent-8")).json()

    missing = await _move(browser, complaint_id, "resolved", reasons="because")
    bad_remedy = await _move(browser, complaint_id, "resolved", outcome="upheld", reasons="r", remedies="cake")
    nul = await _move(browser, complaint_id, "resolved", outcome="upheld", reasons="r\x00")

    assert missing.status_code == 422 and 'id="field-outcome-error"' in missing.text
    assert bad_remedy.status_code == 422 and 'href="#field-remedies"' in bad_remedy.text
    assert nul.status_code == 422 and 'id="field-reasons-error"' in nul.text
    after = (await api.call("GET", f"/complaints/{complaint_id}", "support_agent", "agent-8")).json()
    assert after["version"] == before["version"] and after["state"] == "investigating"


async def test_a_stale_or_illegal_move_is_refused_on_the_page_and_changes_nothing(browser: Browser, api: Api) -> None:
    await browser.sign_in(_mentee(), "mentee")
    complaint_id = await _file(browser)
    await browser.sign_in("agent-9", "support_agent")
    case = f"/support/cases/{complaint_id}"

    stale = await browser.send(case, f"{case}/moves", {"to": "acknowledged", "version": "7"})
    illegal = await _move(browser, complaint_id, "closed")
    unknown = await browser.send(case, f"/support/cases/{uuid.uuid4()}/moves", {"to": "acknowledged", "version": "1"})

    assert stale.status_code == 412 and "error-summary" in stale.text
    assert illegal.status_code == 409 and "error-summary" in illegal.text
    assert unknown.status_code == 404
    after = (await api.call("GET", f"/complaints/{complaint_id}", "support_agent", "agent-9")).json()
    assert after["version"] == 1 and after["state"] == "received"


async def test_the_complainant_withdraws_but_cannot_make_staff_moves(browser: Browser, api: Api) -> None:
    mentee = _mentee()
    await browser.sign_in(mentee, "mentee")
    complaint_id = await _file(browser)
    page = f"/complaints/{complaint_id}"
    assert "Withdraw the complaint" in _main(await browser.get(page))

    staff_move = await browser.send(page, f"{page}/moves", {"to": "acknowledged", "version": "1"})
    assert staff_move.status_code == 403 and "error-summary" in staff_move.text
    assert (await api.call("GET", page, "mentee", mentee)).json()["state"] == "received"

    withdrawn = await browser.send(page, f"{page}/moves", {"to": "withdrawn", "version": "1", "reason": "Sorted"})
    assert withdrawn.status_code == 303
    assert (await api.call("GET", page, "mentee", mentee)).json()["state"] == "withdrawn"
    (entry,) = [
        e for e in await _entries(api, "complaint.transitioned", complaint_id) if e["details"]["to"] == "withdrawn"
    ]
    assert entry["actor"]["sub"] == mentee


async def test_the_queue_lists_by_deadline_with_time_left_paused_and_overdue_in_words(
    browser: Browser, api: Api, clock: ManualClock
) -> None:
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    low = await api.file(_mentee(), category="session_quality", description="low")  # acknowledge within 16 h
    high = await api.file(_mentee(), category="privacy", description="high")  # acknowledge within 4 h
    paused = await api.file(_mentee(), category="billing", description="paused")
    for complaint in (low, high, paused):
        assert (await api.move(complaint, "acknowledged", sub=agent, assignee=agent)).status_code == 200
    assert (await api.move(paused, "investigating", sub=agent)).status_code == 200
    assert (await api.move(paused, "awaiting_complainant", sub=agent)).status_code == 200
    await browser.sign_in(agent, "support_agent")

    queue = await browser.get("/support", mine="true")

    assert queue.status_code == 200
    order = re.findall(r'href="/support/cases/([0-9a-f-]+)"', queue.text)
    assert order == [high["id"], low["id"], paused["id"]]
    text = _main(queue)
    assert "of business time left" in text and "Clock paused: waiting for the complainant" in text

    clock.advance(timedelta(days=30))
    await browser.sign_in(agent, "support_agent")  # a month on, the first session has expired
    late = _main(await browser.get("/support", mine="true"))
    assert "Overdue by" in late

    billing = await browser.get("/support", mine="true", category="billing")
    assert re.findall(r'href="/support/cases/([0-9a-f-]+)"', billing.text) == [paused["id"]]
    waiting = await browser.get("/support", mine="true", state="awaiting_complainant")
    assert re.findall(r'href="/support/cases/([0-9a-f-]+)"', waiting.text) == [paused["id"]]


async def test_the_queue_pages_in_sql_and_keeps_its_filters(browser: Browser, api: Api) -> None:
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    for n in range(26):
        complaint = await api.file(_mentee(), description=f"case {n}")
        assert (await api.move(complaint, "acknowledged", sub=agent, assignee=agent)).status_code == 200
    await browser.sign_in(agent, "support_agent")

    first = await browser.get("/support", mine="true")
    assert len(re.findall(r'href="/support/cases/', first.text)) == 25
    link = re.search(r'href="(/support\?[^"]*cursor=[^"]+)"', first.text)
    assert link is not None and "mine=true" in link.group(1)
    second = await browser.client.get(link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert len(re.findall(r'href="/support/cases/', second.text)) == 1


async def test_a_bad_filter_is_a_400_page_not_a_500(browser: Browser) -> None:
    await browser.sign_in("agent-f", "support_agent")

    assert (await browser.get("/support", state="bogus")).status_code == 400
    assert (await browser.get("/support", cursor="not a cursor!")).status_code == 400


async def test_the_case_page_shows_a_refund_and_what_four_eyes_still_need(browser: Browser, api: Api) -> None:
    mentee = _mentee()
    complaint = await api.file(mentee, category="billing", description="refund me")
    session_id = f"s-{uuid.uuid4().hex[:8]}"
    await api.paid(session_id, mentee, 50_000)
    body = {
        "amount_minor": 20_000,
        "currency": "EUR",
        "reason": "double charge",
        "session_id": session_id,
        "complaint_id": complaint["id"],
    }
    created = await api.call(
        "POST", "/refunds", "support_agent", "agent-r", body, {"Idempotency-Key": uuid.uuid4().hex}
    )
    assert created.status_code == 201, created.text
    refund = created.json()
    assert refund["approvals_needed"] == 2
    await browser.sign_in("agent-s", "support_agent")

    case = _main(await browser.get(f"/support/cases/{complaint['id']}"))
    assert "200.00 EUR" in case and "agent-r" in case and "2 more approvals" in case

    current = await api.call("GET", f"/refunds/{refund['id']}", "support_agent", "agent-s")
    approved = await api.call(
        "POST",
        f"/refunds/{refund['id']}/transitions",
        "support_agent",
        "agent-s",
        {"to": "approved", "reasons": "checked the processor log"},
        {"If-Match": current.headers["etag"]},
    )
    assert approved.status_code == 200, approved.text
    case = _main(await browser.get(f"/support/cases/{complaint['id']}"))
    assert "1 more approval" in case and "not by agent-r, agent-s" in case


async def test_an_htmx_request_gets_the_content_only(browser: Browser) -> None:
    await browser.sign_in("agent-h", "support_agent")

    fragment = await browser.client.get("/support", headers={"HX-Request": "true"})

    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "Support queue" in fragment.text


async def _attest(api: Api, candidate: str | None = None) -> tuple[dict[str, Any], str]:
    token = f"token-{uuid.uuid4().hex}"
    body = {
        "mentor_id": "mentor-" + uuid.uuid4().hex[:8],
        "candidate_id": candidate or _mentee(),
        "competency": "system-design",
        "score": 3,
        "rubric_version": "2026.1",
        "session_date": "2026-11-01",
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
    }
    response = await api.call("POST", "/attestations", "platform", "platform-1", body)
    assert response.status_code == 201, response.text
    return dict(response.json()), hashlib.sha256(token.encode()).hexdigest()


async def test_anyone_checks_an_attestation_without_signing_in(client: httpx.AsyncClient, api: Api) -> None:
    attestation, digest = await _attest(api)
    client.cookies.clear()

    blank_form = await client.get("/attestations/check")
    matching = await client.get("/attestations/check", params={"attestation_id": attestation["id"], "digest": digest})
    other = await client.get("/attestations/check", params={"attestation_id": attestation["id"], "digest": "0" * 64})
    bare = await client.get("/attestations/check", params={"attestation_id": attestation["id"]})

    assert blank_form.status_code == 200 and "Attestation id" in blank_form.text
    assert matching.status_code == 200
    assert "Status: Valid" in _main(matching) and "The token matches this attestation" in _main(matching)
    assert "does NOT match" in _main(other)
    assert "No token digest given" in _main(bare)
    # Nothing about the people: neither the candidate nor the mentor is named.
    assert attestation["candidate_id"] not in matching.text and attestation["mentor_id"] not in matching.text


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"attestation_id": "not-a-uuid"}, 422, "attestation_id"),
        ({"attestation_id": str(uuid.uuid4())}, 404, "attestation_id"),
        ({"attestation_id": str(uuid.uuid4()), "digest": "xyz"}, 422, "digest"),
        ({"attestation_id": str(uuid.uuid4()), "digest": "a" * 65}, 422, "digest"),
        ({"attestation_id": "", "digest": ""}, 422, "attestation_id"),
        ({"attestation_id": str(uuid.uuid4()), "other": "x"}, 422, ""),
    ],
)
async def test_a_bad_check_answers_beside_the_field(
    client: httpx.AsyncClient, params: dict[str, str], status: int, field: str
) -> None:
    answer = await client.get("/attestations/check", params=params)

    assert answer.status_code == status
    assert "error-summary" in answer.text
    if field:
        assert f'id="field-{field}-error"' in answer.text


async def test_a_control_character_in_the_check_is_refused_before_any_lookup(client: httpx.AsyncClient) -> None:
    answer = await client.get("/attestations/check", params={"attestation_id": "a\x00b"})

    assert answer.status_code == 400


@pytest.mark.parametrize("path", ["/escalation", "/ratings-method", "/attestations/check"])
async def test_the_public_pages_open_without_a_session_in_english_and_french(
    client: httpx.AsyncClient, path: str
) -> None:
    client.cookies.clear()
    english = await client.get(path)
    french = await client.get(path, params={"lang": "fr"})

    assert english.status_code == 200 and french.status_code == 200
    assert 'lang="fr"' in french.text


async def test_the_escalation_page_shows_what_the_service_runs_on(client: httpx.AsyncClient, api: Api) -> None:
    published = (await client.get("/api/v1/escalation-policy")).json()

    page = _main(await client.get("/escalation"))

    assert published["business_hours"] in page
    for tier in published["dispute_tiers"]:
        assert tier["name"] in page
    # Billing's override (acknowledge and first response within 8 working hours, resolve within 40).
    assert "40 working hours" in page


async def test_a_candidate_disputes_their_attestation_and_follows_it(browser: Browser, api: Api) -> None:
    mentee = _mentee()
    attestation, _ = await _attest(api, mentee)
    page = f"/attestations/{attestation['id']}/dispute"
    await browser.sign_in(mentee, "mentee")
    assert "Open the dispute" in (await browser.get(page)).text

    opened = await browser.send(page, page, {"reason": "The score ignores my design doc", "evidence": "doc-17"})

    assert opened.status_code == 303
    after = await browser.get(page)
    text = _main(after)
    assert "Under support review (L1)" in text and "Decision due by" in text
    assert "Open the dispute" not in after.text, "one dispute at a time"
    listed = await browser.get("/complaints")
    assert f'href="{page}"' in listed.text and "Under support review (L1)" in _main(listed)
    status = (await api.call("GET", f"/attestations/{attestation['id']}", "mentee", mentee)).json()["status"]
    assert status == "disputed"
    disputes = (await api.call("GET", "/disputes", "mentee", mentee)).json()["items"]
    (entry,) = await _entries(api, "dispute.opened", disputes[0]["id"])
    assert entry["actor"]["sub"] == mentee and entry["details"]["attestation_id"] == attestation["id"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reason": "nul\x00"}, "reason"),
        ({"reason": "x" * 20_001}, "reason"),
        ({"reason": "ok", "evidence": "e" * 501}, "evidence"),
        ({}, "reason"),
    ],
)
async def test_a_bad_dispute_comes_back_beside_its_field_and_opens_nothing(
    browser: Browser, api: Api, fields: dict[str, str], field: str
) -> None:
    mentee = _mentee()
    attestation, _ = await _attest(api, mentee)
    page = f"/attestations/{attestation['id']}/dispute"
    await browser.sign_in(mentee, "mentee")

    answer = await browser.send(page, page, fields)

    assert answer.status_code == 422 and f'id="field-{field}-error"' in answer.text
    assert (await api.call("GET", "/disputes", "mentee", mentee)).json()["items"] == []


@pytest.mark.parametrize(
    ("sub", "role"),
    [("someone-else", "mentee"), ("another-mentor", "mentor"), ("agent-d", "support_agent"), ("aud-d", "auditor")],
)
async def test_only_a_party_reaches_the_dispute_form(browser: Browser, api: Api, sub: str, role: str) -> None:
    mentee = _mentee()
    attestation, _ = await _attest(api, mentee)
    page = f"/attestations/{attestation['id']}/dispute"
    await browser.sign_in(sub, role)

    assert (await browser.get(page)).status_code == 403
    home = await browser.client.get("/", follow_redirects=True)  # any page of theirs has a form token
    forged = await browser.client.post(page, data={"reason": "not mine", "_csrf_token": _csrf(home)})
    assert forged.status_code == 403
    assert (await api.call("GET", "/disputes", "mentee", mentee)).json()["items"] == []


async def test_the_queue_shows_open_disputes_by_decision_deadline(
    browser: Browser, api: Api, clock: ManualClock
) -> None:
    real = clock.now()
    clock.set(real - timedelta(days=400))  # long overdue: ahead of whatever else is open
    first, _ = await _attest(api)
    second, _ = await _attest(api)
    for attestation in (first, second):
        opened = await api.call(
            "POST", f"/attestations/{attestation['id']}/disputes", "support_agent", "agent-q", {"reason": "check"}
        )
        assert opened.status_code == 201, opened.text
        clock.advance(timedelta(days=7))  # a week always holds working hours: the deadlines differ
    clock.set(real)
    await browser.sign_in("agent-q", "support_agent")

    queue = await browser.get("/support", kind="disputes")

    assert queue.status_code == 200
    text = _main(queue)
    assert text.index(first["id"]) < text.index(second["id"]), "the sooner deadline first"
    assert "Overdue by" in text and "Under support review (L1)" in text
    assert (await browser.get("/support", kind="disputes", cursor="eyJzb3J0IjoiZHVlIn0")).status_code == 400


async def test_the_queue_shows_refunds_awaiting_approval_with_what_four_eyes_need(browser: Browser, api: Api) -> None:
    mentee = _mentee()
    complaint = await api.file(mentee, category="billing", description="refund")
    session_id = f"s-{uuid.uuid4().hex[:8]}"
    await api.paid(session_id, mentee, 50_000)
    body = {"amount_minor": 30_000, "currency": "EUR", "reason": "r", "session_id": session_id}
    created = await api.call(
        "POST",
        "/refunds",
        "support_agent",
        "agent-t",
        {**body, "complaint_id": complaint["id"]},
        {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    await browser.sign_in("agent-u", "support_agent")

    queue = await browser.get("/support", kind="refunds")

    assert queue.status_code == 200
    text = _main(queue)
    assert "300.00 EUR" in text and "2 more approvals" in text and "not by agent-t" in text
    assert f'href="/support/cases/{complaint["id"]}"' in queue.text
    assert (await browser.get("/support", kind="everything")).status_code == 400


async def test_everything_by_deadline_merges_complaints_and_disputes_and_pages_without_gaps(
    browser: Browser, api: Api, clock: ManualClock
) -> None:
    real = clock.now()
    clock.set(real - timedelta(days=1500))  # earlier than anything else the suite files
    first = await api.file(_mentee(), category="billing", description="first")
    clock.advance(timedelta(days=7))
    attestation, _ = await _attest(api)
    opened = await api.call(
        "POST", f"/attestations/{attestation['id']}/disputes", "support_agent", "agent-m", {"reason": "check"}
    )
    assert opened.status_code == 201, opened.text
    clock.advance(timedelta(days=7))
    later = [await api.file(_mentee(), category="billing", description=f"later {n}") for n in range(26)]
    clock.set(real)
    await browser.sign_in("agent-m", "support_agent")

    seen: list[str] = []
    link: str | None = "/support"
    while link is not None:
        page = await browser.client.get(link.replace("&amp;", "&"))
        assert page.status_code == 200, page.text
        seen += re.findall(r'(?:href="/support/cases/|class="case-ref">)([0-9a-f-]{36})', page.text)
        found = re.search(r'href="(/support\?[^"]*_(?:cursor|done)=[^"]+)">Next page', page.text)
        link = found.group(1) if found else None

    assert len(seen) == len(set(seen)), "no case twice across pages"
    # The later ones share one deadline (filed at one instant): ties go by id.
    mine = [first["id"], attestation["id"], *sorted(complaint["id"] for complaint in later)]
    assert [ident for ident in seen if ident in set(mine)] == mine


async def test_the_attestations_mentor_reaches_its_dispute_page_too(browser: Browser, api: Api) -> None:
    attestation, _ = await _attest(api)
    await browser.sign_in(attestation["mentor_id"], "mentor")

    page = await browser.get(f"/attestations/{attestation['id']}/dispute")

    assert page.status_code == 200 and "Open the dispute" in page.text


async def test_the_signed_in_pages_render_in_french(browser: Browser) -> None:
    mentee = _mentee()
    await browser.sign_in(mentee, "mentee")
    complaint_id = await _file(browser)
    mine = await browser.get(f"/complaints/{complaint_id}", lang="fr")
    await browser.sign_in("agent-fr", "support_agent")

    pages = [mine]
    for path in ("/support", "/support?kind=refunds", "/support?kind=disputes", f"/support/cases/{complaint_id}"):
        pages.append(await browser.client.get(path, params={"lang": "fr"}))

    for page in pages:
        assert page.status_code == 200 and '<html lang="fr">' in page.text


async def _disputed(api: Api, candidate: str) -> tuple[dict[str, Any], str]:
    attestation, _ = await _attest(api, candidate)
    opened = await api.call(
        "POST", f"/attestations/{attestation['id']}/disputes", "mentee", candidate, {"reason": "Too low a score"}
    )
    assert opened.status_code == 201, opened.text
    return attestation, str(opened.json()["id"])


async def test_an_agent_decides_a_dispute_at_l1_and_the_candidate_reads_the_reasons(browser: Browser, api: Api) -> None:
    candidate = _mentee()
    attestation, dispute_id = await _disputed(api, candidate)
    case = f"/support/disputes/{dispute_id}"
    await browser.sign_in("agent-l1", "support_agent")
    opened = await browser.get(case)
    assert opened.status_code == 200
    text = _main(opened)
    assert (
        "Too low a score" in text and "Escalate to compliance review (L2)" in text and "of business time left" in text
    )

    voted = await browser.send(
        case,
        f"{case}/moves",
        {
            "to": "decided",
            "version": _version(opened),
            "outcome": "amended",
            "new_score": "4",
            "reasons": "Rubric 4b met",
        },
    )

    assert voted.status_code == 303
    decided = _main(await browser.get(case))
    assert "Decided" in decided and "Rubric 4b met" in decided
    assert (await api.call("GET", f"/attestations/{attestation['id']}", "mentee", candidate)).json()["score"] == 4
    (entry,) = await _entries(api, "dispute.decided", dispute_id)
    assert entry["actor"]["sub"] == "agent-l1"
    await browser.sign_in(candidate, "mentee")
    theirs = _main(await browser.get(f"/attestations/{attestation['id']}/dispute"))
    assert "Rubric 4b met" in theirs and "New score: 4" in theirs


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"to": "decided", "outcome": "upheld"}, 422, "reasons"),  # the service wants reasons for a vote
        ({"to": "decided", "outcome": "amended", "new_score": "five", "reasons": "r"}, 422, "new_score"),
        ({"to": "decided", "outcome": "upheld", "reasons": "r\x00"}, 422, "reasons"),
        ({"to": "decided", "outcome": "revoked", "reasons": "r"}, 422, "outcome"),
        ({"to": "revoked", "reasons": "r"}, 409, ""),  # L1 may not revoke
        ({"to": "l3_review"}, 409, ""),  # only ever to the next tier
    ],
)
async def test_a_bad_dispute_move_is_refused_on_the_page_and_changes_nothing(
    browser: Browser, api: Api, fields: dict[str, str], status: int, field: str
) -> None:
    _, dispute_id = await _disputed(api, _mentee())
    case = f"/support/disputes/{dispute_id}"
    await browser.sign_in("agent-l1b", "support_agent")

    answer = await browser.send(case, f"{case}/moves", {**fields, "version": "1"})

    assert answer.status_code == status and "error-summary" in answer.text
    if field:
        assert f'href="#field-{field}"' in answer.text
    after = (await api.call("GET", f"/disputes/{dispute_id}", "support_agent", "agent-l1b")).json()
    assert after["state"] == "l1_review" and after["version"] == 1 and after["votes"] == []


@pytest.mark.parametrize("role", ["mentee", "mentor", "auditor", "platform", "admin"])
async def test_only_support_staff_reach_the_dispute_case_page(browser: Browser, api: Api, role: str) -> None:
    candidate = _mentee()
    _, dispute_id = await _disputed(api, candidate)
    await browser.sign_in(candidate if role == "mentee" else f"{role}-z", role)

    assert (await browser.get(f"/support/disputes/{dispute_id}")).status_code == 403
    home = await browser.client.get("/", follow_redirects=True)
    forged = await browser.client.post(
        f"/support/disputes/{dispute_id}/moves", data={"to": "withdrawn", "version": "1", "_csrf_token": _csrf(home)}
    )
    assert forged.status_code == 403
    assert (await api.call("GET", f"/disputes/{dispute_id}", "mentee", candidate)).json()["state"] == "l1_review"


async def _refund(api: Api, requester: str, amount: int = 30_000) -> dict[str, Any]:
    mentee = _mentee()
    complaint = await api.file(mentee, category="billing", description="refund")
    session_id = f"s-{uuid.uuid4().hex[:8]}"
    await api.paid(session_id, mentee, 50_000)
    body = {
        "amount_minor": amount,
        "currency": "EUR",
        "reason": "double charge",
        "session_id": session_id,
        "complaint_id": complaint["id"],
    }
    created = await api.call(
        "POST", "/refunds", "support_agent", requester, body, {"Idempotency-Key": uuid.uuid4().hex}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _decide(browser: Browser, refund_id: str, to: str, reasons: str = "checked") -> httpx.Response:
    page = f"/support/refunds/{refund_id}"
    opened = await browser.get(page)
    return await browser.send(page, f"{page}/decision", {"to": to, "version": _version(opened), "reasons": reasons})


async def test_two_other_people_approve_a_large_refund_on_its_page(browser: Browser, api: Api) -> None:
    refund = await _refund(api, "agent-req")
    await browser.sign_in("agent-req", "support_agent")
    mine = _main(await browser.get(f"/support/refunds/{refund['id']}"))
    assert "You requested this refund" in mine and "2 more approvals" in mine

    own = await _decide(browser, refund["id"], "approved")
    assert own.status_code == 403 and "error-summary" in own.text
    await browser.sign_in("agent-one", "support_agent")
    assert (await _decide(browser, refund["id"], "approved", "processor log")).status_code == 303
    twice = await _decide(browser, refund["id"], "approved")
    assert twice.status_code == 403
    halfway = _main(await browser.get(f"/support/refunds/{refund['id']}"))
    assert "1 more approval" in halfway and "processor log" in halfway
    await browser.sign_in("officer-two", "compliance_officer")
    assert (await _decide(browser, refund["id"], "approved")).status_code == 303

    done = (await api.call("GET", f"/refunds/{refund['id']}", "support_agent", "agent-one")).json()
    assert done["state"] == "approved" and done["approved_by"] == ["agent-one", "officer-two"]
    refusals = await _entries(api, "refund.approval_refused", refund["id"])
    assert [e["actor"]["sub"] for e in refusals] == ["agent-req", "agent-one"]
    assert "Approved by agent-one, officer-two" in _main(await browser.get(f"/support/refunds/{refund['id']}"))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"to": "approved", "version": "1"}, "reasons"),
        ({"to": "approved", "version": "1", "reasons": "x\x00"}, "reasons"),
        ({"to": "approved", "version": "1", "reasons": "x" * 2001}, "reasons"),
        ({"to": "issued", "version": "1", "reasons": "x"}, "to"),
        ({"to": "approved", "version": "0", "reasons": "x"}, "version"),
    ],
)
async def test_a_bad_refund_decision_comes_back_and_changes_nothing(
    browser: Browser, api: Api, fields: dict[str, str], field: str
) -> None:
    refund = await _refund(api, "agent-req2")
    page = f"/support/refunds/{refund['id']}"
    await browser.sign_in("agent-other", "support_agent")

    answer = await browser.send(page, f"{page}/decision", fields)

    assert answer.status_code == 422 and f'href="#field-{field}"' in answer.text
    after = (await api.call("GET", page.replace("/support", ""), "support_agent", "agent-other")).json()
    assert after["state"] == "requested" and after["approved_by"] == [] and after["version"] == 1


@pytest.mark.parametrize("role", ["mentee", "mentor", "auditor", "platform", "admin"])
async def test_only_support_staff_reach_the_refund_page(browser: Browser, api: Api, role: str) -> None:
    refund = await _refund(api, "agent-req3")
    await browser.sign_in(refund["mentee_id"] if role == "mentee" else f"{role}-r", role)

    assert (await browser.get(f"/support/refunds/{refund['id']}")).status_code == 403
    home = await browser.client.get("/", follow_redirects=True)
    forged = await browser.client.post(
        f"/support/refunds/{refund['id']}/decision",
        data={"to": "denied", "version": "1", "reasons": "no", "_csrf_token": _csrf(home)},
    )
    assert forged.status_code == 403
    after = (await api.call("GET", f"/refunds/{refund['id']}", "support_agent", "agent-req3")).json()
    assert after["state"] == "requested"
