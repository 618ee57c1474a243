"""The SLA and escalation configuration (``policies/sla.toml``), loaded once and validated.

The complaint and dispute workflows compute every deadline from a :class:`SlaPolicy`,
and ``GET /api/v1/escalation-policy`` is rendered from the same object
(:func:`published`), so what the platform publishes cannot drift from what it does.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from governance.complaints import business_hours
from governance.complaints.business_hours import Calendar
from governance.complaints.schemas import (
    CATEGORIES,
    SEVERITIES,
    ComplaintTargetsView,
    DisputeTierView,
    EscalationPolicyView,
    ExternalReferralView,
)
from governance.core.durations import Duration, DurationError, parse_duration

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIERS: Final = ("L1", "L2", "L3")
Clock = Literal["business", "calendar"]


class PolicyError(ValueError):
    """``sla.toml`` cannot be used; the message names the key."""


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
    severity: dict[str, str]
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


def load(path: Path, *, complaint_appeal_window: timedelta) -> SlaPolicy:
    """Read and validate ``sla.toml``; :class:`PolicyError` names the first bad key."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: {exc}") from None
    return parse(raw, complaint_appeal_window=complaint_appeal_window)


def parse(raw: dict[str, Any], *, complaint_appeal_window: timedelta) -> SlaPolicy:
    calendar = _calendar(_table(raw, "calendar"))
    severity_table = _table(raw, "severity")
    severity = {}
    for category in CATEGORIES:
        value = severity_table.get(category)
        if value not in SEVERITIES:
            raise PolicyError(f"severity.{category}: one of {', '.join(SEVERITIES)}")
        severity[category] = str(value)
    complaints = _table(raw, "complaints")
    targets_table = _table(complaints, "targets", "complaints.")
    targets = {
        s: _targets(_table(targets_table, s, "complaints.targets."), f"complaints.targets.{s}") for s in SEVERITIES
    }
    overrides = {}
    for index, item in enumerate(complaints.get("override", [])):
        where = f"complaints.override[{index}]"
        if item.get("category") not in CATEGORIES or item.get("severity") not in SEVERITIES:
            raise PolicyError(f"{where}: needs a known category and severity")
        overrides[(item["category"], item["severity"])] = _targets(item, where)
    immediate = complaints.get("escalate_immediately", [])
    if not isinstance(immediate, list) or not set(immediate) <= set(CATEGORIES):
        raise PolicyError("complaints.escalate_immediately: a list of categories")
    tiers = {}
    for index, item in enumerate(_table(raw, "disputes").get("tier", [])):
        tier = _tier(item, f"disputes.tier[{index}]")
        tiers[tier.tier] = tier
    if tuple(tiers) != TIERS:
        raise PolicyError(f"disputes.tier: exactly the tiers {', '.join(TIERS)}, in that order")
    external = tuple(
        ExternalReferral(
            name=str(item.get("name", "")),
            when=str(item.get("when", "")),
            contact=str(item.get("contact", "")),
            within=str(item.get("within", "")),
        )
        for item in raw.get("external", [])
    )
    return SlaPolicy(
        calendar=calendar,
        severity=severity,
        targets=targets,
        overrides=overrides,
        escalate_immediately=frozenset(immediate),
        final_response_limit=_duration(complaints, "final_response_limit", "complaints."),
        tiers=tiers,
        external=external,
        complaint_appeal_window=complaint_appeal_window,
    )


def _table(raw: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise PolicyError(f"{prefix}{key}: a table is required")
    return value


def _duration(raw: dict[str, Any], key: str, prefix: str) -> timedelta:
    try:
        value = parse_duration(str(raw[key])).to_timedelta()
    except KeyError:
        raise PolicyError(f"{prefix}{key}: required") from None
    except DurationError as exc:
        raise PolicyError(f"{prefix}{key}: {exc}") from None
    return value


def _clock(raw: dict[str, Any], where: str) -> Clock:
    clock = raw.get("clock")
    if clock == "business":
        return "business"
    if clock == "calendar":
        return "calendar"
    raise PolicyError(f"{where}.clock: 'business' or 'calendar'")


def _targets(raw: dict[str, Any], where: str) -> Targets:
    return Targets(
        clock=_clock(raw, where),
        acknowledge=_duration(raw, "acknowledge", where + "."),
        first_response=_duration(raw, "first_response", where + "."),
        resolve=_duration(raw, "resolve", where + "."),
    )


def _tier(raw: dict[str, Any], where: str) -> Tier:
    outcomes = tuple(raw.get("outcomes", ()))
    if not outcomes or not set(outcomes) <= {"upheld", "amended", "revoked"}:
        raise PolicyError(f"{where}.outcomes: some of upheld, amended, revoked")
    deciders = raw.get("deciders", 1)
    if deciders not in (1, 2):
        raise PolicyError(f"{where}.deciders: 1 or 2")
    return Tier(
        tier=str(raw.get("tier")),
        name=str(raw.get("name", "")),
        decided_by=str(raw.get("decided_by", "")),
        deciders=int(deciders),
        clock=_clock(raw, where),
        decide_within=_duration(raw, "decide_within", where + "."),
        appeal_within=_duration(raw, "appeal_within", where + ".") if "appeal_within" in raw else None,
        outcomes=outcomes,
    )


def _minute(text: Any, where: str) -> int:
    try:
        hours, minutes = (int(part) for part in str(text).split(":"))
    except ValueError:
        raise PolicyError(f"{where}: a local time HH:MM") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > business_hours.MINUTES_PER_DAY:
        raise PolicyError(f"{where}: a local time HH:MM")
    return hours * 60 + minutes


def _calendar(raw: dict[str, Any]) -> Calendar:
    try:
        tz = ZoneInfo(str(raw.get("time_zone")))
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError("calendar.time_zone: an IANA time zone such as Europe/London") from None
    days = raw.get("working_days", [])
    if not isinstance(days, list) or not days or not set(days) <= set(WEEKDAYS):
        raise PolicyError(f"calendar.working_days: a list of {', '.join(WEEKDAYS)}")
    try:
        holidays = frozenset(date.fromisoformat(str(d)) for d in raw.get("holidays", []))
    except ValueError:
        raise PolicyError("calendar.holidays: dates YYYY-MM-DD") from None
    try:
        return Calendar(
            time_zone=tz,
            working_days=frozenset(WEEKDAYS.index(d) for d in days),
            start_minute=_minute(raw.get("start"), "calendar.start"),
            end_minute=_minute(raw.get("end"), "calendar.end"),
            holidays=holidays,
        )
    except ValueError as exc:
        raise PolicyError(f"calendar: {exc}") from None


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
