"""The vetting module's part of an access export: typed records of everything it holds about a subject.

A mentor finds their registration, every check (details, officers' notes and waiver
justifications included: personal data about them, GDPR Art. 15), every decision with
its rationale, their documents' metadata and the ratings they received (without the
raters' ids, which are the mentees'). A mentee finds the ratings they gave.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec

from governance.core.crypto import Keyring, SubjectCipher
from governance.core.rows import typed, typed_all
from governance.core.subjects import ExportRecord, Instant
from governance.vetting.registry import specialties_of
from governance.vetting.tables import (
    Check,
    CheckRow,
    Decision,
    DecisionRow,
    Document,
    DocumentRow,
    Mentor,
    MentorRow,
    Rating,
    RatingRow,
)


class RatingGiven(ExportRecord):
    """A session rating the subject gave a mentor."""

    id: uuid.UUID
    mentor_id: uuid.UUID
    session_id: str
    score: int
    session_at: Instant
    recorded_at: Instant


class RatingReceived(ExportRecord):
    """A session rating the subject received as a mentor (the rater's id is theirs, not exported)."""

    id: uuid.UUID
    session_id: str
    score: int
    session_at: Instant
    recorded_at: Instant


class MentorRecord(ExportRecord):
    """The subject's registration as a mentor."""

    id: uuid.UUID
    external_id: str
    display_name: str | None
    email: str | None
    jurisdiction: str
    specialties: list[str]
    engagement_type: str
    standing: str
    status: str
    status_since: Instant
    registered_at: Instant
    registered_by: str
    first_approved_at: Instant | None
    version: int


class CheckRecord(ExportRecord):
    """One vetting check of the mentor."""

    id: uuid.UUID
    check_type: str
    state: str
    requirements_version: str
    details: Annotated[dict[str, Any] | None, msgspec.Meta(description="The check's details as recorded.")]
    notes: Annotated[
        str | None, msgspec.Meta(description="Officers' internal notes, not shown in the mentor's dossier.")
    ]
    justification: Annotated[str | None, msgspec.Meta(description="Why a waiver was asked for.")]
    recorded_by: str
    recorded_at: Instant
    reviewed_by: str | None
    reviewed_at: Instant | None
    waiver_requested_by: str | None
    valid_from: Instant | None
    expires_at: Instant | None
    reminders_sent: Annotated[list[int], msgspec.Meta(description="Days before expiry a reminder was sent.")]
    state_since: Instant


class DecisionRecord(ExportRecord):
    """A decision about the mentor (four-eyes: proposed, then confirmed or closed)."""

    id: uuid.UUID
    action: str
    state: str
    requirements_version: str
    rationale: str | None
    proposed_by: str
    proposed_at: Instant
    confirmed_by: str | None
    confirmed_at: Instant | None
    closed_by: str | None
    closed_at: Instant | None
    closing_reasons: str | None


class DocumentRecord(ExportRecord):
    """A document uploaded as evidence for a check (the file itself stays in the dossier)."""

    id: uuid.UUID
    check_id: uuid.UUID
    filename: str | None
    sha256: str
    size: int
    media_type: str
    uploaded_by: str
    uploaded_at: Instant


class VettingExport(ExportRecord):
    """Everything the vetting module holds about the subject."""

    ratings_given: list[RatingGiven]
    mentor: MentorRecord | None
    checks: list[CheckRecord]
    decisions: list[DecisionRecord]
    documents: list[DocumentRecord]
    ratings_received: list[RatingReceived]


def _open(cipher: SubjectCipher | None, value: str | None) -> str | None:
    return cipher.read(value) if cipher else None


def _mentor_id(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


def _check(c: CheckRow, cipher: SubjectCipher | None) -> CheckRecord:
    details = _open(cipher, c.details)
    return CheckRecord(
        id=c.id,
        check_type=c.check_type,
        state=c.state,
        requirements_version=c.requirements_version,
        details=msgspec.json.decode(details) if details else None,
        notes=_open(cipher, c.notes),
        justification=_open(cipher, c.justification),
        recorded_by=c.recorded_by,
        recorded_at=c.recorded_at,
        reviewed_by=c.reviewed_by,
        reviewed_at=c.reviewed_at,
        waiver_requested_by=c.waiver_requested_by,
        valid_from=c.valid_from,
        expires_at=c.expires_at,
        reminders_sent=msgspec.json.decode(c.reminders_sent or "[]"),
        state_since=c.state_since,
    )


async def export(keyring: Keyring, subject: str) -> tuple[VettingExport, list[str]]:
    """Everything the vetting module holds about ``subject``, and the ids of those records."""
    given = typed_all(await Rating.select().where(Rating.mentee_id == subject).order_by(Rating.session_at), RatingRow)
    ids = [str(r.id) for r in given]
    ratings_given = [
        RatingGiven(
            id=r.id,
            mentor_id=r.mentor,
            session_id=r.session_id,
            score=r.score,
            session_at=r.session_at,
            recorded_at=r.recorded_at,
        )
        for r in given
    ]
    mentor_id = _mentor_id(subject)
    found = None if mentor_id is None else await Mentor.select().where(Mentor.id == mentor_id).first()
    if found is None:
        empty = VettingExport(
            ratings_given=ratings_given, mentor=None, checks=[], decisions=[], documents=[], ratings_received=[]
        )
        return empty, ids
    mentor = typed(found, MentorRow)
    cipher = (await keyring.readable([subject]))[subject]
    checks = typed_all(await Check.select().where(Check.mentor == mentor.id).order_by(Check.recorded_at), CheckRow)
    decisions = typed_all(
        await Decision.select().where(Decision.mentor == mentor.id).order_by(Decision.proposed_at), DecisionRow
    )
    documents = typed_all(
        await Document.select().where(Document.mentor == mentor.id).order_by(Document.uploaded_at), DocumentRow
    )
    received = typed_all(await Rating.select().where(Rating.mentor == mentor.id).order_by(Rating.session_at), RatingRow)
    part = VettingExport(
        ratings_given=ratings_given,
        mentor=MentorRecord(
            id=mentor.id,
            external_id=mentor.external_id,
            display_name=_open(cipher, mentor.display_name),
            email=_open(cipher, mentor.email),
            jurisdiction=mentor.jurisdiction,
            specialties=specialties_of(mentor, cipher),
            engagement_type=mentor.engagement_type,
            standing=mentor.standing,
            status=mentor.status,
            status_since=mentor.status_since,
            registered_at=mentor.registered_at,
            registered_by=mentor.registered_by,
            first_approved_at=mentor.first_approved_at,
            version=mentor.version,
        ),
        checks=[_check(c, cipher) for c in checks],
        decisions=[
            DecisionRecord(
                id=d.id,
                action=d.action,
                state=d.state,
                requirements_version=d.requirements_version,
                rationale=_open(cipher, d.rationale),
                proposed_by=d.proposed_by,
                proposed_at=d.proposed_at,
                confirmed_by=d.confirmed_by,
                confirmed_at=d.confirmed_at,
                closed_by=d.closed_by,
                closed_at=d.closed_at,
                closing_reasons=_open(cipher, d.closing_reasons),
            )
            for d in decisions
        ],
        documents=[
            DocumentRecord(
                id=d.id,
                check_id=d.check,
                filename=_open(cipher, d.filename),
                sha256=d.sha256,
                size=d.size,
                media_type=d.media_type,
                uploaded_by=d.uploaded_by,
                uploaded_at=d.uploaded_at,
            )
            for d in documents
        ],
        ratings_received=[
            RatingReceived(
                id=r.id,
                session_id=r.session_id,
                score=r.score,
                session_at=r.session_at,
                recorded_at=r.recorded_at,
            )
            for r in received
        ],
    )
    ids += [str(mentor.id), *(str(c.id) for c in checks), *(str(d.id) for d in decisions)]
    ids += [str(d.id) for d in documents]
    return part, ids
