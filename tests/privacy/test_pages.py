"""The mentee's privacy pages, through the app as a browser uses them (no scripts, and htmx):
the preference centre, the consent history and receipts, data requests, erasure, the notices."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from governance.core.identity import ROLES

from ..web import conftest as pages
from ..web.conftest import Entries, SignIn, csrf_of
from .conftest import ANALYTICS, RECRUITERS, SHARE, Privacy, new_mentee

# The pages' fixtures: an app that allows portal sessions, a signed-in client, the audit entries.
app, portal_settings, web, sign_in, entries = pages.app, pages.portal_settings, pages.web, pages.sign_in, pages.entries

MARKETING = "marketing"
RECEIPT_LINK = re.compile(r'href="/privacy/receipts/([0-9a-f-]{36})"')
REQUEST_PATH = re.compile(r"^/privacy/requests/([0-9a-f-]{36})$")


async def _switch(client: httpx.AsyncClient, purpose: str, state: str, **headers: str) -> httpx.Response:
    page = await client.get("/privacy")
    return await client.post(
        "/privacy/choices",
        data={"_csrf_token": csrf_of(page), "purpose": purpose, "state": state},
        headers=headers,
    )


async def _post(client: httpx.AsyncClient, path: str, data: dict[str, str], form_page: str) -> httpx.Response:
    page = await client.get(form_page)
    return await client.post(path, data={"_csrf_token": csrf_of(page), **data})


async def test_the_centre_shows_every_purpose_with_its_notice_basis_state_and_switch(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in("mentee", sub=new_mentee(), kind="portal")
    page = await client.get("/privacy")
    assert page.status_code == 200
    for title in ("Share attestations with employers", "Product analytics", "Marketing"):
        assert title in page.text
    assert "We measure how the platform is used, in aggregate, to improve it." in page.text
    assert "Your consent" in page.text and "Our legitimate interests" in page.text
    # One switch per purpose, named by the purpose's title (its heading), its state in aria-checked.
    switches = re.findall(
        r'role="switch"\s+aria-checked="(true|false)"\s+aria-labelledby="purpose-(\w+)-title"', page.text
    )
    assert {name: checked for checked, name in switches} == {
        SHARE: "false",
        RECRUITERS: "false",
        "session_recording": "false",
        ANALYTICS: "true",
        MARKETING: "false",
    }
    assert f'id="purpose-{ANALYTICS}-title">Product analytics</h3>' in page.text
    assert "Never chosen: the default applies" in page.text
    assert "Global Privacy Control" not in page.text.split("<main", 1)[1].split("purpose__gpc")[0]


async def test_switching_a_purpose_off_records_it_with_its_receipt_and_the_api_reports_it(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy, entries: Entries
) -> None:
    mentee = new_mentee()
    await sign_in("mentee", sub=mentee, kind="portal")
    switched = await _switch(client, ANALYTICS, "opt_out")
    assert switched.status_code == 303
    location = switched.headers["location"]
    receipt_id = re.search(r"receipt=([0-9a-f-]{36})", location)
    assert receipt_id and location.endswith(f"#purpose-{ANALYTICS}")
    shown = await client.get(location.split("#")[0])
    assert "Your change is recorded" in shown.text
    assert "Product analytics: not allowed" in shown.text
    assert f'href="/privacy/receipts/{receipt_id.group(1)}"' in shown.text
    assert re.search(rf'aria-checked="false"\s+aria-labelledby="purpose-{ANALYTICS}-title"', shown.text)
    reported = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=privacy.mentee(mentee))
    analytics = next(p for p in reported.json()["preferences"]["purposes"] if p["purpose"] == ANALYTICS)
    assert (analytics["allowed"], analytics["method"]) == (False, "explicit")
    [entry] = await entries("privacy.consent.changed", resource_id=receipt_id.group(1))
    assert entry["actor"]["sub"] == mentee and entry["details"]["records"][0]["state"] == "opt_out"
    history = await privacy.history(mentee)
    assert [(r["purpose"], r["source"]) for r in history] == [(ANALYTICS, "pages")]


async def test_with_htmx_only_the_purpose_is_answered_with_its_receipt(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in("mentee", sub=new_mentee())
    answer = await _switch(client, MARKETING, "opt_in", **{"HX-Request": "true", "HX-Target": f"purpose-{MARKETING}"})
    assert answer.status_code == 200
    assert "<html" not in answer.text and "<h1" not in answer.text
    assert answer.text.strip().startswith(f'<section class="purpose" id="purpose-{MARKETING}"')
    assert re.search(rf'aria-checked="true"\s+aria-labelledby="purpose-{MARKETING}-title"', answer.text)
    assert "Recorded: Marketing is now allowed." in answer.text
    # Said again out of band into the page's live region, which exists before the swap.
    assert re.search(r'<div id="switch-status"[^>]*role="status" hx-swap-oob="true">Recorded: Marketing', answer.text)
    assert '<div id="switch-status" class="visually-hidden" role="status"></div>' in (await client.get("/privacy")).text
    assert RECEIPT_LINK.search(answer.text)


async def test_in_french_the_notices_and_the_receipt_speak_french(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in("mentee", sub=new_mentee())
    page = await client.get("/privacy", params={"lang": "fr"})
    assert '<html lang="fr">' in page.text
    assert "Nous mesurons l&#39;usage de la plateforme" in page.text
    switched = await _switch(client, SHARE, "opt_in")
    receipt_id = re.search(r"receipt=([0-9a-f-]{36})", switched.headers["location"])
    assert receipt_id
    receipt = await client.get(f"/privacy/receipts/{receipt_id.group(1)}")
    assert receipt.json()["language"] == "fr"


@pytest.mark.parametrize(
    ("purpose", "state", "field"),
    [
        ("no_such_purpose", "opt_out", "purpose"),
        ("marketing\x00", "opt_out", "purpose"),
        ("m" * 81, "opt_out", "purpose"),
        (MARKETING, "maybe", "state"),
        (MARKETING, "", "state"),
    ],
)
async def test_a_bad_switch_comes_back_with_the_message_and_changes_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy, purpose: str, state: str, field: str
) -> None:
    mentee = new_mentee()
    await sign_in("mentee", sub=mentee)
    answer = await _switch(client, purpose, state)
    assert answer.status_code == 422
    assert "There is a problem" in answer.text and f'href="#field-{field}"' in answer.text
    assert await privacy.history(mentee) == []


async def test_a_bad_switch_sent_by_htmx_replaces_the_main_not_the_row(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in("mentee", sub=new_mentee())
    answer = await _switch(client, "no_such_purpose", "opt_out", **{"HX-Request": "true"})
    assert answer.status_code == 422
    assert (answer.headers["hx-retarget"], answer.headers["hx-reswap"]) == ("#main", "innerHTML")
    assert "<h1>Your privacy</h1>" in answer.text and "<html" not in answer.text


async def test_a_forged_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    mentee = new_mentee()
    await sign_in("mentee", sub=mentee)
    answer = await client.post(
        "/privacy/choices", data={"_csrf_token": "forged", "purpose": ANALYTICS, "state": "opt_out"}
    )
    assert answer.status_code == 403
    assert await privacy.history(mentee) == []


async def test_global_privacy_control_is_said_and_applied_with_its_receipt(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, marketing="opt_in", share_attestations_with_employers="opt_in")
    await sign_in("mentee", sub=mentee)
    page = await client.get("/privacy", headers={"Sec-GPC": "1"})
    assert "Your browser sends Global Privacy Control" in page.text
    assert "we have just switched off: Share attestations with employers, Marketing" in page.text
    assert "Your change is recorded" in page.text
    assert re.search(rf'aria-checked="false"\s+aria-labelledby="purpose-{MARKETING}-title"', page.text)
    assert (await privacy.permission(mentee, MARKETING))["method"] == "gpc"
    again = await client.get("/privacy", headers={"Sec-GPC": "1"})
    assert "Your browser sends Global Privacy Control" in again.text
    assert "just switched off" not in again.text and "Your change is recorded" not in again.text
    # An explicit choice on the page wins over the signal.
    switched = await _switch(client, MARKETING, "opt_in", **{"Sec-GPC": "1"})
    assert switched.status_code == 303
    assert (await privacy.permission(mentee, MARKETING))["allowed"] is True


async def test_a_mentee_keeps_some_data_for_less_time(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    mentee = new_mentee()
    await sign_in("mentee", sub=mentee)
    page = await client.get("/privacy")
    assert 'id="retention-session_recordings"' in page.text
    assert 'id="retention-attestation_evidence"' not in page.text, "a category the mentee may not shorten"
    chosen = await _post(client, "/privacy/retention", {"category": "session_recordings", "period": "P30D"}, "/privacy")
    assert chosen.status_code == 303 and chosen.headers["location"].endswith("#retention")
    shown = await client.get(chosen.headers["location"].split("#")[0])
    assert "Your choice of how long we keep your data is recorded too." in shown.text
    assert '<option value="P30D" selected>30 days</option>' in shown.text
    reported = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=privacy.mentee(mentee))
    assert reported.json()["preferences"]["retention"] == {"session_recordings": "P30D"}


@pytest.mark.parametrize(
    ("category", "period"),
    [("session_recordings", "P1Y"), ("attestation_evidence", "P1D"), ("session_recordings", "soon"), ("x\x00", "P1D")],
)
async def test_a_retention_choice_the_policy_refuses_comes_back_and_changes_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy, category: str, period: str
) -> None:
    mentee = new_mentee()
    await sign_in("mentee", sub=mentee)
    answer = await _post(client, "/privacy/retention", {"category": category, "period": period}, "/privacy")
    assert answer.status_code == 422
    assert "There is a problem" in answer.text
    reported = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=privacy.mentee(mentee))
    assert reported.json()["preferences"]["retention"] == {}


async def test_the_history_lists_every_choice_with_its_receipt_by_pages(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    mentee = new_mentee()
    everything = {SHARE: "opt_in", RECRUITERS: "opt_in", "session_recording": "opt_in", ANALYTICS: "opt_out"}
    for _ in range(13):  # 52 records: more than a page
        await privacy.choose(mentee, **everything)
    await sign_in("mentee", sub=mentee)
    first = await client.get("/privacy/history")
    assert first.status_code == 200
    assert first.text.count("<tr>") == 1 + 50
    receipts = set(RECEIPT_LINK.findall(first.text))
    assert len(receipts) == 13
    next_link = re.search(r'href="/privacy/history\?cursor=([A-Za-z0-9_-]+)"', first.text)
    assert next_link
    second = await client.get("/privacy/history", params={"cursor": next_link.group(1)})
    assert second.text.count("<tr>") == 1 + 2 and "Next page" not in second.text and "First page" in second.text
    receipt_id = sorted(receipts)[0]
    download = await client.get(f"/privacy/receipts/{receipt_id}")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert "attachment" in download.headers["content-disposition"]
    assert download.json()["receipt_id"] == receipt_id and download.json()["pii_principal_id"] == mentee
    bad_cursor = await client.get("/privacy/history", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert bad_cursor.status_code == 400 and "<html" in bad_cursor.text


async def test_another_mentees_receipt_is_not_found(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    owner = new_mentee()
    changed = await privacy.choose(owner, marketing="opt_in")
    receipt_id = changed["receipt"]["receipt_id"]
    await sign_in("mentee", sub=new_mentee())
    for path in (
        f"/privacy/receipts/{receipt_id}",
        f"/privacy/receipts/{uuid.uuid4()}",
        f"/privacy?receipt={receipt_id}",
    ):
        answer = await client.get(path)
        assert owner not in answer.text and receipt_id not in answer.text.replace(path, "")
        if "receipts" in path:
            assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert (await client.get("/privacy/receipts/not-a-uuid")).status_code in {400, 404}


async def test_a_mentee_asks_for_a_copy_follows_it_reads_it_and_downloads_it(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy, entries: Entries
) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, marketing="opt_in")
    await sign_in("mentee", sub=mentee)
    asked = await _post(client, "/privacy/requests", {"description": "Everything, please."}, "/privacy/requests")
    assert asked.status_code == 303
    found = REQUEST_PATH.match(asked.headers["location"])
    assert found
    request_id = found.group(1)
    waiting = await client.get(f"/privacy/requests/{request_id}")
    assert "A copy of your data" in waiting.text and "Received" in waiting.text
    assert "Everything, please." in waiting.text and "Your copy is not ready yet" in waiting.text
    listed = await client.get("/privacy/requests")
    assert f'href="/privacy/requests/{request_id}"' in listed.text
    assert (await client.get(f"/privacy/requests/{request_id}/copy")).status_code == 404
    await privacy.complete(request_id)
    ready = await client.get(f"/privacy/requests/{request_id}")
    assert "Your copy is ready" in ready.text and "Done" in ready.text
    readable = await client.get(f"/privacy/requests/{request_id}/copy")
    assert readable.status_code == 200
    assert "Your copy of your data" in readable.text and "Everything, please." in readable.text
    assert '<h2 id="module-privacy">Privacy</h2>' in readable.text
    download = await client.get(f"/privacy/requests/{request_id}/export")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.json()["mentee_id"] == mentee
    downloads = await entries("privacy.export.downloaded", resource_id=request_id)
    assert len(downloads) == 2 and {e["actor"]["sub"] for e in downloads} == {mentee}
    filed = await entries("privacy.request.received", resource_id=request_id)
    assert filed[0]["actor"]["sub"] == mentee


async def test_another_mentees_request_is_not_found_on_every_page(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    owner = new_mentee()
    filed = await privacy.file(owner, "access", "private words")
    await privacy.complete(filed["id"])
    await sign_in("mentee", sub=new_mentee())
    page = await client.get("/privacy/requests")
    for path in ("", "/copy", "/export"):
        answer = await client.get(f"/privacy/requests/{filed['id']}{path}")
        assert answer.status_code == 404, path
        assert "private words" not in answer.text and owner not in answer.text
    withdrawn = await client.post(
        f"/privacy/requests/{filed['id']}/withdrawal", data={"_csrf_token": csrf_of(page), "version": "1"}
    )
    assert withdrawn.status_code == 404
    assert filed["id"] not in (await client.get("/privacy/requests")).text


async def test_the_erasure_confirmation_says_what_is_erased_and_what_a_hold_keeps(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy, entries: Entries
) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, marketing="opt_in")
    open_access = await privacy.file(mentee, "access")
    await sign_in("mentee", sub=mentee)
    confirmation = await client.get("/privacy/requests/erasure")
    assert confirmation.status_code == 200
    assert "What we erase" in confirmation.text and "What we keep, and until when" in confirmation.text
    assert "Everything you allow now is switched off: Product analytics, Marketing." in confirmation.text
    assert "Data request" in confirmation.text and open_access["id"] in confirmation.text
    assert "Until the case closes" in confirmation.text
    confirmed = await client.post("/privacy/requests/erasure", data={"_csrf_token": csrf_of(confirmation)})
    assert confirmed.status_code == 303
    found = REQUEST_PATH.match(confirmed.headers["location"])
    assert found
    erasure_id = found.group(1)
    page = await client.get(confirmed.headers["location"])
    assert "Erasure of your data" in page.text and "Received" in page.text
    [entry] = await entries("privacy.request.received", resource_id=erasure_id)
    assert entry["details"]["type"] == "erasure"
    again = await client.get("/privacy/requests/erasure")
    assert "You have already asked us to erase your data." in again.text and erasure_id in again.text
    twice = await client.post("/privacy/requests/erasure", data={"_csrf_token": csrf_of(confirmation)})
    assert twice.headers["location"] == f"/privacy/requests/{erasure_id}"
    assert len((await client.get("/api/v1/privacy/requests", headers=privacy.mentee(mentee))).json()["items"]) == 2
    await privacy.move(open_access["id"], "withdrawn", headers=privacy.mentee(mentee))
    await privacy.complete(erasure_id)
    done = await client.get(f"/privacy/requests/{erasure_id}")
    assert "Erasure certificate" in done.text and "Marketing" in done.text


async def test_an_erasure_with_no_hold_says_nothing_is_held(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in("mentee", sub=new_mentee())
    confirmation = await client.get("/privacy/requests/erasure")
    assert "nothing is kept under a legal hold" in confirmation.text
    assert "Everything you allow now is switched off: Product analytics." in confirmation.text


async def test_a_bad_description_comes_back_and_files_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    mentee = new_mentee()
    await sign_in("mentee", sub=mentee)
    for path, page in (
        ("/privacy/requests", "/privacy/requests"),
        ("/privacy/requests/erasure", "/privacy/requests/erasure"),
    ):
        for description in ("nul\x00here", "x" * 5001):
            answer = await _post(client, path, {"description": description}, page)
            assert answer.status_code == 422, (path, description)
            assert 'href="#field-description"' in answer.text
    assert (await client.get("/api/v1/privacy/requests", headers=privacy.mentee(mentee))).json()["items"] == []


async def test_a_mentee_withdraws_a_request_but_not_one_that_moved_on(
    client: httpx.AsyncClient, sign_in: SignIn, privacy: Privacy
) -> None:
    mentee = new_mentee()
    await sign_in("mentee", sub=mentee)
    filed = await privacy.file(mentee, "access")
    page = await client.get(f"/privacy/requests/{filed['id']}")
    assert "Withdraw this request" in page.text
    withdrawn = await client.post(
        f"/privacy/requests/{filed['id']}/withdrawal", data={"_csrf_token": csrf_of(page), "version": "1"}
    )
    assert withdrawn.status_code == 303
    after = await client.get(f"/privacy/requests/{filed['id']}")
    assert "Withdrawn" in after.text and "Withdraw this request" not in after.text
    other = await privacy.file(mentee, "access")
    await privacy.move(other["id"], "in_progress")
    stale = await client.post(
        f"/privacy/requests/{other['id']}/withdrawal", data={"_csrf_token": csrf_of(page), "version": "1"}
    )
    assert stale.status_code == 409 and "has moved on since you opened it" in stale.text
    assert (await client.get(f"/api/v1/privacy/requests/{other['id']}", headers=privacy.mentee(mentee))).json()[
        "state"
    ] == "in_progress"


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"mentee"}))
async def test_only_a_mentee_reaches_the_mentee_pages(client: httpx.AsyncClient, sign_in: SignIn, role: str) -> None:
    await sign_in(role, sub=f"{role}-pages")
    for path in ("/privacy", "/privacy/history", "/privacy/requests", "/privacy/requests/erasure"):
        answer = await client.get(path)
        assert answer.status_code == 403, (role, path)
        assert "You may not see this page" in answer.text


async def test_a_signed_out_visitor_is_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    answer = await client.get("/privacy/requests")
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in?next=%2Fprivacy%2Frequests"


async def test_the_notices_are_public_in_every_language(client: httpx.AsyncClient) -> None:
    english = await client.get("/privacy/notices")
    assert english.status_code == 200
    assert "Privacy notices" in english.text and "Sign out" not in english.text
    assert "Share profile with recruiters" in english.text
    assert "We show your profile and readiness summary to recruiters working with the platform." in english.text
    assert "Our legitimate interests" in english.text and "Yes: Global Privacy Control switches it off" in english.text
    assert "Access and portability export files in the object store." in english.text
    assert "1, published 2026-11-01" in english.text
    french = await client.get("/privacy/notices", params={"lang": "fr"})
    assert "Nous montrons votre profil et votre niveau de préparation aux recruteurs partenaires." in french.text
