"""Public policy pages keep their rendered document per language for signed-out readers,
and nothing else: the layout (CSRF token, language switch) is each request's, a signed-in
reader gets the page rendered for them, and a new configuration is never answered with the
old document."""

from __future__ import annotations

import dataclasses
import re

import httpx
import pytest
from litestar import Litestar

from governance.app import application
from governance.bootstrap import Services
from governance.core.identity import Identity
from governance.web import sessions
from governance.web.security import csrf_token

from .conftest import SESSION

TOKEN = re.compile(r'"X-CSRF-Token": "([0-9a-f]+)"')


@pytest.fixture(scope="module")
def app(services: Services) -> Litestar:
    # This module changes its services' configuration: the application is built on them.
    return application(services)


def _token(page: httpx.Response) -> str:
    found = TOKEN.search(page.text.replace("&#34;", '"'))
    assert found, "the page carries its CSRF token"
    return found.group(1)


def _main(page: httpx.Response) -> str:
    return page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("path", ["/escalation", "/privacy/notices"])
async def test_each_language_gets_its_own_document_and_each_browser_its_own_token(
    client: httpx.AsyncClient, path: str
) -> None:
    english = await client.get(path)
    french = await client.get(path, params={"lang": "fr"})
    client.cookies.clear()
    english_again = await client.get(path, params={"lang": "en"})

    assert 'lang="fr"' in french.text and 'lang="en"' in english_again.text
    if path == "/privacy/notices":  # the escalation path is not translated yet
        assert _main(french) != _main(english), "the French reader gets the French document"
    assert _main(english_again) == _main(english)
    # Each browser's token is derived from its own CSRF cookie: the layout is not kept.
    for page in (english, english_again):
        assert _token(page) == csrf_token(page.cookies["governance-csrf"])
    assert _token(english) != _token(english_again)


async def test_an_htmx_request_gets_the_kept_document_only(client: httpx.AsyncClient) -> None:
    whole = await client.get("/escalation")
    fragment = await client.get("/escalation", headers={"HX-Request": "true"})

    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.strip() in whole.text


async def test_a_signed_in_reader_gets_the_page_rendered_for_them(
    client: httpx.AsyncClient, services: Services
) -> None:
    await client.get("/escalation")
    session = await sessions.open_session(
        services.web,
        Identity(sub="officer-7", roles=("compliance_officer",)),
        services.clock.now(),
        kind=sessions.STAFF,
        method="token",
    )
    client.cookies.clear()
    client.cookies.set(SESSION, session.secret)

    page = await client.get("/escalation")

    assert "Signed in as officer-7" in page.text and "Sign out" in page.text
    assert _token(page) == csrf_token(session.secret)


async def test_a_new_configuration_is_never_answered_with_the_kept_document(
    client: httpx.AsyncClient, services: Services
) -> None:
    before = await client.get("/privacy/notices")
    privacy = services.privacy
    kept = privacy.policy
    assert kept.controller in before.text
    try:
        # As a configuration reloaded in place would: same service, a new policy object.
        object.__setattr__(privacy, "policy", dataclasses.replace(kept, controller="Another Controller Ltd"))
        after = await client.get("/privacy/notices")
    finally:
        object.__setattr__(privacy, "policy", kept)

    assert "Another Controller Ltd" in after.text and kept.controller not in after.text
    assert kept.controller in (await client.get("/privacy/notices")).text
