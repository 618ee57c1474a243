"""The canonical leaf encoding, property-tested."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.audit.leaf import (
    canonical_json,
    details_are_canonical,
    entry_leaf_input,
    leaf_input,
    roles_are_canonical,
)

text = st.text(max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(
    seq=st.integers(0, 2**62),
    time=instants,
    sub=text,
    roles=st.lists(text, max_size=3),
    action=text,
    resource_type=text,
    resource_id=st.none() | text,
    request_id=st.none() | text,
    outcome=st.sampled_from(["success", "denied", "failure"]),
    details=st.dictionaries(text, json_values, max_size=5),
)
def test_leaf_input_is_sorted_compact_json_that_says_what_was_recorded(
    seq: int,
    time: datetime,
    sub: str,
    roles: list[str],
    action: str,
    resource_type: str,
    resource_id: str | None,
    request_id: str | None,
    outcome: str,
    details: dict[str, object],
) -> None:
    raw = leaf_input(
        seq=seq,
        time=time,
        actor_sub=sub,
        actor_roles=canonical_json(roles),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        request_id=request_id,
        outcome=outcome,
        details=canonical_json(details),
    )
    decoded = json.loads(raw)
    assert json.dumps(decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() == raw
    assert decoded == {
        "action": action,
        "actor": {"roles": roles, "sub": sub},
        "details": details,
        "outcome": outcome,
        "request_id": request_id,
        "resource": {"id": resource_id, "type": resource_type},
        "seq": seq,
        "time": decoded["time"],
        "v": 1,
    }
    assert datetime.fromisoformat(decoded["time"]) == time
    assert decoded["time"].endswith("Z")


def test_the_same_instant_in_another_zone_encodes_identically() -> None:
    fields = {
        "seq": 1,
        "actor_sub": "s",
        "actor_roles": "[]",
        "action": "a",
        "resource_type": "t",
        "resource_id": None,
        "request_id": None,
        "outcome": "success",
        "details": "{}",
    }
    utc = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
    berlin = utc.astimezone(timezone(timedelta(hours=1)))
    assert leaf_input(time=utc, **fields) == leaf_input(time=berlin, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('["auditor"]', True),
        ('["auditor"] ', False),
        ('[ "auditor"]', False),
        ('["auditor"],"sub":"x"', False),
        ("[1]", False),
        ('{"a":1}', False),
    ],
)
def test_roles_must_be_canonical_lists_of_strings(text: str, canonical: bool) -> None:
    assert roles_are_canonical(text) is canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('{"a":1,"b":[true,null]}', True),
        ('{"b":1,"a":2}', False),
        ('{"a": 1}', False),
        ("{}}", False),
        ("[]", False),
    ],
)
def test_details_must_be_canonical_objects(text: str, canonical: bool) -> None:
    assert details_are_canonical(text) is canonical


@given(
    seq=st.integers(0, 2**62),
    time=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
    ),
    sub=text,
    roles=text,
    action=text,
    resource_type=text,
    resource_id=st.none() | text,
    request_id=st.none() | text,
    outcome=text,
    details=text,
)
def test_verification_encodes_a_stored_entry_exactly_as_it_was_recorded(
    seq: int,
    time: datetime,
    sub: str,
    roles: str,
    action: str,
    resource_type: str,
    resource_id: str | None,
    request_id: str | None,
    outcome: str,
    details: str,
) -> None:
    """entry_leaf_input (verification's per-row encoder) gives leaf_input's bytes for any
    stored values, canonical or not: roles and details are embedded verbatim by both."""
    assert entry_leaf_input(
        seq, time, sub, roles, action, resource_type, resource_id, request_id, outcome, details
    ) == leaf_input(
        seq=seq,
        time=time,
        actor_sub=sub,
        actor_roles=roles,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        request_id=request_id,
        outcome=outcome,
        details=details,
    )
