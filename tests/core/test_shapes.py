"""Typed shapes declared once: every API and export Struct takes its configuration from a core base."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import msgspec
import pytest

import governance
from governance.core.shapes import Document, Input, View
from governance.core.subjects import ExportRecord


def _structs(module_suffix: str) -> list[type[msgspec.Struct]]:
    found = []
    for info in pkgutil.walk_packages(governance.__path__, "governance."):
        if not info.name.endswith(module_suffix):
            continue
        module = importlib.import_module(info.name)
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, msgspec.Struct) and value.__module__ == info.name
        ]
    return found


SCHEMAS = _structs(".schemas")
EXPORTS = _structs(".exports")


def test_the_domains_declare_their_api_shapes_in_schemas_modules() -> None:
    assert {s.__module__.split(".")[1] for s in SCHEMAS} >= {"audit", "complaints", "evidence", "privacy", "vetting"}


@pytest.mark.parametrize("struct", SCHEMAS, ids=lambda s: f"{s.__module__}.{s.__name__}")
def test_every_api_shape_is_a_view_or_an_input_and_immutable(struct: type[msgspec.Struct]) -> None:
    assert issubclass(struct, View | Input)
    config = struct.__struct_config__
    assert config.frozen, "a view or input never changes once built"
    # A request body refuses an unknown field (422 naming it); a response never carries one.
    assert config.forbid_unknown_fields is issubclass(struct, Input)


@pytest.mark.parametrize("struct", EXPORTS, ids=lambda s: f"{s.__module__}.{s.__name__}")
def test_every_export_record_is_a_closed_immutable_document(struct: type[msgspec.Struct]) -> None:
    assert issubclass(struct, Document)
    assert struct.__struct_config__.frozen and struct.__struct_config__.forbid_unknown_fields


def test_an_unknown_field_in_a_request_body_is_refused_naming_it() -> None:
    from governance.complaints.schemas import NoteCreate

    with pytest.raises(msgspec.ValidationError, match="Object contains unknown field `colour`"):
        msgspec.json.decode(b'{"body": "hello", "colour": "red"}', type=NoteCreate)


def test_export_records_share_the_document_base() -> None:
    assert issubclass(ExportRecord, Document)
