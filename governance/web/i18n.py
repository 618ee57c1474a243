"""Translations of everything the pages show, with Babel and gettext catalogs.

Each language is one catalog, ``locale/<language>/LC_MESSAGES/messages.po``, read with
Babel when the service starts (no compiled ``.mo`` to build, so a fresh clone works): a
third language is a third catalog, not code. ``make messages`` extracts the strings from
the templates and the Python code and updates every catalog.

The language of a request is, in order: an explicit choice (``?lang=fr``, which the
footer's switch links to and which is remembered in a cookie), the cookie, the browser's
``Accept-Language`` (Babel's ``negotiate_locale``), English. Rendering reads it from a
context variable (:func:`activate`), so ``_()`` in a template or in the code a page calls
translates into the language of the request being served, and nothing is passed around.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Final

from babel import Locale, dates
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "messages"
SOURCE_LANGUAGE: Final = "en"
# Remembers an explicit choice of language (not a secret; read by the server only).
LANGUAGE_COOKIE: Final = "governance-lang"
# A language tag as the switch and the cookie carry it (``fr``, ``pt_BR``).
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})?$")
_QUALITY = re.compile(r"^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$")


@dataclass(frozen=True, slots=True)
class Language:
    """One language the pages speak: its tag, its name in itself, and its translations."""

    tag: str
    name: str
    translations: NullTranslations

    @property
    def html_lang(self) -> str:
        """The tag as HTML's ``lang`` attribute wants it (BCP 47: ``pt-BR``)."""
        return self.tag.replace("_", "-")


class Catalogs:
    """Every language with a catalog under :data:`LOCALE_DIR` (English, the source, always)."""

    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        found: dict[str, Language] = {}
        for po_file in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            tag = po_file.parent.parent.name
            found[tag] = Language(tag, _name_of(tag), _load(po_file))
        found.setdefault(SOURCE_LANGUAGE, Language(SOURCE_LANGUAGE, _name_of(SOURCE_LANGUAGE), NullTranslations()))
        self.languages: Mapping[str, Language] = dict(sorted(found.items()))
        self.default = self.languages[SOURCE_LANGUAGE]

    def get(self, tag: str | None) -> Language | None:
        """The language named ``tag`` exactly (as the switch and the cookie name it), or None."""
        if not tag or not _TAG.match(tag):
            return None
        return self.languages.get(tag.replace("-", "_"))

    def negotiate(self, accept_language: str | None) -> Language:
        """The best language for an ``Accept-Language`` header, English when none fits."""
        preferred = [tag.replace("_", "-") for tag in accepted(accept_language or "")]
        chosen = negotiate_locale(preferred, [tag.replace("_", "-") for tag in self.languages], sep="-")
        return self.languages[chosen.replace("-", "_")] if chosen else self.default

    def choose(self, explicit: str | None, remembered: str | None, accept_language: str | None) -> Language:
        """The request's language: an explicit choice, else the remembered one, else the browser's."""
        return self.get(explicit) or self.get(remembered) or self.negotiate(accept_language)


def accepted(header: str) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (``q=0`` left out)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):  # a header cannot make us sort thousands
        tag, *params = part.split(";")
        tag = tag.strip()
        quality = 1.0
        for param in params:
            match = _QUALITY.match(param)
            if match:
                quality = float(match.group(1))
        if tag and tag != "*" and _TAG.match(tag) and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


@lru_cache(maxsize=64)
def _name_of(tag: str) -> str:
    locale = Locale.parse(tag)
    return str(locale.get_display_name(locale) or tag)


def _load(po_file: Path) -> Translations:
    stat = po_file.stat()
    return _compiled(po_file, stat.st_mtime_ns, stat.st_size)


# Parsing a catalog takes a tenth of a second and every configuration built in a process
# (the app, the CLI, each test module) would parse it again; an edited file has a new mtime.
# Translations are only read once built, so sharing them is safe.
@lru_cache(maxsize=16)
def _compiled(po_file: Path, mtime_ns: int, size: int) -> Translations:
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=po_file.parent.parent.name, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


_active: ContextVar[Language | None] = ContextVar("governance_language", default=None)
_fallback = Language(SOURCE_LANGUAGE, "English", NullTranslations())


def active() -> Language:
    """The language of the request being served (English outside a request)."""
    return _active.get() or _fallback


def activate(language: Language) -> None:
    """Make ``language`` the current request's (the page middleware does this once per request)."""
    _active.set(language)


@contextmanager
def speaking(language: Language) -> Iterator[None]:
    """``language`` inside the block only (for code that renders outside a request)."""
    token = _active.set(language)
    try:
        yield
    finally:
        _active.reset(token)


def gettext(message: str, **variables: object) -> str:
    """``message`` in the current language, with ``%(name)s`` placeholders filled in."""
    translated = active().translations.gettext(message)
    return translated % variables if variables else translated


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The singular or plural form for ``n`` in the current language; ``%(num)d`` is ``n``."""
    translated = active().translations.ngettext(singular, plural, n)
    return translated % {"num": n, **variables}


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is declared; it is translated where shown."""
    return message


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    """An instant for people, in the current language (UTC, said so)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _formatted_datetime(value, format, active().tag)


def format_date(value: datetime | None, format: str = "medium") -> str:
    """A day for people, in the current language."""
    if value is None:
        return ""
    # The offset is part of the key: the day of an instant depends on it (equal instants
    # with different offsets are equal datetimes).
    offset = value.utcoffset() if isinstance(value, datetime) else None
    return _formatted_date(value, offset, format, active().tag)


# Babel takes tens of microseconds per value; pages show the same instants again and again
# (a queue's deadlines, a dossier's checks), so the words are kept for the next request.
@lru_cache(maxsize=16384)
def _formatted_datetime(value: datetime, format: str, tag: str) -> str:
    return f"{dates.format_datetime(value, format=format, tzinfo=UTC, locale=tag)} UTC"


@lru_cache(maxsize=16384)
def _formatted_date(value: date | datetime, offset: timedelta | None, format: str, tag: str) -> str:
    return str(dates.format_date(value, format=format, locale=tag))
