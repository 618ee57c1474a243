"""Expiry: checks past their validity expire, their mentors lapse, and reminders go out.

Run inside the service every ``GOVERNANCE_VETTING_EXPIRY_INTERVAL`` (and once at start) and by
``governance vetting expire`` (for cron). Both are safe to run at once on several
instances: each check expires through a conditional update that only one run wins, and
each reminder mark is announced once. Everything is audited with actor ``system``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

import msgspec
import structlog

from governance.audit import service as audit
from governance.core import db
from governance.core.identity import SYSTEM
from governance.core.rows import Row, typed_all
from governance.vetting import states
from governance.vetting.registry import mentor_row, refresh_status, requirements_of, touch
from governance.vetting.schemas import ExpiringCheck, ExpiryRun, ReminderMark
from governance.vetting.service import Vetting
from governance.vetting.tables import Check, Mentor, MentorProfile

log = structlog.get_logger("governance.vetting")

# Days before expiry at which a reminder is due (0: the day it expires).
REMINDER_DAYS: Final = (30, 7, 1, 0)
BATCH: Final = 200


class _Expiring(Row):
    """A passed or waived check with an expiry date, as the expiry job and the expiring list read it."""

    id: uuid.UUID
    mentor: uuid.UUID
    state: states.CheckState
    check_type: str
    expires_at: datetime
    reminders_sent: str  # JSON array of the days before expiry already announced


_EXPIRING_COLUMNS: Final = (
    Check.id,
    Check.mentor,
    Check.state,
    Check.check_type,
    Check.expires_at,
    Check.reminders_sent,
)
_MENTOR_PROFILE: Final = (Mentor.id, Mentor.status, Mentor.jurisdiction, Mentor.engagement_type)


def reminder_marks(expires_at: datetime, now: datetime, announced: list[int]) -> list[ReminderMark]:
    """The reminder marks of one expiry date: when each is due and whether it was reached."""
    return [
        ReminderMark(
            days_before=days,
            due_at=expires_at - timedelta(days=days),
            reached=now >= expires_at - timedelta(days=days),
            announced=days in announced,
        )
        for days in REMINDER_DAYS
    ]


async def run(vetting: Vetting, now: datetime) -> ExpiryRun:
    """Expire what is due and announce reminders that were reached; returns the counts."""
    expired, lapsed = await _expire_due(vetting, now)
    reminders = await _announce_reminders(now)
    if expired or reminders:
        log.info("vetting_expiry", checks_expired=expired, mentors_lapsed=lapsed, reminders=reminders)
    return ExpiryRun(checks_expired=expired, mentors_lapsed=lapsed, reminders_announced=reminders)


async def _expire_due(vetting: Vetting, now: datetime) -> tuple[int, int]:
    expired = lapsed = 0
    while True:
        due = (
            await Check.select(*_EXPIRING_COLUMNS)
            .where(Check.state.is_in(list(states.SATISFYING)) & (Check.expires_at <= now))
            .order_by(Check.expires_at)
            .limit(BATCH)
        )
        if not due:
            return expired, lapsed
        for check in typed_all(due, _Expiring):
            try:
                lapsed += await _expire_one(vetting, check, now)
            except _Lost:
                continue  # another run, or an officer, changed it first
            expired += 1


class _Lost(Exception):
    """The check changed under this run; its transaction (and audit entry) is rolled back."""


async def _expire_one(vetting: Vetting, check: _Expiring, now: datetime) -> bool:
    """Expire one check and refresh its mentor's status; True when the mentor lapsed by it."""
    async with db.transaction():
        recorded = await audit.record_change(
            actor=SYSTEM,
            action="vetting.check.expired",
            resource_type="check",
            resource_id=str(check.id),
            details={
                "mentor_id": str(check.mentor),
                "check_type": check.check_type,
                "expires_at": check.expires_at.isoformat(),
            },
        )
        won = (
            await Check.update(
                {
                    Check.state: "expired",
                    Check.state_since: now,
                    Check.last_entry_id: recorded.entry_id,
                    Check.version: Check.version + 1,
                }
            )
            .where((Check.id == check.id) & (Check.state == check.state))
            .returning(Check.id)
        )
        if not won:
            raise _Lost
        mentor = await mentor_row(check.mentor)
        status = await refresh_status(vetting, mentor, SYSTEM, now, cause=f"check {check.id} expired")
    return status == "lapsed" and mentor.status != "lapsed"


async def _announce_reminders(now: datetime) -> int:
    rows = (
        await Check.select(*_EXPIRING_COLUMNS)
        .where(
            Check.state.is_in(list(states.SATISFYING))
            & (Check.expires_at > now)
            & (Check.expires_at <= now + timedelta(days=max(REMINDER_DAYS)))
        )
        .order_by(Check.expires_at)
    )
    announced = 0
    for row in typed_all(rows, _Expiring):
        sent: list[int] = msgspec.json.decode(row.reminders_sent)
        reached = [m.days_before for m in reminder_marks(row.expires_at, now, sent) if m.reached]
        new = [days for days in reached if days not in sent]
        if not new:
            continue
        async with db.transaction():
            updated = (
                await Check.update({Check.reminders_sent: msgspec.json.encode(sorted({*sent, *new})).decode()})
                .where((Check.id == row.id) & (Check.reminders_sent == row.reminders_sent))
                .returning(Check.id)
            )
            if not updated:
                continue
            await audit.record_change(
                actor=SYSTEM,
                action="vetting.check.expiry_reminder",
                resource_type="check",
                resource_id=str(row.id),
                details={
                    "mentor_id": str(row.mentor),
                    "check_type": row.check_type,
                    "expires_at": row.expires_at.isoformat(),
                    # Only the closest mark reached is worth telling; earlier ones are folded in.
                    "days_before": min(new),
                },
            )
            await touch(row.mentor)
        announced += 1
    return announced


async def expiring(vetting: Vetting, within: timedelta, now: datetime) -> list[ExpiringCheck]:
    """Passed or waived checks that expire within ``within`` (or are overdue for the job)."""
    horizon = now + within
    satisfying = Check.state.is_in(list(states.SATISFYING)) & Check.expires_at.is_not_null()
    due_mentors = set(
        await Check.select(Check.mentor).where(satisfying & (Check.expires_at <= horizon)).output(as_list=True)
    )
    if not due_mentors:
        return []
    # All of those mentors' current checks: a later one of the same type may cover a lapse.
    rows = await Check.select(*_EXPIRING_COLUMNS).where(satisfying & Check.mentor.is_in(list(due_mentors)))
    by_mentor: dict[uuid.UUID, list[_Expiring]] = {}
    for row in typed_all(rows, _Expiring):
        by_mentor.setdefault(row.mentor, []).append(row)
    profiles = await Mentor.select(*_MENTOR_PROFILE).where(Mentor.id.is_in(list(due_mentors)))
    mentors = {mentor.id: mentor for mentor in typed_all(profiles, MentorProfile)}
    found = []
    # A check the expiry job expired between the two reads is simply no longer listed.
    for mentor_id in due_mentors & by_mentor.keys() & mentors.keys():
        mentor = mentors[mentor_id]
        counts = {r.check.name: r.count for r in requirements_of(vetting, mentor)}
        for row in by_mentor[mentor_id]:
            if row.expires_at > horizon:
                continue
            outlasting = sum(
                1
                for other in by_mentor[mentor_id]
                if other.check_type == row.check_type and other.expires_at > row.expires_at
            )
            found.append(
                ExpiringCheck(
                    check_id=row.id,
                    mentor_id=mentor_id,
                    mentor_status=mentor.status,
                    check_type=row.check_type,
                    expires_at=row.expires_at,
                    days_left=max(0, (row.expires_at - now).days),
                    covered_by_renewal=outlasting >= counts.get(row.check_type, 1),
                    reminders=reminder_marks(row.expires_at, now, msgspec.json.decode(row.reminders_sent)),
                )
            )
    return sorted(found, key=lambda item: (item.expires_at, str(item.check_id)))
