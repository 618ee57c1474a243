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


def singular(message_id: str | tuple[str, ...]) -> str:
    """A catalog's key for a message: a plural one is known by its singular."""
    return message_id if isinstance(message_id, str) else message_id[0]


def template_ids() -> set[str]:
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        return {singular(message.id) for message in read_po(pot) if message.id}


def translated(string: str | tuple[str, ...]) -> bool:
    """Whether every form of a translation is there (a plural one has one per plural form)."""
    forms = (string,) if isinstance(string, str) else tuple(string)
    return bool(forms) and all(forms)


def test_the_template_is_current_with_the_code() -> None:
    assert extracted() == template_ids(), "run `make messages` and translate the new entries"


def test_every_language_translates_every_string() -> None:
    template = template_ids()
    for language in Catalogs().languages.values():
        if language.tag == "en":
            continue
        catalog_file = LOCALE_DIR / language.tag / "LC_MESSAGES" / "messages.po"
        with catalog_file.open("rb") as po:
            catalog = read_po(po)
        untranslated = sorted(m for m in template if not ((found := catalog.get(m)) and translated(found.string)))
        assert not untranslated, f"{language.tag}: untranslated {untranslated}"
