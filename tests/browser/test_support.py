"""Browser journeys of the complaint pages, in Chromium against a served process.

- An agent works a complaint to resolution inside its SLA: a mentee files it through the
  pages, the agent finds it in the queue, opens the case, adds a staff-only note and a note
  to the complainant, and moves it to resolved with the case's buttons; the mentee then sees
  the note addressed to them and the outcome, never the staff-only note.
- Anyone checks an attestation's status without signing in, and reads the escalation path.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import TYPE_CHECKING

from tests.browser.checks import assert_accessible, screenshot
from tests.browser.conftest import NewPage
from tests.browser.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Page

STAFF_NOTE = "Processor log shows two captures on the same card"
TO_COMPLAINANT = "We found the second charge and will refund it."
FINAL_RESPONSE = "You were charged twice; the second charge is refunded."


def _sign_in(server: Server, page: Page, sub: str, role: str) -> None:
    """Sign in through a one-time link, as staff (or a mentee) would."""
    link = server.cli("token", "link", "--sub", sub, "--role", role)
    page.goto(link)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()


def test_an_agent_works_a_complaint_to_resolution_inside_its_sla(server: Server, new_page: NewPage) -> None:
    mentee_sub, agent_sub = f"mentee-{uuid.uuid4().hex[:8]}", f"agent-{uuid.uuid4().hex[:8]}"
    mentee = new_page()
    _sign_in(server, mentee, mentee_sub, "mentee")

    mentee.goto("/complaints")
    assert_accessible(mentee)
    mentee.get_by_role("link", name="File a complaint").click()
    assert_accessible(mentee)
    mentee.get_by_label("What is it about?").select_option("billing")
    mentee.get_by_label("What happened").fill("I was charged twice for my session on 3 November.")
    mentee.get_by_role("button", name="Send the complaint").click()
    mentee.wait_for_url(re.compile(r"/complaints/[0-9a-f-]{36}$"))
    complaint_id = mentee.url.rsplit("/", 1)[1]
    assert mentee.get_by_text("I was charged twice").is_visible()

    agent = new_page()
    _sign_in(server, agent, agent_sub, "support_agent")
    for kind in ("all", "disputes", "refunds"):
        agent.goto(f"/support?kind={kind}")
        assert_accessible(agent)
    agent.goto("/support?category=billing")
    assert_accessible(agent)
    row = agent.locator("tr", has=agent.locator(f'a[href="/support/cases/{complaint_id}"]'))
    assert "business time left" in row.inner_text()
    screenshot(agent, "support-queue", narrow=True)
    row.get_by_role("link").click()
    agent.wait_for_url(f"**/support/cases/{complaint_id}")
    assert_accessible(agent)

    agent.get_by_label("Assign to").fill(agent_sub)
    agent.get_by_role("button", name="Acknowledge").click()
    agent.wait_for_load_state()
    agent.get_by_label("Note", exact=True).fill(STAFF_NOTE)
    agent.get_by_label("Staff only: the complainant never sees it").check()
    agent.get_by_role("button", name="Add the note").click()
    agent.wait_for_load_state()
    agent.get_by_label("Note", exact=True).fill(TO_COMPLAINANT)
    agent.get_by_label("To the complainant: they see it on their complaint page").check()
    agent.get_by_role("button", name="Add the note").click()
    agent.wait_for_load_state()
    agent.get_by_role("button", name="Start investigating").click()
    agent.wait_for_load_state()
    assert_accessible(agent)
    screenshot(agent, "case-page", narrow=True, full_page=True)
    agent.get_by_label("Upheld", exact=True).check()
    agent.get_by_label("Refund").check()
    agent.get_by_label("Final response to the complainant").fill(FINAL_RESPONSE)
    agent.get_by_role("button", name="Resolve", exact=True).click()
    agent.wait_for_load_state()
    facts = agent.locator("dl.facts").inner_text()
    assert "Resolved" in facts and "Overdue" not in facts and "Breached" not in facts
    assert "Missed targets" not in facts

    mentee.reload()
    assert_accessible(mentee)
    text = mentee.locator("main").inner_text()
    assert TO_COMPLAINANT in text and FINAL_RESPONSE in text and "Upheld" in text
    assert STAFF_NOTE not in text
    screenshot(mentee, "mentee-complaint", narrow=True, full_page=True)


def test_anyone_checks_an_attestation_and_reads_the_escalation_path(server: Server, page: Page) -> None:
    token = f"token-{uuid.uuid4().hex}"
    digest = hashlib.sha256(token.encode()).hexdigest()
    body = {
        "mentor_id": f"mentor-{uuid.uuid4().hex[:8]}",
        "candidate_id": f"cand-{uuid.uuid4().hex[:8]}",
        "competency": "system-design",
        "score": 3,
        "rubric_version": "2026.1",
        "session_date": "2026-11-01",
        "token_sha256": digest,
    }
    with server.client(server.token("platform-1", "platform")) as api:
        recorded = api.post("/api/v1/attestations", json=body)
    assert recorded.status_code == 201, recorded.text

    page.goto("/attestations/check")
    assert_accessible(page)
    page.get_by_label("Attestation id").fill(recorded.json()["id"])
    page.get_by_label("Token digest (SHA-256)").fill(digest)
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Status: Valid").is_visible()
    assert page.get_by_text("The token matches this attestation").is_visible()
    assert_accessible(page)
    screenshot(page, "attestation-check", narrow=True)

    page.get_by_role("link", name="The escalation path").click()
    page.wait_for_url("**/escalation")
    assert page.get_by_role("heading", name="The escalation path", level=1).is_visible()
    assert_accessible(page)
    screenshot(page, "escalation-path", narrow=True)
    page.get_by_role("link", name="How ratings are checked").click()
    page.wait_for_url("**/ratings-method")
    assert_accessible(page)


def test_a_candidate_disputes_their_attestation(server: Server, new_page: NewPage) -> None:
    candidate = f"mentee-{uuid.uuid4().hex[:8]}"
    body = {
        "mentor_id": f"mentor-{uuid.uuid4().hex[:8]}",
        "candidate_id": candidate,
        "competency": "system-design",
        "score": 2,
        "rubric_version": "2026.1",
        "session_date": "2026-11-02",
        "token_sha256": hashlib.sha256(candidate.encode()).hexdigest(),
    }
    with server.client(server.token("platform-1", "platform")) as api:
        recorded = api.post("/api/v1/attestations", json=body)
    assert recorded.status_code == 201, recorded.text
    page = new_page()
    _sign_in(server, page, candidate, "mentee")

    page.goto(f"/attestations/{recorded.json()['id']}/dispute")
    assert_accessible(page)
    page.get_by_label("Why the attestation is wrong").fill("The score ignores the design I presented.")
    page.get_by_role("button", name="Open the dispute").click()
    page.wait_for_load_state()

    assert page.get_by_text("Under support review (L1)").is_visible()
    assert page.get_by_role("button", name="Open the dispute").count() == 0
    assert_accessible(page)

    agent = new_page()
    _sign_in(server, agent, f"agent-{uuid.uuid4().hex[:8]}", "support_agent")
    agent.goto("/support?kind=disputes")
    row = agent.locator("tr", has_text=recorded.json()["id"])
    row.get_by_role("link", name="Disputed attestation").click()
    agent.wait_for_url("**/support/disputes/*")
    assert_accessible(agent)
    agent.get_by_label("Upheld", exact=True).check()
    agent.get_by_label("Reasons", exact=True).fill("The rubric's level 2 fits the session notes.")
    agent.get_by_role("button", name="Record my vote").click()
    agent.wait_for_load_state()
    assert agent.get_by_role("heading", name="Decision at L1: Upheld").is_visible()
    assert_accessible(agent)

    page.reload()
    assert page.get_by_text("The rubric's level 2 fits the session notes.").is_visible()


def test_a_second_person_approves_a_refund_on_its_page(server: Server, new_page: NewPage) -> None:
    mentee, session_id = f"mentee-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    with server.client(server.token("platform-1", "platform")) as platform:
        paid = platform.put(
            f"/api/v1/sessions/{session_id}/payment",
            json={"mentee_id": mentee, "amount_minor": 5_000, "currency": "EUR"},
        )
    assert paid.status_code == 200, paid.text
    with server.client(server.token("agent-requester", "support_agent")) as requester:
        created = requester.post(
            "/api/v1/refunds",
            json={"amount_minor": 2_500, "currency": "EUR", "reason": "no-show", "session_id": session_id},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert created.status_code == 201, created.text
    agent = new_page()
    _sign_in(server, agent, f"agent-{uuid.uuid4().hex[:8]}", "support_agent")

    agent.goto("/support?kind=refunds")
    assert_accessible(agent)
    agent.goto(f"/support/refunds/{created.json()['id']}")
    assert_accessible(agent)
    agent.get_by_label("Reasons").fill("The mentor did not join; the platform log agrees.")
    agent.get_by_role("button", name="Approve").click()
    agent.wait_for_load_state()

    facts = agent.locator("dl.facts").inner_text()
    assert "Approved by agent-" in facts, facts
    assert_accessible(agent)
