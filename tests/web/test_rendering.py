"""Templates translate with every variable they pass, escaped, in the request's language."""

from __future__ import annotations

from governance.web import i18n
from governance.web.rendering import environment


def test_a_plural_message_keeps_every_variable_and_escapes_it() -> None:
    template = environment().from_string(
        '{{ ngettext("%(num)s check of %(who)s", "%(num)s checks of %(who)s", count, who=who) }}'
    )
    assert template.render(count=1, who="Ana") == "1 check of Ana"
    assert template.render(count=3, who="<b>Ana</b>") == "3 checks of &lt;b&gt;Ana&lt;/b&gt;"


def test_a_message_is_translated_into_the_active_language() -> None:
    french = i18n.Catalogs().get("fr")
    assert french is not None
    template = environment().from_string('{{ _("Your privacy") }}')
    with i18n.speaking(french):
        assert template.render() == french.translations.gettext("Your privacy") != "Your privacy"
    assert template.render() == "Your privacy"
