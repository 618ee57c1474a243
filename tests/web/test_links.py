"""One-time sign-in links: staff links from the command line, mentee portal links from the platform."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from governance.core.clock import ManualClock
from governance.core.identity import SYSTEM, Identity
from governance.web import sessions
from governance.web.config import Web

from ..conftest import AuthHeaders
from .conftest import RETURN_URL, SESSION, Entries, csrf_of


async def staff_link(web: Web, clock: ManualClock, sub: str, *roles: str) -> str:
    link = await sessions.issue_link(
        web, Identity(sub=sub, roles=roles), clock.now(), kind=sessions.STAFF, issued_by=SYSTEM
    )
    return link.url.removeprefix(web.public_url)


async def test_a_link_page_uses_nothing_up_and_its_button_signs_in_once(
    client: httpx.AsyncClient, web: Web, clock: ManualClock, entries: Entries
) -> None:
    path = await staff_link(web, clock, "officer-link", "compliance_officer")
    assert path.startswith("/sign-in/link/")
    for _ in range(3):  # link checkers and mail scanners fetch it first
        page = await client.get(path)
        assert page.status_code == 200
        assert "Continue" in page.text
    redeemed = await client.post(path, data={"_csrf_token": csrf_of(page)})
    assert (redeemed.status_code, redeemed.headers["location"]) == (303, "/")
    home = await client.get("/")
    assert "Signed in as officer-link" in home.text
    [entry] = await entries("web.session.signed_in", actor="officer-link")
    assert entry["details"]["method"] == "link"
    # A used link, replayed, opens nothing and says so.
    client.cookies.clear()
    again = await client.get(path)
    assert again.status_code == 410 and "already been used" in again.text
    replay = await client.post(path, data={"_csrf_token": csrf_of(await client.get("/sign-in"))})
    assert replay.status_code == 410
    assert SESSION not in client.cookies
    failures = await entries("web.sign_in.failed")
    assert failures[-1]["details"]["reason"] == "link_used"
    assert path.rsplit("/", 1)[1] not in str(failures[-1])


async def test_an_expired_link_opens_nothing(
    client: httpx.AsyncClient, web: Web, clock: ManualClock, entries: Entries
) -> None:
    path = await staff_link(web, clock, "agent-late", "support_agent")
    page = await client.get(path)
    clock.advance(web.link_lifetime + timedelta(seconds=1))
    late = await client.post(path, data={"_csrf_token": csrf_of(page)})
    assert late.status_code == 410 and "expired" in late.text
    assert (await entries("web.sign_in.failed"))[-1]["details"]["reason"] == "link_expired"


async def test_an_unknown_link_is_not_found(client: httpx.AsyncClient, entries: Entries) -> None:
    page = await client.get("/sign-in/link/" + "A" * 43)
    assert page.status_code == 404 and "not valid" in page.text
    refused = await client.post("/sign-in/link/nonsense", data={"_csrf_token": csrf_of(await client.get("/sign-in"))})
    assert refused.status_code == 404
    assert (await entries("web.sign_in.failed"))[-1]["details"]["reason"] == "link_unknown"


async def test_two_redemptions_of_one_link_open_one_session(web: Web, clock: ManualClock, database: object) -> None:
    link = await sessions.issue_link(
        web, Identity(sub="racer", roles=("auditor",)), clock.now(), kind=sessions.STAFF, issued_by=SYSTEM
    )
    secret = link.url.rsplit("/", 1)[1]
    import asyncio

    results = await asyncio.gather(
        *(sessions.redeem_link(web, secret, clock.now()) for _ in range(4)), return_exceptions=True
    )
    opened = [r for r in results if isinstance(r, sessions.Session)]
    assert len(opened) == 1
    assert all(isinstance(r, sessions.LinkRefused) for r in results if r not in opened)


def portal_body(mentee: str = "mentee-portal-1", return_url: str = RETURN_URL) -> dict[str, str]:
    return {"mentee_id": mentee, "return_url": return_url}


async def test_the_platform_opens_a_portal_session_for_one_mentee(
    client: httpx.AsyncClient, auth: AuthHeaders, web: Web, entries: Entries
) -> None:
    created = await client.post(
        "/api/v1/privacy/portal-sessions", json=portal_body(), headers=auth("platform", sub="platform-1")
    )
    assert created.status_code == 201, created.text
    answer = created.json()
    assert set(answer) == {"url", "expires_at"}
    assert answer["url"].startswith(f"{web.public_url}/sign-in/link/")
    [issued] = [
        e
        for e in await entries("web.sign_in_link.issued", actor="platform-1")
        if e["details"]["subject"] == "mentee-portal-1"
    ]
    assert issued["details"]["kind"] == "portal"
    assert issued["details"]["return_origin"] == "https://platform.example"
    assert answer["url"].rsplit("/", 1)[1] not in str(issued)

    path = answer["url"].removeprefix(web.public_url)
    page = await client.get(path)
    assert page.status_code == 200 and "Your privacy settings" in page.text
    opened = await client.post(path, data={"_csrf_token": csrf_of(page)})
    assert (opened.status_code, opened.headers["location"]) == (303, "/")
    home = await client.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/privacy")
    privacy = await client.get("/privacy")
    assert privacy.status_code == 200
    assert "Your privacy" in privacy.text and "Share attestations with employers" in privacy.text
    assert f'href="{RETURN_URL}"' in privacy.text and "Back to platform.example" in privacy.text
    # The portal session is that one mentee's, on the pages only: the API wants a bearer token.
    theirs = await client.get("/api/v1/privacy/mentees/mentee-portal-2/preferences")
    assert theirs.status_code == 401
    [signed_in] = await entries("web.session.signed_in", actor="mentee-portal-1")
    assert signed_in["details"]["kind"] == "portal" and signed_in["details"]["method"] == "portal_link"
    signed_out = await client.post("/sign-out", data={"_csrf_token": csrf_of(privacy)})
    assert f'href="{RETURN_URL}"' in signed_out.text


async def test_a_used_portal_link_says_to_go_back_to_the_platform(
    client: httpx.AsyncClient, auth: AuthHeaders, web: Web
) -> None:
    created = await client.post(
        "/api/v1/privacy/portal-sessions", json=portal_body("mentee-portal-3"), headers=auth("platform")
    )
    path = created.json()["url"].removeprefix(web.public_url)
    page = await client.get(path)
    assert (await client.post(path, data={"_csrf_token": csrf_of(page)})).status_code == 303
    client.cookies.clear()
    used = await client.get(path)
    assert used.status_code == 410
    assert "Go back to the platform" in used.text and f'href="{RETURN_URL}"' in used.text


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/account",
        "https://platform.example.evil.example/account",
        "https://platform.example@evil.example/account",
        "https://user@platform.example/account",
        "http://platform.example/account",
        "https://platform.example:8443/account",
        "https://platform.example/accounting",
        "https://platform.example/",
        "javascript:alert(1)",
        "//platform.example/account",
    ],
)
async def test_a_return_url_outside_the_allowlist_is_refused(
    client: httpx.AsyncClient, auth: AuthHeaders, return_url: str
) -> None:
    refused = await client.post(
        "/api/v1/privacy/portal-sessions", json=portal_body(return_url=return_url), headers=auth("platform")
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"][0]["field"] == "return_url"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mentee_id": "", "return_url": RETURN_URL}, "mentee_id"),
        ({"mentee_id": "m\u0000", "return_url": RETURN_URL}, "mentee_id"),
        ({"mentee_id": "m" * 201, "return_url": RETURN_URL}, "mentee_id"),
        ({"mentee_id": "m", "return_url": RETURN_URL + "\n"}, "return_url"),
        ({"mentee_id": "m"}, "return_url"),
    ],
)
async def test_bad_portal_requests_are_problems_naming_the_field(
    client: httpx.AsyncClient, auth: AuthHeaders, body: dict[str, str], field: str
) -> None:
    refused = await client.post("/api/v1/privacy/portal-sessions", json=body, headers=auth("platform"))
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["field"] == field


async def test_no_allowlist_means_no_portal_sessions(web: Web, clock: ManualClock) -> None:
    from dataclasses import replace

    from governance.core.errors import Problem

    closed = replace(web, return_urls=())
    with pytest.raises(Problem) as refused:
        await sessions.issue_portal_link(closed, "m-1", RETURN_URL, Identity(sub="p", roles=("platform",)), clock.now())
    assert refused.value.status_code == 422
    assert "GOVERNANCE_PORTAL_RETURN_URLS" in str(refused.value.extra)


async def test_a_mentee_sees_only_their_own_privacy_and_no_staff_page(
    client: httpx.AsyncClient, auth: AuthHeaders, web: Web, clock: ManualClock, entries: Entries
) -> None:
    await client.put(
        "/api/v1/privacy/mentees/mentee-other/preferences",
        json={"preferences": {"marketing": "opt_in"}},
        headers=auth("platform"),
    )
    session = await sessions.open_session(
        web, Identity(sub="mentee-mine", roles=("mentee",)), clock.now(), kind=sessions.PORTAL, method="portal_link"
    )
    client.cookies.set(SESSION, session.secret)
    mine = await client.get("/privacy")
    assert mine.status_code == 200
    assert "Never chosen" in mine.text  # mentee-other's opt-in is not shown here
    assert "mentee-other" not in mine.text
    # A page of another kind of role, guarded like the API: a 403 page, the denial audited.
    staff = await sessions.open_session(
        web, Identity(sub="officer-x", roles=("compliance_officer",)), clock.now(), kind="staff", method="token"
    )
    client.cookies.set(SESSION, staff.secret)
    denied = await client.get("/privacy")
    assert denied.status_code == 403 and "You may not see this page" in denied.text
    assert (await entries("access.denied", actor="officer-x"))[-1]["resource"]["id"] == "GET /privacy"
