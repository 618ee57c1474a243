"""Browser tests: a real server process, Debian's Chromium driven by Playwright (sync API).

- ``server`` (session): ``governance serve`` on 127.0.0.1 on a free port, with its own
  data directory and database (a SQLite file; on the PostgreSQL run, the suite's database
  name with ``_server`` appended, created for it and dropped at the end). ``server.cli(...)``
  runs the command line against it, ``server.token(sub, *roles)`` prints a bearer token,
  ``server.client(token)`` is an httpx client on it.
- ``browser`` (package): Chromium launched from ``$CHROMIUM`` (``/usr/bin/chromium``);
  Playwright's own browser download is unreachable here.
- ``page``: a fresh context (no cookies) at the desktop viewport, its base URL the
  server's; ``new_page(...)`` opens more (a second officer, another language, 360 px).
  A page fails its test when a script on it throws or the browser reports an error
  (a Content-Security-Policy violation, say), failed loads aside.
- ``checks.assert_accessible(page)`` and ``checks.screenshot(page, name)``.

Tests here are plain functions, not coroutines: Playwright's sync API marks its own event
loop as running in this thread while it is open, which is why it lives only as long as
this package's tests and why nothing here calls ``asyncio.run`` on the main thread.

When Playwright or Chromium is missing the tests skip, saying how to get them; with
``CI=true`` they fail instead.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.checks import DESKTOP
from tests.browser.server import Server, server_database_url
from tests.conftest import BACKEND, PG_URL

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# As the machine notes say Chromium runs here headless as root: no sandbox (root), no GPU,
# and nothing that reaches out to Google's hosts (refused by the closed network).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
HOW_TO_ENABLE = (
    "`make test` installs both (the `browser` extra and Debian's chromium); by hand: "
    "`pip install -e '.[browser]'` and `apt-get install chromium` (or CHROMIUM=/path/to/chromium)"
)
NewPage = Callable[..., "Page"]
# Where the platform's portal links may send a mentee back to (GOVERNANCE_PORTAL_RETURN_URLS).
PORTAL_RETURN_PREFIX = "https://platform.example/account"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse coroutine tests here: they would run in an event loop beside Playwright's."""
    here = Path(__file__).parent
    for item in items:
        function = getattr(item, "function", None)
        if item.path.is_relative_to(here) and inspect.iscoroutinefunction(function):
            raise pytest.UsageError(f"{item.nodeid}: browser tests are plain functions (Playwright's sync API)")


def _missing() -> str | None:
    """What the browser tests lack, or None."""
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright or axe-playwright-python is not installed ({exc})"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}"
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    """Skip (or with CI=true fail) when Playwright or Chromium is missing."""
    missing = _missing()
    if missing is None:
        return
    message = f"browser tests: {missing}; {HOW_TO_ENABLE}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def server(browser_available: None) -> Iterator[Server]:
    """``governance serve`` in its own process, data directory and database, ready."""
    running = Server(
        postgres_url=server_database_url(PG_URL) if BACKEND == "postgres" else None,
        # Mentees arrive through portal links the platform asks for; they must lead back somewhere.
        settings={"GOVERNANCE_PORTAL_RETURN_URLS": PORTAL_RETURN_PREFIX},
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def playwright(browser_available: None) -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by this package's tests (each gets its own context)."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS))
    yield launched
    launched.close()


@pytest.fixture
def new_page(server: Server, browser: Browser) -> Iterator[NewPage]:
    """``new_page(locale="fr-FR", viewport=NARROW, ...)``: a page in a fresh context on the server.

    Keyword arguments go to ``browser.new_context``. Every context is closed at the end of
    the test, which fails if a script threw or the browser logged an error on any page.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_page(**options: Any) -> Page:
        options.setdefault("base_url", server.url)
        options.setdefault("viewport", DESKTOP)
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: uncaught {error.name}: {error.message}"))
        page.on("console", lambda message: _record_console_error(errors, page, message))
        return page

    yield open_page
    for context in contexts:
        context.close()
    if errors:
        pytest.fail("errors in the browser:\n" + "\n".join(errors), pytrace=False)


def _record_console_error(errors: list[str], page: Page, message: ConsoleMessage) -> None:
    # A page answering 403 or 404 on purpose logs "Failed to load resource": the test judges that.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(f"{page.url}: console error: {message.text}")


@pytest.fixture
def page(new_page: NewPage) -> Page:
    """A page in a fresh context (no cookies) at 1280x800, its base URL the server's."""
    return new_page()
