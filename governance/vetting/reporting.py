"""The vetting register an evidence bundle prints: every mentor active in a period, with
their checks and the SHA-256 of each document; the mentors registered but never approved;
and the reasons of the decisions and waivers about them. No names, e-mail addresses or
check details; the reasons are opened with the mentor's key ("erased" once destroyed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from uuid import UUID

import msgspec

from governance.core.crypto import Keyring, PersonalDataError, SubjectCipher
from governance.core.periods import bounds
from governance.core.reporting import ERASED, ReasonLine
from governance.core.rows import Row, typed_all
from governance.vetting.states import CheckState
from governance.vetting.tables import Check, Decision, DecisionRow, Document, Mentor, MentorProfile

_MENTOR_COLUMNS = (
    Mentor.id,
    Mentor.external_id,
    Mentor.jurisdiction,
    Mentor.engagement_type,
    Mentor.status,
    Mentor.status_since,
    Mentor.registered_at,
    Mentor.first_approved_at,
)


class _Registered(MentorProfile):
    """A mentor as the register lists them: no name, no e-mail address."""

    external_id: str
    status_since: datetime
    registered_at: datetime
    first_approved_at: datetime | None


class _RegisteredCheck(Row):
    id: UUID
    mentor: UUID
    check_type: str
    state: CheckState
    valid_from: datetime | None
    expires_at: datetime | None
    reviewed_by: str | None


class _RegisteredDocument(Row):
    id: UUID
    check: UUID
    sha256: str
    size: int
    media_type: str
    uploaded_at: datetime


class _Waiver(Row):
    """A check whose waiver was asked for, with the justification (ciphertext) and who decided."""

    id: UUID
    mentor: UUID
    check_type: str
    state: CheckState
    justification: str
    waiver_requested_by: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    recorded_at: datetime


class DocumentLine(msgspec.Struct, frozen=True):
    document_id: str
    sha256: str
    size: int
    media_type: str
    uploaded_at: datetime


class CheckLine(msgspec.Struct, frozen=True):
    check_id: str
    check_type: str
    state: str
    valid_from: datetime | None
    expires_at: datetime | None
    reviewed_by: str | None
    documents: list[DocumentLine]


class MentorLine(msgspec.Struct, frozen=True):
    mentor_id: str
    external_id: str
    jurisdiction: str
    engagement_type: str
    status: str
    status_since: datetime
    registered_at: datetime
    first_approved_at: datetime | None
    checks: list[CheckLine]


async def mentors_active(period_start: date, period_end: date, mentor_ids: Sequence[UUID] | None) -> list[MentorLine]:
    """Mentors approved before the period ended and not revoked before it began, ordered by
    their platform id; each with every check (renewals included) and its documents.

    A mentor still onboarding has never been allowed to mentor, so is not in the register.
    """
    start, end = bounds(period_start, period_end)
    query = (
        Mentor.select(*_MENTOR_COLUMNS)
        .where(Mentor.first_approved_at.is_not_null() & (Mentor.first_approved_at < end))
        .order_by(Mentor.external_id)
    )
    if mentor_ids:
        query = query.where(Mentor.id.is_in(list(mentor_ids)))
    mentors = [m for m in typed_all(await query, _Registered) if not (m.status == "revoked" and m.status_since < start)]
    return await _lines(mentors)


async def mentors_never_approved(
    period_start: date, period_end: date, mentor_ids: Sequence[UUID] | None
) -> list[MentorLine]:
    """Mentors registered before the period ended who had not been approved by then (still
    onboarding, or refused), ordered by their platform id, with their checks.

    An accreditor asks what became of the applicants as well as of the mentors: a dossier
    left unfinished, or a refusal, is evidence of vetting too.
    """
    _, end = bounds(period_start, period_end)
    query = (
        Mentor.select(*_MENTOR_COLUMNS)
        .where((Mentor.registered_at < end) & (Mentor.first_approved_at.is_null() | (Mentor.first_approved_at >= end)))
        .order_by(Mentor.external_id)
    )
    if mentor_ids:
        query = query.where(Mentor.id.is_in(list(mentor_ids)))
    return await _lines(typed_all(await query, _Registered))


async def _lines(mentors: list[_Registered]) -> list[MentorLine]:
    if not mentors:
        return []
    checks_of: dict[UUID, list[_RegisteredCheck]] = defaultdict(list)
    documents_of: dict[UUID, list[DocumentLine]] = defaultdict(list)
    ids = [m.id for m in mentors]
    # In slices: an IN list of thousands of ids is too long for SQLite's parameter limit.
    for offset in range(0, len(ids), 500):
        some = ids[offset : offset + 500]
        checks = (
            await Check.select(
                Check.id,
                Check.mentor,
                Check.check_type,
                Check.state,
                Check.valid_from,
                Check.expires_at,
                Check.reviewed_by,
            )
            .where(Check.mentor.is_in(some))
            .order_by(Check.recorded_at)
        )
        for check in typed_all(checks, _RegisteredCheck):
            checks_of[check.mentor].append(check)
        documents = (
            await Document.select(
                Document.id, Document.check, Document.sha256, Document.size, Document.media_type, Document.uploaded_at
            )
            .where(Document.mentor.is_in(some))
            .order_by(Document.uploaded_at)
        )
        for document in typed_all(documents, _RegisteredDocument):
            documents_of[document.check].append(
                DocumentLine(
                    document_id=str(document.id),
                    sha256=document.sha256,
                    size=document.size,
                    media_type=document.media_type,
                    uploaded_at=document.uploaded_at,
                )
            )
    return [
        MentorLine(
            mentor_id=str(m.id),
            external_id=m.external_id,
            jurisdiction=m.jurisdiction,
            engagement_type=m.engagement_type,
            status=m.status,
            status_since=m.status_since,
            registered_at=m.registered_at,
            first_approved_at=m.first_approved_at,
            checks=[
                CheckLine(
                    check_id=str(c.id),
                    check_type=c.check_type,
                    state=c.state,
                    valid_from=c.valid_from,
                    expires_at=c.expires_at,
                    reviewed_by=c.reviewed_by,
                    documents=documents_of.get(c.id, []),
                )
                for c in checks_of.get(m.id, [])
            ],
        )
        for m in mentors
    ]


def _reason(cipher: SubjectCipher | None, sealed: str | None) -> str | None:
    """The plaintext of sealed reasons, :data:`ERASED` once the mentor's key is gone."""
    if not sealed:
        return None
    if cipher is None:
        return ERASED
    try:
        return cipher.decrypt(sealed)
    except PersonalDataError:
        return ERASED


async def decision_reasons(mentors: Sequence[MentorLine], period_end: date, keyring: Keyring) -> list[ReasonLine]:
    """Why each vetting decision about these mentors was taken, and why each waiver was granted.

    Decisions proposed by the period's end that were confirmed, rejected or are still
    proposed (a withdrawn or superseded proposal decided nothing), each with its rationale
    and, when rejected, the second officer's reasons; every check with a waiver
    justification, with it. In the order of the mentors, then of time.
    """
    _, end = bounds(period_end, period_end)
    by_id = {UUID(m.mentor_id): m for m in mentors}
    if not by_id:
        return []
    ids = list(by_id)
    decisions: list[DecisionRow] = []
    waivers: list[_Waiver] = []
    for offset in range(0, len(ids), 500):
        some = ids[offset : offset + 500]
        decided = (
            await Decision.select()
            .where(
                Decision.mentor.is_in(some)
                & Decision.state.is_in(["confirmed", "rejected", "proposed"])
                & (Decision.proposed_at < end)
            )
            .order_by(Decision.proposed_at)
        )
        decisions.extend(typed_all(decided, DecisionRow))
        waived = (
            await Check.select(
                Check.id,
                Check.mentor,
                Check.check_type,
                Check.state,
                Check.justification,
                Check.waiver_requested_by,
                Check.reviewed_by,
                Check.reviewed_at,
                Check.recorded_at,
            )
            .where(Check.mentor.is_in(some) & Check.justification.is_not_null() & (Check.recorded_at < end))
            .order_by(Check.recorded_at)
        )
        waivers.extend(typed_all(waived, _Waiver))
    ciphers = await keyring.readable(str(m) for m in ids)
    lines: dict[UUID, list[ReasonLine]] = {m: [] for m in ids}
    for row in decisions:
        mentor_id = row.mentor
        cipher = ciphers.get(str(mentor_id))
        rationale = _reason(cipher, row.rationale) or ""
        if row.state == "confirmed":
            decision, by, at = f"{row.action}: confirmed", f"{row.proposed_by}, {row.confirmed_by}", row.confirmed_at
        elif row.state == "rejected":
            by = f"{row.proposed_by} (proposed), {row.closed_by} (rejected)"
            decision, at = f"{row.action}: proposal rejected", row.closed_at
            rejection = _reason(cipher, row.closing_reasons)
            rationale = f"Proposed because: {rationale} Rejected because: {rejection or ''}".strip()
        else:
            decision, by, at = f"{row.action}: proposed, not yet confirmed", row.proposed_by, row.proposed_at
        lines[mentor_id].append(
            ReasonLine(
                record_id=by_id[mentor_id].external_id,
                decision=decision,
                decided_by=by,
                decided_at=at,
                reasons=rationale,
            )
        )
    for waiver in waivers:
        lines[waiver.mentor].append(
            ReasonLine(
                record_id=f"{by_id[waiver.mentor].external_id} {waiver.check_type}",
                decision=f"waiver justification (check now {waiver.state})",
                decided_by=waiver.reviewed_by or waiver.waiver_requested_by or "",
                decided_at=waiver.reviewed_at or waiver.recorded_at,
                reasons=_reason(ciphers.get(str(waiver.mentor)), waiver.justification) or "",
            )
        )
    return [line for mentor_id in ids for line in lines[mentor_id]]


class _Effective(Row):
    action: str


async def approved_on(mentor_id: str, day: date) -> bool | None:
    """Whether the mentor's standing on ``day`` (UTC, end of day) came from an approval or reinstatement.

    The last decision confirmed by then decides; None when ``mentor_id`` names no mentor.
    Says nothing else about the mentor (a credential verifier sees only this yes or no).
    """
    try:
        mentor = UUID(mentor_id)
    except ValueError:
        return None
    if not await Mentor.exists().where(Mentor.id == mentor):
        return None
    end = datetime.combine(day, datetime.max.time(), tzinfo=UTC)
    found = (
        await Decision.select(Decision.action)
        .where((Decision.mentor == mentor) & Decision.confirmed_at.is_not_null() & (Decision.confirmed_at <= end))
        .order_by(Decision.confirmed_at, ascending=False)
        .first()
    )
    return found is not None and typed_all([found], _Effective)[0].action in ("approve", "reinstate")
