"""The SLA and escalation configuration (``policies/sla.toml``), loaded once and validated.

The complaint and dispute workflows compute every deadline from a :class:`SlaPolicy`,
and ``GET /api/v1/escalation-policy`` is rendered from the same object
(:func:`published`), so what the platform publishes cannot drift from what it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args
from zoneinfo import ZoneInfo

import msgspec

from governance.complaints import business_hours
from governance.complaints.business_hours import Calendar
from governance.complaints.schemas import (
    CATEGORIES,
    SEVERITIES,
    Category,
    ComplaintTargetsView,
    DisputeTierView,
    EscalationPolicyView,
    ExternalReferralView,
    Severity,
)
from governance.core import policyfiles
from governance.core.durations import Duration
from governance.core.policyfiles import ExactDuration, PolicyShape

FILE_NAME: Final = "sla.toml"
TIERS: Final = ("L1", "L2", "L3")
Clock = Literal["business", "calendar"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[Weekday, ...]] = get_args(Weekday)


class PolicyError(policyfiles.PolicyFileError):
    """``sla.toml`` cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Targets:
    """Complaint SLA targets for one (category, severity)."""

    clock: Clock
    acknowledge: timedelta
    first_response: timedelta
    resolve: timedelta


@dataclass(frozen=True, slots=True)
class Tier:
    """One dispute tier."""

    tier: str
    name: str
    decided_by: str
    deciders: int
    clock: Clock
    decide_within: timedelta
    appeal_within: timedelta | None
    outcomes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExternalReferral:
    name: str
    when: str
    contact: str
    within: str


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    calendar: Calendar
    severity: dict[str, Severity]
    targets: dict[str, Targets]  # by severity
    overrides: dict[tuple[str, str], Targets]  # by (category, severity)
    escalate_immediately: frozenset[str]
    final_response_limit: timedelta
    tiers: dict[str, Tier]
    external: tuple[ExternalReferral, ...]
    complaint_appeal_window: timedelta

    def targets_for(self, category: str, severity: str) -> Targets:
        return self.overrides.get((category, severity)) or self.targets[severity]

    def clock(self, kind: Clock) -> Calendar:
        return self.calendar if kind == "business" else self.calendar.as_calendar_time()

    def next_tier(self, tier: str) -> str | None:
        index = TIERS.index(tier)
        return TIERS[index + 1] if index + 1 < len(TIERS) else None


Outcome = Literal["upheld", "amended", "revoked"]
LocalTime = Annotated[str, msgspec.Meta(pattern=r"^\d{1,2}:\d{2}$", description="a local time HH:MM")]


class _CalendarEntry(PolicyShape):
    """``[calendar]`` as written in the file."""

    time_zone: Annotated[ZoneInfo, msgspec.Meta(description="an IANA time zone such as Europe/London")]
    working_days: Annotated[list[Weekday], msgspec.Meta(min_length=1, description=f"a list of {', '.join(WEEKDAYS)}")]
    start: LocalTime
    end: LocalTime
    holidays: list[Annotated[date, msgspec.Meta(description="a date YYYY-MM-DD")]] = []


class _TargetsEntry(PolicyShape):
    """Complaint targets (``[complaints.targets.<severity>]``, ``[[complaints.override]]``)."""

    clock: Clock
    acknowledge: ExactDuration
    first_response: ExactDuration
    resolve: ExactDuration


class _OverrideEntry(_TargetsEntry):
    category: Category
    severity: Severity


class _SeverityTargets(PolicyShape):
    low: _TargetsEntry
    medium: _TargetsEntry
    high: _TargetsEntry
    critical: _TargetsEntry


class _ComplaintsEntry(PolicyShape):
    """``[complaints]`` as written in the file."""

    targets: _SeverityTargets
    final_response_limit: ExactDuration
    escalate_immediately: Annotated[list[Category], msgspec.Meta(description="a list of categories")] = []
    override: list[_OverrideEntry] = []


class _TierEntry(PolicyShape):
    """One ``[[disputes.tier]]`` as written in the file."""

    tier: str
    clock: Clock
    decide_within: ExactDuration
    outcomes: Annotated[list[Outcome], msgspec.Meta(min_length=1, description="some of upheld, amended, revoked")]
    name: str = ""
    decided_by: str = ""
    deciders: Annotated[Literal[1, 2], msgspec.Meta(description="1 or 2")] = 1
    appeal_within: ExactDuration | None = None


class _DisputesEntry(PolicyShape):
    tier: list[_TierEntry] = []


class _ExternalEntry(PolicyShape):
    """One ``[[external]]`` referral as written in the file."""

    name: str = ""
    when: str = ""
    contact: str = ""
    within: str = ""


class _SlaFile(PolicyShape):
    """The whole file as written."""

    calendar: _CalendarEntry
    severity: dict[str, Severity]
    complaints: _ComplaintsEntry
    disputes: _DisputesEntry
    external: list[_ExternalEntry] = []


def load(path: Path, *, complaint_appeal_window: timedelta) -> SlaPolicy:
    """Read and validate ``sla.toml``; :class:`PolicyError` names the file and the first bad key."""
    return parse(
        policyfiles.read(path, error=PolicyError), complaint_appeal_window=complaint_appeal_window, source=str(path)
    )


def parse(raw: dict[str, Any], *, complaint_appeal_window: timedelta, source: str = FILE_NAME) -> SlaPolicy:
    """Validate the decoded TOML document: its shape by msgspec, then the rules across keys."""
    file = policyfiles.decode(raw, _SlaFile, source=source, error=PolicyError)
    for category in CATEGORIES:
        if category not in file.severity:
            raise PolicyError(f"{source}: severity.{category}: one of {', '.join(SEVERITIES)}")
    tiers = {entry.tier: _tier(entry) for entry in file.disputes.tier}
    if tuple(tiers) != TIERS:
        raise PolicyError(f"{source}: disputes.tier: exactly the tiers {', '.join(TIERS)}, in that order")
    targets = file.complaints.targets
    return SlaPolicy(
        calendar=_calendar(file.calendar, source),
        severity={str(category): severity for category, severity in file.severity.items()},
        targets={s: _targets(getattr(targets, s)) for s in SEVERITIES},
        overrides={(item.category, item.severity): _targets(item) for item in file.complaints.override},
        escalate_immediately=frozenset(file.complaints.escalate_immediately),
        final_response_limit=file.complaints.final_response_limit.value,
        tiers=tiers,
        external=tuple(
            ExternalReferral(name=e.name, when=e.when, contact=e.contact, within=e.within) for e in file.external
        ),
        complaint_appeal_window=complaint_appeal_window,
    )


def _targets(entry: _TargetsEntry) -> Targets:
    return Targets(
        clock=entry.clock,
        acknowledge=entry.acknowledge.value,
        first_response=entry.first_response.value,
        resolve=entry.resolve.value,
    )


def _tier(entry: _TierEntry) -> Tier:
    return Tier(
        tier=entry.tier,
        name=entry.name,
        decided_by=entry.decided_by,
        deciders=entry.deciders,
        clock=entry.clock,
        decide_within=entry.decide_within.value,
        appeal_within=None if entry.appeal_within is None else entry.appeal_within.value,
        outcomes=tuple(entry.outcomes),
    )


def _minute(text: str, where: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > business_hours.MINUTES_PER_DAY:
        raise PolicyError(f"{where} must be a local time HH:MM")
    return hours * 60 + minutes


def _calendar(entry: _CalendarEntry, source: str) -> Calendar:
    try:
        return Calendar(
            time_zone=entry.time_zone,
            working_days=frozenset(WEEKDAYS.index(d) for d in entry.working_days),
            start_minute=_minute(entry.start, f"{source}: calendar.start"),
            end_minute=_minute(entry.end, f"{source}: calendar.end"),
            holidays=frozenset(entry.holidays),
        )
    except ValueError as exc:
        if isinstance(exc, PolicyError):
            raise
        raise PolicyError(f"{source}: calendar: {exc}") from None


def _iso(delta: timedelta | None, clock: Clock = "calendar") -> str | None:
    """ISO 8601 text; business-clock budgets in hours (``PT40H``: five 8-hour working days, not 1 day 16 h)."""
    if delta is None:
        return None
    if clock == "business":
        hours, rest = divmod(int(delta.total_seconds()), 3600)
        minutes = rest // 60
        return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes or not hours else "")
    return Duration(exact=delta).isoformat()


def _targets_view(category: str | None, severity: str, targets: Targets) -> ComplaintTargetsView:
    return ComplaintTargetsView(
        category=category,
        severity=severity,
        clock=targets.clock,
        acknowledge_within=_iso(targets.acknowledge, targets.clock) or "",
        first_response_within=_iso(targets.first_response, targets.clock) or "",
        resolve_within=_iso(targets.resolve, targets.clock) or "",
    )


def published(policy: SlaPolicy) -> EscalationPolicyView:
    """The public escalation policy, rendered from the configuration the workflows run on."""
    cal = policy.calendar
    return EscalationPolicyView(
        business_hours=(
            f"{', '.join(WEEKDAYS[d] for d in sorted(cal.working_days))} "
            f"{cal.start_minute // 60:02d}:{cal.start_minute % 60:02d}-{cal.end_minute // 60:02d}:"
            f"{cal.end_minute % 60:02d} {cal.time_zone.key}"
        ),
        holidays=sorted(d.isoformat() for d in cal.holidays),
        clock_pauses="The complaint clock stops while we are waiting for an answer from you.",
        severity_by_category=dict(policy.severity),
        complaint_targets=[
            *(_targets_view(None, s, policy.targets[s]) for s in SEVERITIES),
            *(_targets_view(c, s, t) for (c, s), t in sorted(policy.overrides.items())),
        ],
        escalated_immediately=sorted(policy.escalate_immediately),
        breach="A missed target is flagged and the complaint is escalated to a compliance officer automatically.",
        final_response_within=_iso(policy.final_response_limit) or "",
        complaint_appeal_within=_iso(policy.complaint_appeal_window) or "",
        complaint_outcomes=["upheld", "partially_upheld", "not_upheld"],
        dispute_tiers=[
            DisputeTierView(
                tier=t.tier,
                name=t.name,
                decided_by=t.decided_by,
                deciders=t.deciders,
                clock=t.clock,
                decide_within=_iso(t.decide_within, t.clock) or "",
                appeal_to=policy.next_tier(t.tier),
                appeal_within=_iso(t.appeal_within),
                outcomes=list(t.outcomes),
                revocation_needs_two_deciders="revoked" in t.outcomes,
            )
            for t in policy.tiers.values()
        ],
        external=[
            ExternalReferralView(name=e.name, when=e.when, contact=e.contact, within=e.within) for e in policy.external
        ],
    )
