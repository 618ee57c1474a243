"""The readiness summary: the vetting figures an accreditor asks for first."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Final

import msgspec
from piccolo.query.functions.aggregate import Count

from governance.core.rows import typed_all
from governance.vetting import states
from governance.vetting.registry import facts_by_mentor, gaps_of
from governance.vetting.schemas import ReadinessSummary
from governance.vetting.service import Vetting
from governance.vetting.tables import Check, Decision, Mentor, MentorProfile

ACTIVE = ("approved", "lapsed")


class _Onboarded(MentorProfile):
    """A mentor with when they registered and when they were first approved (None: not yet)."""

    registered_at: datetime
    first_approved_at: datetime | None


async def readiness(vetting: Vetting, now: datetime) -> ReadinessSummary:
    """Mentors by status, the share of active mentors fully vetted and current, checks
    expiring within 30 days, and the median days from registration to first approval.

    Judged at ``now`` from the checks themselves, so a check that ran out since the last
    expiry run already counts as not current.
    """
    selected = await Mentor.select(
        Mentor.id,
        Mentor.status,
        Mentor.jurisdiction,
        Mentor.engagement_type,
        Mentor.registered_at,
        Mentor.first_approved_at,
    )
    mentors = typed_all(selected, _Onboarded)
    by_status: dict[str, int] = dict.fromkeys(states.MENTOR_STATUSES, 0)
    for mentor in mentors:
        by_status[mentor.status] += 1
    active = [m for m in mentors if m.status in ACTIVE]
    ciphers = await vetting.keyring.readable(str(m.id) for m in active)
    facts = await facts_by_mentor([m.id for m in active], ciphers)
    current = sum(1 for m in active if not gaps_of(vetting, m, facts.get(m.id, []), now))
    expiring = await Check.count().where(
        Check.state.is_in(list(states.SATISFYING))
        & (Check.expires_at > now)
        & (Check.expires_at <= now + timedelta(days=30))
    )
    waits = [
        (m.first_approved_at - m.registered_at).total_seconds() / 86400
        for m in mentors
        if m.first_approved_at is not None
    ]
    return ReadinessSummary(
        as_of=now,
        mentors_by_status=by_status,
        active_mentors=len(active),
        active_fully_vetted_and_current=current,
        share_fully_vetted_and_current=round(current / len(active), 4) if active else None,
        checks_expiring_within_30_days=expiring,
        median_days_onboarding_to_approval=round(statistics.median(waits), 2) if waits else None,
        requirements_version=vetting.requirements.version,
    )


class Watch(msgspec.Struct, frozen=True):
    """Mentors by status, and what needs an officer soon: satisfying checks running out within 1, 7 and 30 days
    (each count includes the shorter horizons), and decisions awaiting a second officer."""

    as_of: datetime
    mentors_by_status: dict[str, int]  # every status, zeros included
    checks_expiring: dict[int, int]  # days ahead -> checks whose expiry falls within them
    decisions_awaiting_second_officer: int


WATCH_DAYS: Final = (1, 7, 30)


async def watch(now: datetime) -> Watch:
    """Counts only, in SQL (a few indexed counts however many mentors there are)."""
    satisfying = Check.state.is_in(list(states.SATISFYING)) & (Check.expires_at > now)
    expiring = {
        days: await Check.count().where(satisfying & (Check.expires_at <= now + timedelta(days=days)))
        for days in WATCH_DAYS
    }
    waiting = await Decision.count().where(Decision.state == "proposed")
    by_status: dict[str, int] = dict.fromkeys(states.MENTOR_STATUSES, 0)
    for group in await Mentor.select(Mentor.status, Count(alias="count")).group_by(Mentor.status):
        by_status[group["status"]] = by_status.get(group["status"], 0) + int(group["count"])
    return Watch(
        as_of=now, mentors_by_status=by_status, checks_expiring=expiring, decisions_awaiting_second_officer=waiting
    )
