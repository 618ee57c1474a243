"""The shell around every page: languages, static files, headers, errors, forms, the sweep."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import msgspec
import pytest
from click.testing import CliRunner
from litestar.datastructures import FormMultiDict

from governance.app import create_app
from governance.cli import main
from governance.core import db, limits
from governance.core.clock import ManualClock
from governance.core.identity import SYSTEM, Identity
from governance.core.shapes import Input
from governance.settings import Settings
from governance.web import i18n, sessions
from governance.web.config import Web
from governance.web.forms import decode_form
from governance.web.rendering import STATIC_DIR, static_url
from governance.web.security import local_path

from .conftest import Entries, SignIn

STATIC = Path(STATIC_DIR)


async def test_the_language_follows_the_browser_then_the_switch(client: httpx.AsyncClient) -> None:
    english = await client.get("/sign-in")
    assert '<html lang="en">' in english.text and 'hreflang="fr"' in english.text
    french = await client.get("/sign-in", headers={"Accept-Language": "fr-CA, fr;q=0.9, en;q=0.5"})
    assert '<html lang="fr">' in french.text
    assert "Se connecter" in french.text and "Aller au contenu principal" in french.text
    switched = await client.get("/sign-in", params={"lang": "fr", "next": "/privacy"})
    assert '<html lang="fr">' in switched.text
    assert any(c.startswith("governance-lang=fr") for c in switched.headers.get_list("set-cookie"))
    assert 'href="/sign-in?next=%2Fprivacy&amp;lang=en"' in switched.text
    remembered = await client.get("/sign-in", headers={"Accept-Language": "en"})
    assert '<html lang="fr">' in remembered.text, "an explicit choice outlasts the browser's preference"
    unknown = await client.get("/sign-in", params={"lang": "xx"}, headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in unknown.text


async def test_errors_are_pages_in_the_language_of_the_request(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    missing = await client.get("/no-such-page", headers={"Accept-Language": "fr"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in missing.text
    assert missing.headers["content-security-policy"].startswith("default-src 'self'")
    api_missing = await client.get("/api/v1/no-such-route")
    assert api_missing.status_code == 404
    assert api_missing.headers["content-type"].startswith("application/problem+json")
    wrong_method = await client.delete("/sign-in")
    assert wrong_method.status_code == 405 and "<html" in wrong_method.text
    await sign_in("compliance_officer", sub="officer-errors")
    denied = await client.get("/privacy")
    assert denied.status_code == 403
    assert "You may not see this page" in denied.text and "Signed in as officer-errors" in denied.text


async def test_every_page_is_free_of_inline_script_and_style(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    pages = [await client.get("/sign-in"), await client.get("/nowhere")]
    await sign_in("mentee", sub="mentee-inline")
    pages += [await client.get("/privacy"), await client.get("/privacy", headers={"HX-Request": "true"})]
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "an inline script"
        assert not re.search(r"\sstyle=|<style", page.text), "an inline style"
        assert not re.search(r"\son[a-z]+=", page.text), "an inline event handler"
        assert "hx-on" not in page.text


async def test_static_files_are_served_by_the_service_cached_for_a_year(client: httpx.AsyncClient) -> None:
    for name in ("htmx.min.js", "governance.css"):
        url = static_url(name)
        assert re.fullmatch(rf"/static/{re.escape(name)}\?v=[0-9a-f]{{12}}", url)
        served = await client.get(url)
        assert served.status_code == 200
        assert served.content == (STATIC / name).read_bytes()
        assert "max-age=31536000" in served.headers["cache-control"]
        assert "immutable" in served.headers["cache-control"]
        assert served.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/static/../settings.py")).status_code == 404


def test_the_vendored_htmx_is_the_one_its_readme_names() -> None:
    for line in (STATIC / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
    assert "htmx.org@2.0.11" in (STATIC / "README.md").read_text()
    assert 'version:"2.0.11"' in (STATIC / "htmx.min.js").read_text().replace(" ", "")


async def test_cookies_are_secure_and_host_prefixed_when_the_service_is_public_over_https(
    settings: Settings, module_clock: ManualClock, database: Settings
) -> None:
    public = msgspec.structs.replace(settings, public_url="https://governance.example")
    app = create_app(public, clock=module_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://governance.example") as http:
        page = await http.get("/sign-in")
        [pre_session] = page.headers.get_list("set-cookie")
        assert pre_session.startswith("__Host-governance-csrf=") and "Secure" in pre_session and "Path=/" in pre_session
        web = Web.configure(public)
        token = (
            await sessions.open_session(
                web, Identity(sub="https-user", roles=("auditor",)), module_clock.now(), kind="staff", method="token"
            )
        ).secret
        http.cookies.set("governance-session", token)
        assert (await http.get("/")).status_code == 303, "over https only the __Host- cookie counts"
        http.cookies.clear()
        http.cookies.set("__Host-governance-session", token)
        assert (await http.get("/")).status_code == 200


async def test_the_sweep_deletes_expired_and_signed_out_sessions_and_spent_links(
    web: Web, clock: ManualClock, database: Settings, entries: Entries
) -> None:
    alive = await sessions.open_session(
        web, Identity(sub="sweep-alive", roles=("auditor",)), clock.now(), kind="staff", method="token"
    )
    gone = await sessions.open_session(
        web, Identity(sub="sweep-gone", roles=("auditor",)), clock.now(), kind="staff", method="token"
    )
    await sessions.sign_out(gone, clock.now())
    link = await sessions.issue_link(
        web, Identity(sub="sweep-link", roles=("auditor",)), clock.now(), kind="staff", issued_by=SYSTEM
    )
    swept = await sessions.purge(clock.now())
    assert swept.sessions >= 1
    assert await sessions.find(alive.secret, clock.now()) is not None
    assert (await sessions.look_up_link(link.url.rsplit("/", 1)[1], clock.now())).state == "valid"
    later = clock.now() + web.session_lifetime + timedelta(seconds=1)
    swept_later = await sessions.purge(later)
    assert swept_later.sessions >= 1 and swept_later.links >= 1
    assert (await sessions.look_up_link(link.url.rsplit("/", 1)[1], later)).state == "unknown"
    assert (await entries("web.sessions.purged"))[-1]["details"] == {
        "sessions": swept_later.sessions,
        "links": swept_later.links,
    }


def test_token_link_prints_a_link_that_signs_in_once(settings: Settings) -> None:
    result = CliRunner().invoke(
        main, ["token", "link", "--sub", "officer-cli", "--role", "compliance_officer"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/sign-in/link/[A-Za-z0-9_-]{43}\n", result.stdout)
    assert "single use, valid until" in result.stderr
    refused = CliRunner().invoke(main, ["token", "link", "--sub", "x", "--role", "wizard"])
    assert refused.exit_code == 2 and "unknown role" in refused.stderr

    async def look() -> sessions.LinkLook:
        await db.start(settings)
        try:
            return await sessions.look_up_link(result.stdout.strip().rsplit("/", 1)[1], datetime.now(UTC))
        finally:
            await db.stop()

    assert asyncio.run(look()) == sessions.LinkLook("valid", "staff", None, asyncio.run(look()).id)


class Filing(Input):
    subject: Annotated[str, limits.identifier(20)]
    details: Annotated[str, limits.text(50)]
    count: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    tags: list[Annotated[str, limits.identifier(10)]] = msgspec.field(default_factory=list)


def test_a_form_decodes_into_its_input_with_every_error_beside_its_field() -> None:
    good = decode_form(
        FormMultiDict([("subject", "m-1"), ("details", "fine"), ("count", "3"), ("tags", "a"), ("tags", "b")]), Filing
    )
    assert good.valid and good.data == Filing(subject="m-1", details="fine", count=3, tags=["a", "b"])
    bad = decode_form(
        FormMultiDict([("subject", "x\x00y"), ("details", "d" * 51), ("count", "9"), ("_csrf_token", "t")]), Filing
    )
    assert not bad.valid
    assert set(bad.errors) == {"subject", "details", "count"}
    assert bad.errors["details"] == "Use at most 50 characters."
    assert bad.errors["count"] == "Enter a number no greater than 5."
    assert "control characters" in bad.errors["subject"]
    assert bad.value("details") == "d" * 51, "what was typed is shown again"
    empty = decode_form(FormMultiDict([("subject", ""), ("details", "")]), Filing)
    assert empty.errors == {"subject": "Enter a value.", "details": "Enter a value."}
    twice = decode_form(FormMultiDict([("subject", "a"), ("subject", "b"), ("details", "x")]), Filing)
    assert set(twice.errors) == {"subject"}
    extra = decode_form(FormMultiDict([("subject", "a"), ("details", "x"), ("admin", "1")]), Filing)
    assert "" in extra.errors
    with i18n.speaking(i18n.Catalogs().get("fr") or i18n.active()):
        french = decode_form(FormMultiDict([("subject", "a"), ("details", "")]), Filing)
    assert french.errors == {"details": "Saisissez une valeur."}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/privacy?lang=fr", "/privacy?lang=fr"),
        ("/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("evil.example", "/"),
        ("/a\x00b", "/"),
        (None, "/"),
    ],
)
def test_local_path_allows_only_paths_on_this_service(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


async def test_an_unexpected_failure_is_a_500_page_that_keeps_its_internals(
    web: Web, clock: ManualClock, database: Settings
) -> None:
    policies = database.effective_policy_dir
    from litestar import Litestar, get
    from litestar.datastructures import State

    from governance.core.authz import Authorizer
    from governance.web.shell import Shell
    from governance.wiring import record_denial

    @get("/boom", exclude_from_auth=True)
    async def boom() -> None:
        raise RuntimeError("secret internals")

    authorizer = Authorizer(policies, on_denied=record_denial)
    app = Litestar(plugins=[Shell(web, authorizer, clock, pages=[boom])], state=State({"authorizer": authorizer}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        failed = await http.get("/boom")
    assert failed.status_code == 500
    assert "Something went wrong on our side" in failed.text and "Nothing was changed" in failed.text
    assert "secret internals" not in failed.text
    assert failed.headers["content-security-policy"].startswith("default-src")
