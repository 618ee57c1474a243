"""Helpers for the pages: a browser-like client that signs in, and the audit entries it left."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from governance.app import create_app
from governance.core.clock import ManualClock
from governance.core.identity import Identity
from governance.settings import Settings
from governance.web import sessions
from governance.web.config import Web

from ..conftest import AuthHeaders

RETURN_URL = "https://platform.example/account/privacy"
SESSION = "governance-session"
CSRF_VALUE = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def portal_settings(settings: Settings) -> Settings:
    """The test settings with one portal return URL prefix allowed (and room for many sign-ins)."""
    return msgspec.structs.replace(
        settings, portal_return_urls=("https://platform.example/account",), sign_in_rate_limit=1000
    )


@pytest.fixture(scope="module")
def app(portal_settings: Settings, module_clock: ManualClock) -> Litestar:
    return create_app(portal_settings, clock=module_clock)


@pytest.fixture
def web(portal_settings: Settings) -> Web:
    return Web.configure(portal_settings)


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a page put in its forms."""
    found = CSRF_VALUE.search(page.text)
    assert found, "the page has no form token"
    return found.group(1)


SignIn = Callable[..., Awaitable[sessions.Session]]


@pytest.fixture
def sign_in(client: httpx.AsyncClient, web: Web, clock: ManualClock) -> SignIn:
    """``await sign_in("compliance_officer", sub="o-1")``: a session for the client (its cookie set)."""

    async def open_one(*roles: str, sub: str = "tester", kind: sessions.Kind = "staff") -> sessions.Session:
        session = await sessions.open_session(
            web, Identity(sub=sub, roles=roles), clock.now(), kind=kind, method="token"
        )
        client.cookies.set(SESSION, session.secret)
        return session

    return open_one


Entries = Callable[..., Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def entries(app: Litestar, auth: AuthHeaders) -> Entries:
    """The audit entries of ``action`` (newest last), read as an auditor through the API."""

    async def find(action: str, **filters: str) -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as reader:
            found = await reader.get(
                "/api/v1/audit/entries", params={"action": action, "limit": "200", **filters}, headers=auth("auditor")
            )
        assert found.status_code == 200, found.text
        items: list[dict[str, Any]] = found.json()["items"]
        return items

    return find
