"""Python twins of the hottest macros of ``web/forms.html``: the same HTML, without Jinja's
macro calls.

A Jinja macro call costs tens of microseconds (its arguments bound one by one, a new
context, nested calls for a field's help and error); a page calls ``badge`` once per row
and ``field`` once per input, which made the macros a large share of a page's time. The
shell hands pages these functions under the macros' names (see
``governance.web.rendering._forms_module``); ``tests/web/test_rendering.py`` holds each
to its macro's output over every combination of its arguments, so the template stays the
reference: change both together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from markupsafe import Markup, escape

# A badge's shape per tone (as the badge macro says them).
BADGE_SHAPES: Final = {"ok": "✓", "warning": "!", "danger": "✕", "info": "i", "neutral": "•"}
_BADGE: Final = Markup(
    '<span class="badge badge--{}"><span class="badge__shape" aria-hidden="true">{}</span> {}</span>'
)


def badge(label: str, tone: str = "neutral") -> Markup:
    """``forms.badge(label, tone)``: a status in words and a shape, never by colour alone."""
    return _BADGE.format(tone, BADGE_SHAPES.get(tone, "•"), label)


def button(label: str, kind: str = "primary", type: str = "submit", name: Any = None, value: Any = None) -> Markup:
    """``forms.button(label, kind, type, name, value)``."""
    named = Markup(' name="{}" value="{}"').format(name, value) if name else ""
    return Markup('<button class="button button--{}" type="{}"{}>{}</button>').format(kind, type, named, label)


def hidden(name: str, value: Any) -> Markup:
    """``forms.hidden(name, value)``."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(name, value)


class FormMacros:
    """The form macros that translate a word of their own: they read the active language
    through ``translate`` (the templates' ``_`` for a literal)."""

    def __init__(self, translate: Callable[[str], Markup]) -> None:
        self._ = translate

    def error_summary(self, form: Any) -> Markup:
        """``forms.error_summary(form)``: every error of the form, each linking to its field."""
        if not form.errors:
            return Markup("")
        items = Markup("").join(
            Markup('    <li><a href="#field-{}">{}</a></li>\n').format(name, message)
            if name
            else Markup("    <li>{}</li>\n").format(message)
            for name, message in form.errors.items()
        )
        return Markup(
            '<div class="error-summary" role="alert" tabindex="-1">\n'
            '  <h2 class="error-summary__title">{}</h2>\n'
            "  <ul>\n{}  </ul>\n</div>\n"
        ).format(self._("There is a problem"), items)

    def _help_and_error(self, form: Any, name: str, help: Any) -> Markup:
        shown = Markup('<p class="field__help" id="field-{}-help">{}</p>').format(name, help) if help else Markup("")
        error = form.errors.get(name)
        if error:
            shown += Markup(
                '<p class="field__error" id="field-{}-error"><span class="visually-hidden">{} </span>{}</p>\n'
            ).format(name, self._("Error:"), error)
        return shown

    @staticmethod
    def _described(form: Any, name: str, help: Any) -> Markup:
        error = form.errors.get(name)
        ids = [f"field-{name}-help"] * bool(help) + [f"field-{name}-error"] * bool(error)
        described = Markup(' aria-describedby="{}"').format(" ".join(ids)) if ids else Markup("")
        return described + Markup(' aria-invalid="true"') if error else described

    def _label(self, name: str, label: Any, required: bool) -> Markup:
        optional = "" if required else Markup(' <span class="field__optional">{}</span>').format(self._("(optional)"))
        return Markup('  <label class="field__label" for="field-{}">{}{}</label>\n').format(name, label, optional)

    def field(
        self,
        form: Any,
        name: str,
        label: Any,
        type: str = "text",
        help: Any = None,
        required: bool = True,
        autocomplete: Any = None,
        inputmode: Any = None,
    ) -> Markup:
        """``forms.field(...)``: a labelled input with its help, its error and what was typed."""
        attributes = Markup(" required") if required else Markup("")
        if autocomplete:
            attributes += Markup(' autocomplete="{}"').format(autocomplete)
        if inputmode:
            attributes += Markup(' inputmode="{}"').format(inputmode)
        return Markup(
            '<div class="field{}">\n{}  {}\n'
            '  <input class="field__input" id="field-{}" name="{}" type="{}" value="{}"{}{}>\n</div>'
        ).format(
            " field--error" if form.errors.get(name) else "",
            self._label(name, label, required),
            self._help_and_error(form, name, help),
            name,
            name,
            type,
            escape(form.value(name)),
            attributes,
            self._described(form, name, help),
        )

    def textarea(
        self,
        form: Any,
        name: str,
        label: Any,
        help: Any = None,
        required: bool = True,
        rows: Any = 5,
        autocomplete: Any = None,
    ) -> Markup:
        """``forms.textarea(...)``: a labelled text area with its help, its error and what was typed."""
        attributes = Markup(" required") if required else Markup("")
        if autocomplete:
            attributes += Markup(' autocomplete="{}"').format(autocomplete)
        return Markup(
            '<div class="field{}">\n{}  {}\n'
            '  <textarea class="field__input" id="field-{}" name="{}" rows="{}"{}{}>{}</textarea>\n</div>'
        ).format(
            " field--error" if form.errors.get(name) else "",
            self._label(name, label, required),
            self._help_and_error(form, name, help),
            name,
            name,
            rows,
            attributes,
            self._described(form, name, help),
            escape(form.value(name)),
        )
