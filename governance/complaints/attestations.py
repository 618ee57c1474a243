"""Attestations: recorded by the platform, with a history of every status they had.

Status is ``valid``, ``disputed`` (while a dispute is open), ``amended`` (a dispute gave it
a new score and version) or ``revoked`` (final, as in W3C VC status lists: a revoked
attestation never changes again). Employers verify a token publicly through
:func:`public_status`: the status, since when, and whether their token's SHA-256 matches.

Other domains react to attestation changes through a registered hook
(:func:`on_attestations_changed`), never by this module importing them: vetting's dossiers
show each mentor's attestation quality, and the application wiring connects the two.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from governance.audit import service as audit
from governance.complaints import agreement
from governance.complaints.attestation_templates import Templates, load_templates
from governance.complaints.rows import AttestationRow, AttestationStatusRow
from governance.complaints.schemas import (
    AgreementFigure,
    AgreementFigures,
    AttestationCreate,
    AttestationStatus,
    AttestationStatusView,
    AttestationView,
    StatusChangeView,
)
from governance.complaints.tables import Attestation, AttestationStatusChange, Dispute
from governance.core import db
from governance.core.errors import Problem, field_error, not_found
from governance.core.identity import Identity
from governance.core.reporting import AttestationQuality
from governance.core.rows import Row, typed, typed_all
from governance.core.versioning import lock_for_update, update_versioned

RESOURCE: Final = "attestation"
# The repository's templates, until governance.bootstrap connects the deployment's.
_DEFAULT_POLICIES: Final = Path(__file__).resolve().parents[2] / "policies"
_templates: list[Templates] = []


def use_templates(templates: Templates) -> None:
    """Check attestations against ``templates`` (the deployment's, loaded at start-up)."""
    _templates[:] = [templates]


def templates() -> Templates:
    if not _templates:
        _templates.append(load_templates(_DEFAULT_POLICIES))
    return _templates[0]


AGREEMENT_WINDOW: Final = timedelta(days=90)


def check_template(competency: str, version: str, score: int, *, score_field: str = "score") -> None:
    """422 naming the field when no template has this id and version, or the score is off its scale."""
    known = templates()
    template = known.find(competency, version)
    if template is None:
        versions = sorted(t.version for t in known.all() if t.id == competency)
        if versions:
            raise field_error(
                "rubric_version", f"template {competency!r} has no version {version!r}: {', '.join(versions)}", 422
            )
        names = ", ".join(sorted({t.id for t in known.all()}))
        raise field_error("competency", f"no attestation template {competency!r}; the templates are: {names}", 422)
    if not template.minimum <= score <= template.maximum:
        raise field_error(
            score_field,
            f"{template.name} ({template.version}) scores from {template.minimum} to {template.maximum}",
            422,
        )


async def record(*, actor: Identity, data: AttestationCreate, now: datetime) -> AttestationView:
    """Record an attestation a mentor issued: 422 naming the field when its template (``competency``
    at ``rubric_version``) is unknown or its score is off the template's scale; 409 when its id
    is already recorded."""
    check_template(data.competency, data.rubric_version, data.score)
    attestation_id = data.id or uuid.uuid4()
    try:
        await _insert(attestation_id, actor=actor, data=data, now=now)
    except Exception as exc:
        if db.is_unique_violation(exc):  # the same id, sent twice at once
            raise Problem(409, "attestation-exists", f"Attestation {attestation_id} is already recorded") from None
        raise
    return await get(attestation_id)


async def _insert(attestation_id: uuid.UUID, *, actor: Identity, data: AttestationCreate, now: datetime) -> None:
    async with db.transaction():
        if await Attestation.exists().where(Attestation.id == attestation_id):
            raise Problem(409, "attestation-exists", f"Attestation {attestation_id} is already recorded")
        await Attestation.insert(
            Attestation(
                id=attestation_id,
                mentor_id=data.mentor_id,
                candidate_id=data.candidate_id,
                competency=data.competency,
                score=data.score,
                rubric_version=data.rubric_version,
                session_id=data.session_id,
                session_date=data.session_date,
                token_sha256=data.token_sha256,
                status="valid",
                status_since=now,
                version=1,
                recorded_by=actor.sub,
                recorded_at=now,
            )
        )
        await _history(attestation_id, "valid", now, 1, data.score, None, "recorded")
        await audit.record_change(
            actor=actor,
            action="attestation.recorded",
            resource_type=RESOURCE,
            resource_id=str(attestation_id),
            details={
                "mentor_id": data.mentor_id,
                "candidate_id": data.candidate_id,
                "competency": data.competency,
                "score": data.score,
                "rubric_version": data.rubric_version,
                "token_sha256": data.token_sha256,
            },
        )
        await _quality_may_have_changed(data.candidate_id)
        await _announce(AttestationEvent(attestation_id, None, "valid", 1, 1, actor, now))


async def get(attestation_id: uuid.UUID) -> AttestationView:
    found = await Attestation.select().where(Attestation.id == attestation_id).first()
    if found is None:
        raise not_found("attestation", attestation_id)
    row = typed(found, AttestationRow)
    changes = typed_all(
        await AttestationStatusChange.select()
        .where(AttestationStatusChange.attestation_id == attestation_id)
        .order_by(AttestationStatusChange.at),
        AttestationStatusRow,
    )
    return AttestationView(
        id=row.id,
        mentor_id=row.mentor_id,
        candidate_id=row.candidate_id,
        competency=row.competency,
        score=row.score,
        rubric_version=row.rubric_version,
        session_id=row.session_id,
        session_date=row.session_date,
        token_sha256=row.token_sha256,
        status=row.status,
        status_since=row.status_since,
        version=row.version,
        history=[
            StatusChangeView(
                status=c.status,
                at=c.at,
                version=c.version,
                score=c.score,
                dispute_id=c.dispute_id,
                reason=c.reason,
            )
            for c in changes
        ],
    )


class _Parties(Row):
    mentor_id: str
    candidate_id: str


async def parties(attestation_id: uuid.UUID) -> tuple[str, str] | None:
    """``(mentor_id, candidate_id)`` of an attestation, or None when there is none."""
    found = (
        await Attestation.select(Attestation.mentor_id, Attestation.candidate_id)
        .where(Attestation.id == attestation_id)
        .first()
    )
    if found is None:
        return None
    row = typed(found, _Parties)
    return row.mentor_id, row.candidate_id


class _PublicStatus(Row):
    status: AttestationStatus
    status_since: datetime
    token_sha256: str


async def public_status(attestation_id: uuid.UUID, digest: str | None) -> AttestationStatusView:
    """Status, since when, and whether ``digest`` (SHA-256 hex of the token) matches; nothing else."""
    found = (
        await Attestation.select(Attestation.status, Attestation.status_since, Attestation.token_sha256)
        .where(Attestation.id == attestation_id)
        .first()
    )
    if found is None:
        raise not_found("attestation", attestation_id)
    row = typed(found, _PublicStatus)
    matches = None if digest is None else hmac.compare_digest(digest.lower(), row.token_sha256)
    return AttestationStatusView(status=row.status, since=row.status_since, digest_matches=matches)


async def locked(attestation_id: uuid.UUID) -> AttestationRow:
    row = await lock_for_update(Attestation.select().where(Attestation.id == attestation_id)).first()
    if row is None:
        raise not_found("attestation", attestation_id)
    return typed(row, AttestationRow)


async def change_status(
    row: AttestationRow,
    status: AttestationStatus,
    *,
    actor: Identity,
    now: datetime,
    dispute_id: uuid.UUID,
    reason: str,
    new_score: int | None = None,
) -> None:
    """Change an attestation's status inside the caller's transaction (history + audit).

    ``amended`` sets the new score and a new version. A revoked attestation never changes.
    """
    if row.status == "revoked":
        raise Problem(409, "attestation-revoked", "A revoked attestation is final")
    changes: dict[Any, Any] = {"status": status, "status_since": now}
    version, score = row.version, row.score
    if status == "disputed":
        changes["status_before_dispute"] = row.status
    if status == "amended" and new_score is not None:
        # Attestations recorded before templates were enforced keep whatever scale they had.
        if templates().find(row.competency, row.rubric_version) is not None:
            check_template(row.competency, row.rubric_version, new_score, score_field="new_score")
        # A new score is a new version of the attestation; a status alone is not.
        version, score = version + 1, new_score
        changes["score"] = score
        await update_versioned(Attestation, row.id, row.version, changes)
    else:
        await Attestation.update(changes).where(Attestation.id == row.id)
    await _history(row.id, status, now, version, score, dispute_id, reason)
    await audit.record_change(
        actor=actor,
        action="attestation.status_changed",
        resource_type=RESOURCE,
        resource_id=str(row.id),
        details={
            "from": row.status,
            "to": status,
            "version": version,
            "score": score,
            "dispute_id": str(dispute_id),
        },
    )
    await _quality_may_have_changed(row.candidate_id)
    await _announce(AttestationEvent(row.id, row.status, status, row.version, version, actor, now))


@dataclass(frozen=True, slots=True)
class AttestationEvent:
    """An attestation was recorded (``before`` is None) or changed status, maybe to a new version."""

    attestation_id: uuid.UUID
    before: AttestationStatus | None
    after: AttestationStatus
    version_before: int
    version_after: int
    actor: Identity
    at: datetime


# Awaited inside the recording or changing transaction, so that what a listener writes
# (a credential, a status bit, their audit entries) commits or rolls back with the change.
AttestationEventListener = Callable[[AttestationEvent], Awaitable[None]]
_event_listeners: list[AttestationEventListener] = []


def on_attestation_event(listener: AttestationEventListener) -> None:
    """Register ``listener`` for each recorded or changed attestation; registering it again changes nothing."""
    if listener not in _event_listeners:
        _event_listeners.append(listener)


async def _announce(event: AttestationEvent) -> None:
    for listener in _event_listeners:
        await listener(event)


# Awaited in the changing transaction with the ids of every mentor whose attestation
# figures may have moved (ids that name no mentor are the listener's to ignore).
AttestationsChanged = Callable[[Iterable[str]], Awaitable[None]]
_listeners: list[AttestationsChanged] = []


def on_attestations_changed(listener: AttestationsChanged) -> None:
    """Register ``listener`` for attestation changes; registering the same one again changes nothing."""
    if listener not in _listeners:
        _listeners.append(listener)


async def _quality_may_have_changed(candidate_id: str) -> None:
    """Every mentor who assessed this candidate may now agree more or less with the others."""
    if not _listeners:
        return
    rows = await Attestation.select(Attestation.mentor_id).where(Attestation.candidate_id == candidate_id)
    mentor_ids = [row.mentor_id for row in typed_all(rows, _Mentor)]
    for listener in _listeners:
        await listener(mentor_ids)


class _Mentor(Row):
    mentor_id: str


async def _history(
    attestation_id: uuid.UUID,
    status: str,
    at: datetime,
    version: int,
    score: int,
    dispute_id: uuid.UUID | None,
    reason: str | None,
) -> None:
    await AttestationStatusChange.insert(
        AttestationStatusChange(
            id=uuid.uuid4(),
            attestation_id=attestation_id,
            status=status,
            at=at,
            version=version,
            score=score,
            dispute_id=dispute_id,
            reason=reason,
        )
    )


_ASSESSMENT_COLUMNS: Final = (
    Attestation.candidate_id,
    Attestation.competency,
    Attestation.rubric_version,
    Attestation.session_date,
    Attestation.score,
    Attestation.mentor_id,
)


class _Assessment(Row):
    """One score, as agreement compares it with the others of the same unit."""

    candidate_id: str
    competency: str
    rubric_version: str
    session_date: date
    score: int
    mentor_id: str


class _Decided(Row):
    attestation_id: uuid.UUID
    outcome: str | None


async def quality(mentor_id: str) -> AttestationQuality:
    """How a mentor's scores lean against other mentors', and how their disputed attestations ended.

    Leniency: for each of the mentor's attestations, the other mentors' attestations of the
    same candidate, on the same template and version, with session dates at most 90 days
    apart (each other mentor's latest), give a consensus: their mean score. One comparison
    is the mentor's score less that consensus; leniency is the mean over comparisons.
    Revoked attestations take no part. Disputes: among the mentor's attestations whose
    disputes were decided, the share amended or revoked.
    """
    mine = typed_all(
        await Attestation.select(*_ASSESSMENT_COLUMNS).where(
            (Attestation.mentor_id == mentor_id) & (Attestation.status != "revoked")
        ),
        _Assessment,
    )
    deviations: list[float] = []
    candidates = sorted({a.candidate_id for a in mine})
    if candidates:
        others = typed_all(
            await Attestation.select(*_ASSESSMENT_COLUMNS).where(
                Attestation.candidate_id.is_in(candidates)
                & (Attestation.mentor_id != mentor_id)
                & (Attestation.status != "revoked")
            ),
            _Assessment,
        )
        by_key: dict[tuple[str, str, str], list[_Assessment]] = {}
        for other in others:
            by_key.setdefault((other.candidate_id, other.competency, other.rubric_version), []).append(other)
        for a in mine:
            latest: dict[str, _Assessment] = {}
            for b in by_key.get((a.candidate_id, a.competency, a.rubric_version), []):
                near = abs(a.session_date - b.session_date) <= AGREEMENT_WINDOW
                if near and (b.mentor_id not in latest or b.session_date > latest[b.mentor_id].session_date):
                    latest[b.mentor_id] = b
            if latest:
                deviations.append(a.score - sum(b.score for b in latest.values()) / len(latest))
    lean = agreement.leniency(deviations)
    decided = typed_all(
        await Dispute.select(Dispute.attestation_id, Dispute.outcome).where(
            (Dispute.mentor_id == mentor_id) & Dispute.state.is_in(["decided", "revoked"])
        ),
        _Decided,
    )
    disputed = {d.attestation_id for d in decided}
    changed = {d.attestation_id for d in decided if d.outcome in ("amended", "revoked")}
    return AttestationQuality(
        mentor_id=mentor_id,
        window_days=AGREEMENT_WINDOW.days,
        comparisons=lean.comparisons,
        minimum_comparisons=agreement.MINIMUM_COMPARISONS,
        leniency=lean.mean_deviation,
        disputed_attestations=len(disputed),
        amended_or_revoked=len(changed),
        amended_or_revoked_share=len(changed) / len(disputed) if disputed else None,
    )


async def agreement_over(start: date, end: date, templates: Templates) -> AgreementFigures:
    """Krippendorff's ordinal alpha per template (and version) and platform-wide, over the
    attestations with session dates from ``start`` to ``end`` (inclusive), revoked ones left out.

    A unit is a candidate on a template and version; each mentor's latest score in the
    window is their value. Platform-wide pools every template's units on one scale, the
    union of the templates' scales. Unknown templates (recorded before templates were
    enforced) count platform-wide only.
    """
    rows = typed_all(
        await Attestation.select(*_ASSESSMENT_COLUMNS)
        .where(
            (Attestation.session_date >= start) & (Attestation.session_date <= end) & (Attestation.status != "revoked")
        )
        .order_by(Attestation.session_date),
        _Assessment,
    )
    units: dict[tuple[str, str, str], dict[str, int]] = {}
    for row in rows:  # in date order, so a later score replaces the mentor's earlier one
        units.setdefault((row.competency, row.rubric_version, row.candidate_id), {})[row.mentor_id] = row.score
    keys = sorted(units)
    every_score = sorted({s for t in templates.all() for s in range(t.minimum, t.maximum + 1)} | _scores(units))
    platform = agreement.ordinal_alpha([units[k] for k in keys], every_score)
    by_template = []
    for template in templates.all():
        scale = range(template.minimum, template.maximum + 1)
        # Scores recorded before templates were enforced may lie off the scale: they take no part.
        mine = [
            {mentor: score for mentor, score in units[k].items() if score in scale}
            for k in keys
            if k[:2] == (template.id, template.version)
        ]
        figure = agreement.ordinal_alpha(mine, scale)
        by_template.append(_figure(figure, template.id, template.version, template.name))
    return AgreementFigures(
        window_start=start,
        window_end=end,
        minimum_ratings=agreement.MINIMUM_RATINGS,
        confidence=agreement.CONFIDENCE,
        resamples=agreement.RESAMPLES,
        seed=agreement.SEED,
        platform=_figure(platform, None, None, None),
        by_template=by_template,
    )


def _scores(units: dict[tuple[str, str, str], dict[str, int]]) -> set[int]:
    return {score for unit in units.values() for score in unit.values()}


def _figure(alpha: agreement.Alpha, template: str | None, version: str | None, name: str | None) -> AgreementFigure:
    return AgreementFigure(
        template=template,
        template_version=version,
        name=name,
        units=alpha.units,
        pairable_ratings=alpha.ratings,
        mentors=alpha.raters,
        alpha=alpha.alpha,
        interval_low=alpha.low,
        interval_high=alpha.high,
    )
