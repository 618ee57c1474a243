"""Templates translate with every variable they pass, escaped, in the request's language."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, StrictUndefined, Undefined
from markupsafe import Markup, escape

from governance.web import i18n, macros, rendering
from governance.web.forms import Form
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


def test_a_message_reads_as_jinja_newstyle_gettext_would() -> None:
    env = environment()
    # Always a format string: ``%%`` reads ``%`` with or without variables.
    assert env.from_string('{{ _("100%% sure") }}').render() == "100% sure"
    assert env.from_string('{{ _("%(n)s%% done", n=5) }}').render() == "5% done"
    assert env.from_string("{% trans who=who %}Hello {{ who }}{% endtrans %}").render(who="<i>") == "Hello &lt;i&gt;"
    # Without autoescape, the values go in as they are, as Jinja's own gettext puts them.
    unescaped = '{% autoescape false %}{{ _("Hello %(who)s", who=who) }}{% endautoescape %}'
    assert env.from_string(unescaped).render(who="<i>") == "Hello <i>"
    # A macro's local ``_`` (forms.html sets one) is that macro's own.
    assert env.from_string('{% macro m() %}{% set _ = 1 %}{{ _ }}{% endmacro %}{{ m() }} {{ _("Hi") }}').render() == (
        "1 Hi"
    )


def test_a_plural_message_names_its_count_num() -> None:
    template = environment().from_string('{{ ngettext("%(num)s day", "%(num)s days", n) }}')
    assert template.render(n=1) == "1 day" and template.render(n=4) == "4 days"


def test_the_same_instant_in_two_offsets_keeps_its_own_day() -> None:
    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert i18n.format_date(late) == "Mar 1, 2026"
    assert i18n.format_date(late.astimezone(UTC)) == "Mar 2, 2026"
    assert i18n.format_datetime(late) == i18n.format_datetime(late.astimezone(UTC))
    assert i18n.format_datetime(late).startswith("Mar 2, 2026, 4:30:00")


FORMS = [
    Form(),
    Form(values={"title": "a<b", "n": 3, "pick": "b"}),
    Form(values={"title": "x", "pick": "a"}, errors={"title": "Too <long>", "": "the form as a whole", "pick": "no"}),
    Form(errors={"other": "elsewhere"}),
]
LABELS = ["Title", Markup("<em>Title</em>"), "a & b"]
HELPS = [None, "Help <me>", Markup("<b>help</b>")]
OPTIONS = [("a", "A<"), ("b", Markup("<i>B</i>")), (3, "three")]


def _macros_and_twins() -> tuple[Any, macros.FormMacros]:
    page = SimpleNamespace(csrf_token="token<&>")
    macro = environment().get_template("web/forms.html").make_module({"page": page})
    return macro, macros.FormMacros(rendering._GETTEXT.__getitem__, lambda: page.csrf_token)


def test_the_python_twins_write_what_the_forms_macros_write() -> None:
    macro, twins = _macros_and_twins()
    optional = [{}, {"autocomplete": "off"}, {"autocomplete": "x", "inputmode": "numeric"}]
    for form in FORMS:
        assert str(twins.error_summary(form)) == str(macro.error_summary(form))
        for name, label, help, required, extra in itertools.product(
            ["title", "n"], LABELS, HELPS, [True, False], optional
        ):
            assert str(twins.field(form, name, label, help=help, required=required, **extra)) == str(
                macro.field(form, name, label, help=help, required=required, **extra)
            )
            assert str(twins.field(form, name, label, "date", help, required)) == str(
                macro.field(form, name, label, "date", help, required)
            )
            area = {key: value for key, value in extra.items() if key != "inputmode"}
            assert str(twins.textarea(form, name, label, help, required, 3, **area)) == str(
                macro.textarea(form, name, label, help, required, 3, **area)
            )
        for name, help in itertools.product(["title", "pick"], HELPS):
            for required in (True, False):
                assert str(twins.select(form, name, "Pick<", OPTIONS, help, required)) == str(
                    macro.select(form, name, "Pick<", OPTIONS, help, required)
                )
            for options in (OPTIONS, []):
                assert str(twins.radios(form, name, "Which<", options, help)) == str(
                    macro.radios(form, name, "Which<", options, help)
                )
            for value in ("true", "a", 3):
                assert str(twins.checkbox(form, name, "Tick<", value, help)) == str(
                    macro.checkbox(form, name, "Tick<", value, help)
                )


def test_the_python_twins_of_the_small_macros_and_the_form_write_the_same() -> None:
    macro, twins = _macros_and_twins()
    for tone in [*macros.BADGE_SHAPES, "unknown", '"quoted"']:
        for label in LABELS:
            assert str(macros.badge(label, tone)) == str(macro.badge(label, tone))
    assert str(macros.badge("Met")) == str(macro.badge("Met"))
    for arguments in [
        ("Go",),
        ("Go", "secondary"),
        ("<b>", "danger", "button", "act", "v<"),
        ("x", "primary", "submit", None, "v"),
    ]:
        assert str(macros.button(*arguments)) == str(macro.button(*arguments))
    for link in [("Open <it>", "/a?x=1&y=2"), ("Open", "/a", "primary")]:
        assert str(macros.link_button(*link)) == str(macro.link_button(*link))
    assert str(macros.hidden("a", "b<")) == str(macro.hidden("a", "b<"))
    assert str(twins.csrf()) == str(macro.csrf())

    def body() -> Markup:
        return Markup("<p>inside</p>\n<p>&lt;kept&gt;</p>")

    for arguments, options in [
        (("/a?x=1&y=2",), {}),
        (("/a", "get"), {}),
        (("/a", "post", "#target"), {"label": "Label <b>"}),
        (("/a",), {"label": "Label"}),
        (("/a", "get", "#t<"), {}),
    ]:
        assert str(twins.form(*arguments, caller=body, **options)) == str(
            macro.form(*arguments, caller=body, **options)
        )
    # Every macro but table has its twin, and the page gets each.
    named = {name for name in dir(macro) if not name.startswith("_")}
    assert named - {"table"} == set(macros.PLAIN) | set(macros.OF_THE_PAGE)


def test_a_page_gets_the_twins_in_the_active_language() -> None:
    french = i18n.Catalogs().get("fr")
    assert french is not None
    page = environment().from_string('{{ forms.field(form, "title", "Title", required=False) }}')
    forms = rendering._forms_module(environment().get_template(rendering.FORMS))
    assert forms.field is not None
    with i18n.speaking(french):
        shown = page.render(forms=forms, form=Form(errors={"title": "x"}))
    assert french.translations.gettext("(optional)") in shown
    assert french.translations.gettext("Error:") in shown


def test_a_compiled_translation_reads_as_the_call_through_the_context_does() -> None:
    """``_(message)`` and ``_(message, name=value)`` are compiled to lookups of the kept
    translation; under another name the same ``_`` is called as Jinja calls it."""
    env = environment()
    french = i18n.Catalogs().get("fr")
    plain = ["Your privacy", "100%% sure", "<b>not in any catalog</b>"]
    formatted = ["Signed in as %(who)s", "<i>%(who)s</i> & more"]
    for language in (i18n.active(), french):
        assert language is not None
        with i18n.speaking(language):
            for message in plain:
                compiled = env.from_string("{{ _(message) }}").render(message=message)
                assert compiled == env.from_string("{% set t = _ %}{{ t(message) }}").render(message=message)
                assert compiled == env.from_string("{{ _(" + repr(message) + ") }}").render()
            for message in formatted:
                compiled = env.from_string("{{ _(message, who=who) }}").render(message=message, who="<Ana>")
                called = env.from_string("{% set t = _ %}{{ t(message, who=who) }}").render(
                    message=message, who="<Ana>"
                )
                assert compiled == called and "&lt;Ana&gt;" in compiled


class _Marked:
    def __init__(self, html: str) -> None:
        self.html = html

    def __html__(self) -> str:
        return self.html


@given(
    st.one_of(
        st.text(),
        st.integers(),
        st.floats(allow_nan=False),
        st.none(),
        st.text().map(Markup),
        st.text().map(_Marked),
        st.dates(),
    )
)
def test_a_pages_output_is_escaped_exactly_as_markupsafe_escapes_it(value: Any) -> None:
    assert rendering.escape_output(value) == str(escape(value))


@given(
    st.dictionaries(st.sampled_from(["title", "items", "get", "keys", "record", "__class__", "x"]), st.integers()),
    st.sampled_from(["title", "items", "get", "keys", "record", "__class__", "x", "missing"]),
)
def test_a_dicts_field_reads_in_a_template_as_jinja_reads_it(row: dict[str, int], name: str) -> None:
    page, plain = environment(), Environment(undefined=StrictUndefined)
    expected, found = plain.getattr(row, name), page.getattr(row, name)
    if isinstance(expected, Undefined):
        assert isinstance(found, Undefined)
    else:
        assert found == expected


def test_a_template_escapes_what_it_outputs_and_keeps_what_is_marked_safe() -> None:
    template = environment().from_string("{{ text }}|{{ safe }}|{{ number }}|{{ row.title }}")
    text = template.render(text="<b>'&\"", safe=Markup("<i>ok</i>"), number=3, row={"title": "<t>"})
    assert text == "&lt;b&gt;&#39;&amp;&#34;|<i>ok</i>|3|&lt;t&gt;"
