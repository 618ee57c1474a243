"""The translation catalogs hold every string the pages show, each translated."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from governance.web.i18n import LOCALE_DIR, Catalogs

GOVERNANCE = Path(__file__).resolve().parents[2] / "governance"
KEYWORDS = {"N_": None, "gettext": None, "ngettext": (1, 2), "_": None}
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(GOVERNANCE),
        METHODS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_template_is_current_with_the_code() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        template = {message.id for message in read_po(pot) if message.id}
    assert extracted() == template, "run `make messages` and translate the new entries"


def test_every_language_translates_every_string() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        template = {message.id for message in read_po(pot) if message.id}
    for language in Catalogs().languages.values():
        if language.tag == "en":
            continue
        catalog_file = LOCALE_DIR / language.tag / "LC_MESSAGES" / "messages.po"
        with catalog_file.open("rb") as po:
            catalog = read_po(po)
        untranslated = sorted(m for m in template if not (catalog.get(m) and catalog.get(m).string))
        assert not untranslated, f"{language.tag}: untranslated {untranslated}"
