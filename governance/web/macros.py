"""Python twins of the macros of ``web/forms.html``: the same HTML, without Jinja's macro calls.

A Jinja macro call costs tens of microseconds (its arguments bound one by one, a new
context, nested calls for a field's help and error); a page calls ``badge`` once per row,
``field`` once per input and ``form`` once per action, which made the macros a large
share of a page's time. The shell hands pages these functions under the macros' names
(see ``governance.web.rendering._forms_module``); ``tests/web/test_rendering.py`` holds
each to its macro's output over every combination of its arguments, so the template stays
the reference: change both together.

Every value is escaped with :func:`markupsafe.escape`, as autoescaping does; the words of
the macros themselves are translated into the active language by ``translate``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from markupsafe import Markup, escape

# The twins, by the name of their macro: those that need nothing of the page, and the
# methods of FormMacros (the CSRF token, the macros' own words in the page's language).
PLAIN: Final = ("badge", "button", "link_button", "hidden")
OF_THE_PAGE: Final = ("csrf", "form", "error_summary", "field", "textarea", "select", "radios", "checkbox")


def _html(text: str) -> Markup:
    """Text written here, every value in it escaped already (``escape``): marked as HTML."""
    return Markup(text)  # noqa: S704  # each value went through escape(); the rest is this module's own


# A badge's shape per tone (as the badge macro says them).
BADGE_SHAPES: Final = {"ok": "✓", "warning": "!", "danger": "✕", "info": "i", "neutral": "•"}


def badge(label: Any, tone: Any = "neutral") -> Markup:
    """``forms.badge(label, tone)``: a status in words and a shape, never by colour alone."""
    shape = BADGE_SHAPES.get(tone, "•")
    return _html(
        f'<span class="badge badge--{escape(tone)}"><span class="badge__shape" aria-hidden="true">{shape}</span>'
        f" {escape(label)}</span>"
    )


def button(label: Any, kind: Any = "primary", type: Any = "submit", name: Any = None, value: Any = None) -> Markup:
    """``forms.button(label, kind, type, name, value)``."""
    named = f' name="{escape(name)}" value="{escape(value)}"' if name else ""
    return _html(f'<button class="button button--{escape(kind)}" type="{escape(type)}"{named}>{escape(label)}</button>')


def link_button(label: Any, href: Any, kind: Any = "secondary") -> Markup:
    """``forms.link_button(label, href, kind)``."""
    return _html(f'<a class="button button--{escape(kind)}" href="{escape(href)}">{escape(label)}</a>')


def hidden(name: Any, value: Any) -> Markup:
    """``forms.hidden(name, value)``."""
    return _html(f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">')


class FormMacros:
    """The macros that need the page: the CSRF token (``csrf_token``) and the macros' own
    words in the active language (``translate``, the templates' ``_`` for a literal)."""

    def __init__(self, translate: Callable[[str], Markup], csrf_token: Callable[[], str]) -> None:
        self._ = translate
        self._csrf_token = csrf_token

    def csrf(self) -> Markup:
        """``forms.csrf()``: the hidden field every state-changing form carries."""
        return _html(f'<input type="hidden" name="_csrf_token" value="{escape(self._csrf_token())}">')

    def form(
        self, action: Any, method: Any = "post", target: Any = None, label: Any = None, caller: Any = None
    ) -> Markup:
        """``{% call forms.form(action, method, target, label) %}...{% endcall %}``: a form that
        posts without scripts (and through htmx when it names a ``target``), with its token."""
        opening = f'<form method="{escape(method)}" action="{escape(action)}" novalidate'
        if target:
            opening += f' hx-{escape(method)}="{escape(action)}" hx-target="{escape(target)}" hx-swap="outerHTML"'
        if label:
            opening += f' aria-label="{escape(label)}"'
        token = self.csrf() if method == "post" else ""
        body = escape(caller()) if caller is not None else ""
        return _html(f"{opening}>\n{token}  {body}\n</form>")

    def error_summary(self, form: Any) -> Markup:
        """``forms.error_summary(form)``: every error of the form, each linking to its field."""
        if not form.errors:
            return Markup("")
        items = "".join(
            f'    <li><a href="#field-{escape(name)}">{escape(message)}</a></li>\n'
            if name
            else f"    <li>{escape(message)}</li>\n"
            for name, message in form.errors.items()
        )
        return _html(
            '<div class="error-summary" role="alert" tabindex="-1">\n'
            f'  <h2 class="error-summary__title">{self._("There is a problem")}</h2>\n'
            f"  <ul>\n{items}  </ul>\n</div>\n"
        )

    def _help_and_error(self, form: Any, name: Any, help: Any) -> str:
        shown = f'<p class="field__help" id="field-{escape(name)}-help">{escape(help)}</p>' if help else ""
        error = form.errors.get(name)
        if error:
            shown += (
                f'<p class="field__error" id="field-{escape(name)}-error"><span class="visually-hidden">'
                f"{self._('Error:')} </span>{escape(error)}</p>\n"
            )
        return shown

    @staticmethod
    def _described(form: Any, name: Any, help: Any) -> str:
        error = form.errors.get(name)
        ids = [f"field-{name}-help"] * bool(help) + [f"field-{name}-error"] * bool(error)
        described = f' aria-describedby="{escape(" ".join(ids))}"' if ids else ""
        return described + ' aria-invalid="true"' if error else described

    @staticmethod
    def _error_class(form: Any, name: Any) -> str:
        return " field--error" if form.errors.get(name) else ""

    def _label(self, name: Any, label: Any, required: Any) -> str:
        optional = "" if required else f' <span class="field__optional">{self._("(optional)")}</span>'
        return f'  <label class="field__label" for="field-{escape(name)}">{escape(label)}{optional}</label>\n'

    def field(
        self,
        form: Any,
        name: Any,
        label: Any,
        type: Any = "text",
        help: Any = None,
        required: Any = True,
        autocomplete: Any = None,
        inputmode: Any = None,
    ) -> Markup:
        """``forms.field(...)``: a labelled input with its help, its error and what was typed."""
        attributes = " required" if required else ""
        if autocomplete:
            attributes += f' autocomplete="{escape(autocomplete)}"'
        if inputmode:
            attributes += f' inputmode="{escape(inputmode)}"'
        named = escape(name)
        return _html(
            f'<div class="field{self._error_class(form, name)}">\n{self._label(name, label, required)}'
            f"  {self._help_and_error(form, name, help)}\n"
            f'  <input class="field__input" id="field-{named}" name="{named}" type="{escape(type)}"'
            f' value="{escape(form.value(name))}"{attributes}{self._described(form, name, help)}>\n</div>'
        )

    def textarea(
        self,
        form: Any,
        name: Any,
        label: Any,
        help: Any = None,
        required: Any = True,
        rows: Any = 5,
        autocomplete: Any = None,
    ) -> Markup:
        """``forms.textarea(...)``: a labelled text area with its help, its error and what was typed."""
        attributes = " required" if required else ""
        if autocomplete:
            attributes += f' autocomplete="{escape(autocomplete)}"'
        named = escape(name)
        return _html(
            f'<div class="field{self._error_class(form, name)}">\n{self._label(name, label, required)}'
            f"  {self._help_and_error(form, name, help)}\n"
            f'  <textarea class="field__input" id="field-{named}" name="{named}" rows="{escape(rows)}"'
            f"{attributes}{self._described(form, name, help)}>{escape(form.value(name))}</textarea>\n</div>"
        )

    def select(
        self, form: Any, name: Any, label: Any, options: Iterable[Any], help: Any = None, required: Any = True
    ) -> Markup:
        """``forms.select(...)``: a labelled choice among ``(value, label)`` options."""
        named, chosen = escape(name), form.value(name)
        # As the macro writes it: the template's indentation and line end go with its tags.
        none = "" if required else f'<option value="">{self._("(none)")}</option>'
        choices = "".join(
            f'    <option value="{escape(value)}"{" selected" if chosen == value else ""}>{escape(text)}</option>\n'
            for value, text in options
        )
        return _html(
            f'<div class="field{self._error_class(form, name)}">\n{self._label(name, label, required)}'
            f"  {self._help_and_error(form, name, help)}\n"
            f'  <select class="field__input" id="field-{named}" name="{named}"{" required" if required else ""}'
            f"{self._described(form, name, help)}>\n{none}{choices}  </select>\n</div>"
        )

    def radios(self, form: Any, name: Any, legend: Any, options: Iterable[Any], help: Any = None) -> Markup:
        """``forms.radios(...)``: a fieldset whose legend names the question, one radio per option."""
        named, chosen = escape(name), form.value(name)
        choices = "".join(
            '  <div class="choice">\n'
            f'    <input class="choice__input" id="field-{named}-{index}" name="{named}" type="radio"'
            f' value="{escape(value)}"{" checked" if chosen == value else ""}>\n'
            f'    <label class="choice__label" for="field-{named}-{index}">{escape(text)}</label>\n'
            "  </div>\n"
            for index, (value, text) in enumerate(options, start=1)
        )
        return _html(
            f'<fieldset class="field field--group{self._error_class(form, name)}"{self._described(form, name, help)}>\n'
            f'  <legend class="field__label">{escape(legend)}</legend>\n'
            f"  {self._help_and_error(form, name, help)}\n{choices}</fieldset>"
        )

    def checkbox(self, form: Any, name: Any, label: Any, value: Any = "true", help: Any = None) -> Markup:
        """``forms.checkbox(...)``: one labelled checkbox."""
        named = escape(name)
        checked = " checked" if form.value(name) == value else ""
        return _html(
            f'<div class="field field--choice{self._error_class(form, name)}">\n'
            f"  {self._help_and_error(form, name, help)}\n"
            '  <div class="choice">\n'
            f'    <input class="choice__input" id="field-{named}" name="{named}" type="checkbox"'
            f' value="{escape(value)}"{checked}{self._described(form, name, help)}>\n'
            f'    <label class="choice__label" for="field-{named}">{escape(label)}</label>\n'
            "  </div>\n</div>"
        )
