"""Table rows as typed Structs.

Piccolo's ``select()`` answers each row as a ``dict``; a service that reads ``row["state"]``
is checked by nobody, and a misspelt column fails only when that line runs. A service
declares instead the columns it reads as a :class:`Row` and converts each row once, where
it is read (:func:`typed`, :func:`typed_all`): mypy then checks every use, and a row that
does not have the declared shape fails at once, naming the column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, dataclass_transform

import msgspec

R = TypeVar("R", bound="Row")


@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class Row(msgspec.Struct, frozen=True):
    """Base of a typed row: the columns a service reads, with their Python types.

    Columns the Struct does not name are ignored, so a service declares only what it reads."""


def typed(row: Mapping[str, Any], shape: type[R]) -> R:
    """One row (a Piccolo ``dict``) as ``shape``."""
    return msgspec.convert(row, shape)


def typed_all(rows: Iterable[Mapping[str, Any]], shape: type[R]) -> list[R]:
    """Every row of a select as ``shape``, in order."""
    return msgspec.convert(list(rows), list[shape])  # type: ignore[valid-type]


def dumps(value: Any) -> str:
    """A value for a JSON text column."""
    return msgspec.json.encode(value).decode()


def loads(text: str | None, default: Any) -> Any:
    """A JSON text column's value, ``default`` when empty."""
    return default if not text else msgspec.json.decode(text)
