"""Signing in and out of the pages, as a person would and as an attacker would."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import msgspec
import pytest

from governance.app import create_app
from governance.core import cache
from governance.core.clock import ManualClock
from governance.settings import Settings
from governance.web import sessions
from governance.web.config import Web
from governance.web.security import CONTENT_SECURITY_POLICY, csrf_token
from governance.web.tables import WebSession

from ..conftest import AuthHeaders
from .conftest import SESSION, Entries, SignIn, csrf_of


async def test_a_signed_out_visitor_is_sent_to_sign_in_with_the_page_to_come_back_to(
    client: httpx.AsyncClient,
) -> None:
    home = await client.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/sign-in")
    privacy = await client.get("/privacy?lang=fr")
    assert privacy.status_code == 303
    assert privacy.headers["location"] == "/sign-in?next=%2Fprivacy%3Flang%3Dfr"


async def test_the_sign_in_page_is_a_page_with_its_safety_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-in", params={"next": "/privacy"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="en">' in page.text
    assert 'name="next" value="/privacy"' in page.text
    assert '<a class="skip-link" href="#main">' in page.text and '<main id="main"' in page.text
    # Before sign-in, forms are bound to a pre-session cookie (HttpOnly, SameSite=Lax).
    [pre_session] = page.headers.get_list("set-cookie")
    assert pre_session.startswith("governance-csrf=")
    assert "HttpOnly" in pre_session and "SameSite=lax" in pre_session and "Secure" not in pre_session
    assert csrf_of(page) == csrf_token(client.cookies["governance-csrf"])


async def test_a_token_from_the_identity_provider_opens_a_session_and_it_is_audited(
    client: httpx.AsyncClient, auth: AuthHeaders, entries: Entries
) -> None:
    form = await client.get("/sign-in")
    token = auth("compliance_officer", sub="officer-sign-in")["Authorization"].removeprefix("Bearer ")
    signed = await client.post("/sign-in", data={"_csrf_token": csrf_of(form), "token": token, "next": "/privacy?x=1"})
    assert (signed.status_code, signed.headers["location"]) == (303, "/privacy?x=1")
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{SESSION}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie
    home = await client.get("/")
    assert home.status_code == 200
    assert "Signed in as officer-sign-in" in home.text
    assert home.headers["cache-control"] == "no-store"
    [entry] = await entries("web.session.signed_in", actor="officer-sign-in")
    assert entry["details"]["method"] == "token"
    assert entry["details"]["kind"] == "staff"
    assert token not in str(entry) and client.cookies[SESSION] not in str(entry)


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil", "/\t/evil.example"],
)
async def test_next_never_leads_to_another_site(client: httpx.AsyncClient, auth: AuthHeaders, target: str) -> None:
    form = await client.get("/sign-in", params={"next": target})
    if "\t" in target:
        assert form.status_code == 400  # refused at the edge, like any control character
        form = await client.get("/sign-in")
    assert 'name="next" value="/"' in form.text
    token = auth("support_agent", sub="agent-next")["Authorization"].removeprefix("Bearer ")
    signed = await client.post("/sign-in", data={"_csrf_token": csrf_of(form), "token": token, "next": target})
    assert (signed.status_code, signed.headers["location"]) == (303, "/")


async def test_a_bad_token_shows_the_form_again_with_the_error_beside_it(
    client: httpx.AsyncClient, settings: Settings, entries: Entries
) -> None:
    form = await client.get("/sign-in")
    before = len(await entries("web.sign_in.failed"))
    refused = await client.post("/sign-in", data={"_csrf_token": csrf_of(form), "token": "eyJ.not.a-token"})
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text
    assert 'aria-describedby="field-token-help field-token-error"' in refused.text
    assert 'id="field-token-error"' in refused.text and "This token was not accepted" in refused.text
    assert SESSION not in client.cookies
    failures = await entries("web.sign_in.failed")
    assert len(failures) == before + 1
    assert failures[-1]["outcome"] == "failure" and failures[-1]["details"]["reason"] == "invalid_token"
    assert "eyJ.not.a-token" not in str(failures[-1])


@pytest.mark.parametrize(
    ("token", "message"),
    [("eyJ\x00abc", "printable"), ("e" * 9000, "at most 8192"), ("", "Enter a value")],
)
async def test_a_malformed_field_is_refused_beside_it_never_a_500(
    client: httpx.AsyncClient, token: str, message: str
) -> None:
    form = await client.get("/sign-in")
    refused = await client.post("/sign-in", data={"_csrf_token": csrf_of(form), "token": token})
    assert refused.status_code == 422
    assert message in refused.text
    assert SESSION not in client.cookies


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, auth: AuthHeaders, entries: Entries
) -> None:
    await client.get("/sign-in")
    token = auth("auditor", sub="auditor-no-csrf")["Authorization"].removeprefix("Bearer ")
    refused = await client.post("/sign-in", data={"token": token})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "This form has expired" in refused.text
    assert SESSION not in client.cookies
    assert await entries("web.session.signed_in", actor="auditor-no-csrf") == []


async def test_another_sessions_csrf_token_is_refused(
    client: httpx.AsyncClient, sign_in: SignIn, web: Web, clock: ManualClock
) -> None:
    other = await sessions.open_session(
        web, sessions.Identity(sub="someone-else", roles=("auditor",)), clock.now(), kind="staff", method="token"
    )
    mine = await sign_in("auditor", sub="csrf-victim")
    forged = await client.post("/sign-out", data={"_csrf_token": csrf_token(other.secret)})
    assert forged.status_code == 403
    forged_header = await client.post("/sign-out", headers={"X-CSRF-Token": csrf_token(other.secret)})
    assert forged_header.status_code == 403
    still = await client.get("/")
    assert still.status_code == 200, "the refused sign-out changed nothing"
    signed_out = await client.post("/sign-out", headers={"X-CSRF-Token": csrf_token(mine.secret)})
    assert signed_out.status_code == 200


async def test_sign_out_revokes_the_session_on_the_server(
    client: httpx.AsyncClient, sign_in: SignIn, entries: Entries
) -> None:
    session = await sign_in("support_agent", sub="agent-out")
    page = await client.get("/")
    signed_out = await client.post("/sign-out", data={"_csrf_token": csrf_of(page)})
    assert signed_out.status_code == 200
    assert "You have signed out" in signed_out.text
    assert "Signed in as" not in signed_out.text
    assert any(c.startswith(f"{SESSION}=") and "Max-Age=0" in c for c in signed_out.headers.get_list("set-cookie"))
    [entry] = await entries("web.session.signed_out", actor="agent-out")
    assert entry["details"] == {"kind": "staff", "reason": "signed_out"}
    # The same cookie, kept by an attacker, opens nothing.
    client.cookies.set(SESSION, session.secret)
    replay = await client.get("/")
    assert (replay.status_code, replay.headers["location"]) == (303, "/sign-in")
    assert any(c.startswith(f"{SESSION}=") and "Max-Age=0" in c for c in replay.headers.get_list("set-cookie"))


async def test_a_session_signed_out_elsewhere_opens_nothing_here(
    client: httpx.AsyncClient, sign_in: SignIn, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page requests keep session rows in the process (sessions.session_cache): a sign-out
    by another instance, or by hand in the database, still ends the session here."""
    # A key this process just announced is read through for a few seconds: not in this test.
    monkeypatch.setattr(cache, "UNSETTLED_SECONDS", 0.0)
    session = await sign_in("support_agent", sub="agent-elsewhere")
    assert (await client.get("/")).status_code == 200  # the row is now kept here
    # Another process's write: no announcement reaches this one, only the database changes.
    await WebSession.update({WebSession.revoked_at: clock.now()}).where(WebSession.id == session.id)
    # SQLite's "anything committed?" answer is reused for a millisecond (governance.core.cache).
    await asyncio.sleep(0.01)
    replay = await client.get("/")
    assert (replay.status_code, replay.headers["location"]) == (303, "/sign-in")


@pytest.mark.parametrize("forged", ["x", "A" * 43, "../../etc/passwd", "-" * 43, "%00" * 15])
async def test_a_forged_or_tampered_cookie_opens_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, forged: str
) -> None:
    session = await sign_in("compliance_officer", sub="officer-tamper")
    tampered = session.secret[:-1] + ("A" if session.secret[-1] != "A" else "B")
    for value in (forged, tampered):
        client.cookies.set(SESSION, value)
        answer = await client.get("/")
        assert (answer.status_code, answer.headers["location"]) == (303, "/sign-in")


async def test_a_session_ends_when_its_lifetime_or_its_token_does(
    client: httpx.AsyncClient, sign_in: SignIn, auth: AuthHeaders, clock: ManualClock, web: Web
) -> None:
    await sign_in("auditor", sub="auditor-expiry")
    clock.advance(web.session_lifetime + timedelta(seconds=1))
    assert (await client.get("/")).status_code == 303


async def test_a_session_never_outlives_the_token_it_was_opened_with(
    client: httpx.AsyncClient, auth: AuthHeaders, clock: ManualClock
) -> None:
    form = await client.get("/sign-in")
    headers = auth("auditor", sub="auditor-short", ttl=timedelta(minutes=2))
    token = headers["Authorization"].removeprefix("Bearer ")
    signed = await client.post("/sign-in", data={"_csrf_token": csrf_of(form), "token": token})
    assert signed.status_code == 303
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{SESSION}="))
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert max_age <= 120


async def test_an_htmx_request_gets_the_fragment_and_a_signed_out_one_is_sent_to_sign_in(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    fragment = await client.get("/sign-in", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<form" in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    boosted = await client.get("/sign-in", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text
    signed_out = await client.get("/privacy", headers={"HX-Request": "true"})
    assert signed_out.status_code == 401
    assert signed_out.headers["hx-redirect"] == "/sign-in?next=%2Fprivacy"


async def test_a_bearer_token_does_not_open_the_pages_and_a_session_does_not_open_the_api(
    client: httpx.AsyncClient, sign_in: SignIn, auth: AuthHeaders
) -> None:
    with_bearer = await client.get("/", headers=auth("compliance_officer"))
    assert with_bearer.status_code == 303
    await sign_in("compliance_officer", sub="officer-api")
    api = await client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_sign_in_attempts_are_limited_per_client_address(
    settings: Settings, module_clock: ManualClock, database: Settings
) -> None:
    app = create_app(msgspec.structs.replace(settings, sign_in_rate_limit=2), clock=module_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        form = await http.get("/sign-in")
        answers = [
            await http.post("/sign-in", data={"_csrf_token": csrf_of(form), "token": "eyJ.bad"}) for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [422, 422, 429]
        assert "Too many requests" in answers[-1].text
        assert int(answers[-1].headers["retry-after"]) > 0
        assert (await http.get("/sign-in")).status_code == 200, "reading the page is not an attempt"
