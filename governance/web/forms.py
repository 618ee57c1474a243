"""Forms: decode a submitted form into an :class:`~governance.core.shapes.Input` Struct,
with every error keyed by the field it belongs to.

A page declares what its form accepts as an ``Input`` Struct with the same limits as the
API (``governance.core.limits``), reads it with :func:`read_form`, and when the form is
not valid renders it again, status 422, with ``form.errors`` beside the fields (the macros
in ``web/forms.html`` do that) and nothing changed::

    form = await read_form(request, Filing)
    if not form.valid:
        return render(request, "privacy/filing.html", {"form": form}, status_code=422)
    await service.file(form.data, ...)

A field left empty counts as not given (its default, or "required"); each field is
checked on its own so that every mistake is shown at once; control characters, NUL
above all, are refused by the limits' patterns. A refusal by the service that names
fields (a :class:`~governance.core.errors.Problem` with ``errors``) can be shown the same
way with :meth:`Form.refused`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar, get_args, get_origin

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

from governance.core.limits import NO_NUL, PRINTABLE
from governance.core.shapes import Input
from governance.web.i18n import N_, gettext
from governance.web.security import CSRF_FIELD

T = TypeVar("T", bound=Input)
_MULTIPLE = (list, tuple, set, frozenset)


@dataclass(slots=True)
class Form(Generic[T]):
    """A submitted (or blank) form: the values as typed, errors by field, and the decoded
    ``data`` when there is no error."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    data: T | None = None

    @property
    def valid(self) -> bool:
        return not self.errors and self.data is not None

    def value(self, name: str, default: Any = "") -> Any:
        """What the person typed in ``name`` (to show it again), ``default`` when nothing."""
        return self.values.get(name, default)

    def refused(self, problem: HTTPException) -> Form[T]:
        """The form again with the fields a service refused (``problem.extra["errors"]``);
        a refusal that names no field is kept under ``""``, the form as a whole."""
        extra = problem.extra if isinstance(problem.extra, Mapping) else {}
        named = [error for error in extra.get("errors", []) if isinstance(error, Mapping) and error.get("field")]
        errors = dict(self.errors)
        for error in named:
            errors.setdefault(str(error["field"]).split(".")[0], str(error.get("message", "")))
        if not named:
            errors[""] = str(problem.detail)
        return Form(values=self.values, errors=errors, data=None)


def blank(values: Mapping[str, Any] | None = None) -> Form[Any]:
    """A form not yet submitted, optionally filled in with ``values``."""
    return Form(values=dict(values or {}))


async def read_form(request: Request[Any, Any, Any], shape: type[T]) -> Form[T]:
    """The request's form decoded as ``shape`` (see the module docstring)."""
    submitted = await request.form()
    return decode_form(submitted, shape)


@cache
def shape_fields(shape: type[Any]) -> dict[str, msgspec.structs.FieldInfo]:
    """A form shape's fields by the name they are sent under. Made once per shape:
    msgspec resolves the (string) annotations anew on every call, which costs more than
    decoding the form."""
    return {info.encode_name: info for info in msgspec.structs.fields(shape)}


def decode_form(submitted: Any, shape: type[T]) -> Form[T]:
    """``submitted`` (a form multi-dict) decoded as ``shape``; errors keyed by field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    fields = shape_fields(shape)
    for name in submitted:
        if name != CSRF_FIELD and name not in fields:
            errors[""] = gettext(N_("The form sent a field it does not have (%(name)s)."), name=name[:60])
    for name, info in fields.items():
        given = [value for value in submitted.getall(name, []) if isinstance(value, str)]
        if _is_multiple(info.type):
            if given:
                values[name] = given
        elif len(given) > 1:
            errors[name] = gettext(N_("Give one value only."))
        elif given and given[0] != "":
            values[name] = given[0]
        if name in values and name not in errors:
            message = _field_error(values[name], info.type)
            if message:
                errors[name] = message
        elif name not in values and info.required:
            errors[name] = gettext(N_("Enter a value."))
    if errors:
        return Form(values=values, errors=errors)
    try:
        data = msgspec.convert(values, shape, strict=False)
    except msgspec.ValidationError as exc:
        where, message = _located(str(exc))
        return Form(values=values, errors={where: message})
    return Form(values=values, errors={}, data=data)


def _is_multiple(annotation: Any) -> bool:
    inner = get_args(annotation)[0] if get_origin(annotation) is not None and _annotated(annotation) else annotation
    return get_origin(inner) in _MULTIPLE or inner in _MULTIPLE


def _annotated(annotation: Any) -> bool:
    return hasattr(annotation, "__metadata__")


def _field_error(value: Any, annotation: Any) -> str | None:
    try:
        msgspec.convert(value, annotation, strict=False)
    except msgspec.ValidationError as exc:
        return plain(str(exc).split(" - at `", 1)[0])
    return None


def _located(message: str) -> tuple[str, str]:
    text, _, where = message.rpartition(" - at `")
    if not text:
        return "", plain(message)
    return where.rstrip("`").removeprefix("$").removeprefix(".").split(".")[0].split("[")[0], plain(text)


_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Expected `str` of length <= (\d+)$"), N_("Use at most %(n)s characters.")),
    (re.compile(r"^Expected `str` of length >= (\d+)$"), N_("Use at least %(n)s characters.")),
    (re.compile(r"^Expected `(?:int|float)` <= (\S+)$"), N_("Enter a number no greater than %(n)s.")),
    (re.compile(r"^Expected `(?:int|float)` >= (\S+)$"), N_("Enter a number no less than %(n)s.")),
    (re.compile(r"^Expected `int`"), N_("Enter a whole number.")),
    (re.compile(r"^Expected `(?:date|datetime)`"), N_("Enter a date.")),
    (re.compile(r"^Invalid enum value"), N_("Choose one of the options.")),
]
_PATTERN_WORDS = {
    PRINTABLE: N_("Use printable characters only, without control characters."),
    NO_NUL: N_("Remove the NUL character."),
}


def plain(message: str) -> str:
    """A validation message in words a person reads, in their language."""
    for regex, words in _PATTERN_WORDS.items():
        if message == f"Expected `str` matching regex {regex!r}":
            return gettext(words)
    for rule, words in _RULES:
        match = rule.match(message)
        if match:
            return gettext(words, n=match.group(1)) if match.groups() else gettext(words)
    return message
