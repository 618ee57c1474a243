"""Policy files (``policies/*.toml``) decoded by msgspec into typed Structs.

Each domain declares the shape of its file as :class:`PolicyShape` Structs; types,
required keys, enumerations and bounds are then checked by msgspec, and only the rules
that span several keys stay in code (a Struct's ``__post_init__``, or the loader). Every
error names the file, the key path in the file (``checks.interview.validity``) and the
problem, so an operator can fix the file without reading this code.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, dataclass_transform, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from governance.core.durations import Duration, DurationError, parse_duration

T = TypeVar("T")


class PolicyFileError(ValueError):
    """A policy file this service cannot use; the message names the file, the key and the problem."""


@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class PolicyShape(msgspec.Struct, frozen=True):
    """Base of the Structs a policy file decodes into (keys as written in the file)."""


# Durations are written as ISO 8601 text; msgspec hands a type it does not know to the
# decoder's hook, which parses it with the one duration parser (core.durations). A
# Duration is a dataclass, which msgspec would decode from a table, hence the wrappers.
class IsoDuration:
    """An ISO 8601 duration in a policy file (``P1Y``, ``P30D``); ``value`` is the Duration."""

    __slots__ = ("value",)

    def __init__(self, value: Duration) -> None:
        self.value = value


class ExactDuration:
    """An ISO 8601 duration without years or months (``PT40H``); ``value`` is the timedelta.

    SLA clocks count hours, and a month has no fixed number of them."""

    __slots__ = ("value",)

    def __init__(self, value: timedelta) -> None:
        self.value = value


def _hook(type_: Any, value: Any) -> Any:
    try:
        if type_ is IsoDuration:
            return IsoDuration(parse_duration(_text(value)))
        if type_ is ExactDuration:
            return ExactDuration(parse_duration(_text(value)).to_timedelta())
        if type_ is ZoneInfo:
            return ZoneInfo(_text(value))
    except (DurationError, ZoneInfoNotFoundError, ValueError) as exc:
        # ZoneInfoNotFoundError is a KeyError, which msgspec would not turn into a key path.
        problem = str(exc) if not isinstance(exc, ZoneInfoNotFoundError) else f"unknown time zone {value!r}"
        raise ValueError(problem) from None
    raise NotImplementedError(type_)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


def read(path: Path, *, error: type[ValueError] = PolicyFileError) -> dict[str, Any]:
    """The TOML document at ``path`` as a table; ``error`` names the file when it cannot be read."""
    try:
        raw = msgspec.toml.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise error(f"{path}: {exc}") from None
    if not isinstance(raw, dict):  # pragma: no cover - a TOML document is always a table
        raise error(f"{path}: not a TOML table")
    return raw


def decode(
    raw: Mapping[str, Any], type_: type[T], *, source: str, at: str = "", error: type[ValueError] = PolicyFileError
) -> T:
    """``raw`` (a decoded TOML table) as ``type_``; ``error`` names ``source``, the key path and the problem.

    ``at`` is where ``raw`` sits in the file, for a table decoded on its own.
    """
    try:
        return msgspec.convert(raw, type_, dec_hook=_hook)
    except msgspec.ValidationError as exc:
        raise error(f"{source}: {_explain(str(exc), raw, type_, at)}") from None


_AT = re.compile(r"^(?P<problem>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_SEGMENT = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+|\.\.\.)\]")
_MISSING = re.compile(r"^Object missing required field `(?P<key>[^`]+)`$")


def _explain(message: str, raw: Any, type_: Any, at: str) -> str:
    """msgspec's ``problem - at `$.a[...].b``` as ``a.name.b: problem``, in the file's words."""
    match = _AT.match(message)
    if match is None:
        return f"{at}: {message}" if at else message
    keys = [at] if at else []
    for segment in _SEGMENT.finditer(match["path"]):
        if segment["key"] is not None:
            keys.append(segment["key"])
            raw = raw.get(segment["key"]) if isinstance(raw, dict) else None
            type_ = _field_type(type_, segment["key"])
        elif segment["index"] == "...":
            # msgspec does not say which key of a table failed: find it by decoding each entry.
            value_type = _value_type(type_)
            name = _failing_key(raw, value_type)
            keys.append(name)
            raw = raw.get(name) if isinstance(raw, dict) else None
            type_ = value_type
        else:
            keys[-1:] = [f"{keys[-1] if keys else ''}[{segment['index']}]"]
            raw = raw[int(segment["index"])] if isinstance(raw, list) else None
            type_ = _item_type(type_)
    where = ".".join(keys)
    problem = match["problem"].replace("`", "")
    missing = _MISSING.match(match["problem"])
    if missing is not None:
        return f"{where + ': ' if where else ''}'{missing['key']}' is required"
    if match["problem"] == "Expected `str` of length >= 1" and keys:
        # Empty text where text is required reads as a missing key to whoever wrote the file.
        parent = ".".join(keys[:-1])
        return f"{parent + ': ' if parent else ''}'{keys[-1]}' is required"
    expected = _expectation(type_)
    if expected is not None and not problem.startswith(("Object", "Expected `object`")):
        return f"{where} must be {expected}"
    return f"{where}: {problem}" if where else problem


def _failing_key(raw: Any, value_type: Any) -> str:
    if isinstance(raw, dict):
        for name, value in raw.items():
            try:
                msgspec.convert(value, value_type, dec_hook=_hook)
            except msgspec.ValidationError:
                return str(name)
    return "..."


def _strip(type_: Any) -> Any:
    """The type behind ``Annotated[...]`` and ``X | None``."""
    while get_origin(type_) is typing.Annotated:
        type_ = get_args(type_)[0]
    if get_origin(type_) in (Union, types.UnionType):
        options = [t for t in get_args(type_) if t is not type(None)]
        if len(options) == 1:
            return _strip(options[0])
    return type_


def _field_type(type_: Any, key: str) -> Any:
    struct = _strip(type_)
    if isinstance(struct, type) and issubclass(struct, msgspec.Struct):
        hints = typing.get_type_hints(struct, include_extras=True)
        return hints.get(key)
    return None


def _value_type(type_: Any) -> Any:
    args = get_args(_strip(type_))
    return args[1] if len(args) == 2 else Any


def _item_type(type_: Any) -> Any:
    args = get_args(_strip(type_))
    return args[0] if args else Any


def _expectation(type_: Any) -> str | None:
    """What a key must hold, in words: the ``Meta`` description, or a Literal's choices."""
    if get_origin(type_) in (Union, types.UnionType):
        options = [t for t in get_args(type_) if t is not type(None)]
        type_ = options[0] if len(options) == 1 else type_
    while get_origin(type_) is typing.Annotated:
        for meta in get_args(type_)[1:]:
            if isinstance(meta, msgspec.Meta) and meta.description:
                return meta.description
        type_ = get_args(type_)[0]
    if get_origin(type_) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(type_))
    if type_ is bool:
        return "true or false"
    return None
