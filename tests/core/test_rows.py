"""Rows read as typed Structs: a service states the columns it reads, and a wrong row fails at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from governance.core.rows import Row, typed, typed_all
from governance.privacy.tables import DataRequestRow


class _Case(Row):
    id: uuid.UUID
    state: str
    closed_at: datetime | None


def test_a_row_becomes_its_declared_shape_and_other_columns_are_left_out() -> None:
    ident = uuid.uuid4()
    case = typed({"id": ident, "state": "open", "closed_at": None, "secret": "not declared"}, _Case)
    assert case == _Case(id=ident, state="open", closed_at=None)
    assert not hasattr(case, "secret")
    with pytest.raises(AttributeError):
        case.state = "closed"  # type: ignore[misc]


def test_a_row_of_the_wrong_shape_fails_naming_the_column() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Object missing required field `state`"):
        typed({"id": uuid.uuid4(), "closed_at": None}, _Case)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.closed_at"):
        typed({"id": uuid.uuid4(), "state": "open", "closed_at": "yesterday"}, _Case)


def test_typed_all_keeps_the_order_of_the_select() -> None:
    rows = [{"id": uuid.uuid4(), "state": str(n), "closed_at": datetime(2026, 1, n, tzinfo=UTC)} for n in (3, 1, 2)]
    assert [case.state for case in typed_all(rows, _Case)] == ["3", "1", "2"]


def test_a_data_request_row_refuses_a_state_the_workflow_does_not_know() -> None:
    row = {
        "id": uuid.uuid4(),
        "subject": "mentee-1",
        "request_type": "access",
        "state": "lost",
        "reason_code": None,
        "description": None,
        "filed_by": "mentee-1",
        "received_at": datetime(2026, 11, 1, tzinfo=UTC),
        "due_at": datetime(2026, 12, 1, tzinfo=UTC),
        "extended_at": None,
        "extension_reason": None,
        "rejection_reason": None,
        "closed_at": None,
        "export_key": None,
        "export_sha256": None,
        "export_created_at": None,
        "certificate": None,
        "erased_at": None,
        "version": 1,
        "last_seq": 7,
        "last_entry_id": None,
    }
    assert typed({**row, "state": "received"}, DataRequestRow).state == "received"
    with pytest.raises(msgspec.ValidationError, match=r"Invalid enum value 'lost' - at `\$\.state`"):
        typed(row, DataRequestRow)
