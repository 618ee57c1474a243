"""What a bundle gathers: registers by period and mentor filter, and data requests judged
on time exactly as the privacy summary counts them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from governance.complaints import reporting as complaints_register
from governance.privacy.summary import answered_on_time
from governance.vetting import reporting as vetting_register

from .conftest import Platform

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DUE = NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("state", "closed_at", "now", "expected"),
    [
        ("completed", DUE - timedelta(hours=1), NOW, True),
        ("completed", DUE, NOW, True),  # on the due instant is on time
        ("rejected", DUE + timedelta(seconds=1), NOW, False),
        ("withdrawn", DUE - timedelta(days=3), NOW, None),  # never answered
        ("in_progress", None, NOW, False),  # open past its due date
        ("extended", None, DUE - timedelta(days=2), None),  # open, not yet due
    ],
)
def test_a_data_request_is_on_time_as_the_summary_counts_it(
    state: str, closed_at: datetime | None, now: datetime, expected: bool | None
) -> None:
    assert answered_on_time(state, DUE, closed_at, now) is expected


async def test_registers_follow_the_period_and_the_mentor_filter(platform: Platform) -> None:
    today = datetime.now(UTC).date()
    approved = [uuid.UUID(m["id"]) for m in platform.mentors[:2]]
    everyone = await vetting_register.mentors_active(today, today, None)
    listed = {line.mentor_id for line in everyone}
    assert {str(m) for m in approved} <= listed and platform.mentors[2]["id"] not in listed
    only = await vetting_register.mentors_active(today, today, [approved[1]])
    assert [line.mentor_id for line in only] == [str(approved[1])]
    documents = {d.sha256 for check in only[0].checks for d in check.documents}
    seeded = {d["sha256"] for check in platform.checks for d in check.get("documents", [])}
    assert documents and documents <= seeded
    # Approved today: not active in a period that ended yesterday.
    yesterday = today - timedelta(days=1)
    assert not {str(m) for m in approved} & {m.mentor_id for m in await vetting_register.mentors_active(
        yesterday - timedelta(days=30), yesterday, None)}  # fmt: skip

    complaints, refunds = await complaints_register.complaints_received(today, today, [approved[0]])
    assert {c.complaint_id for c in complaints} == {c["id"] for c in platform.complaints}
    assert [r.refund_id for r in refunds] == [platform.refunds[0]["id"]], "the refund of a listed complaint"
    _, none_of_theirs = await complaints_register.complaints_received(today, today, [approved[1]])
    assert none_of_theirs == []
    disputes = await complaints_register.disputes_opened(today, today, [approved[0]])
    assert [d.dispute_id for d in disputes] == [platform.disputes[0]["id"]]
