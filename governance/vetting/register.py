"""The vetting register an evidence bundle prints: every mentor active in a period, with
their checks and the SHA-256 of each document, and nothing personal (no names, no
e-mail addresses, no check details)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from governance.core.periods import bounds
from governance.evidence.contents import CheckLine, DocumentLine, MentorLine
from governance.vetting.tables import Check, Document, Mentor


async def mentors_active(period_start: date, period_end: date, mentor_ids: Sequence[UUID] | None) -> list[MentorLine]:
    """Mentors approved before the period ended and not revoked before it began, ordered by
    their platform id; each with every check (renewals included) and its documents.

    A mentor still onboarding has never been allowed to mentor, so is not in the register.
    """
    start, end = bounds(period_start, period_end)
    query = (
        Mentor.select(
            Mentor.id,
            Mentor.external_id,
            Mentor.jurisdiction,
            Mentor.engagement_type,
            Mentor.status,
            Mentor.status_since,
            Mentor.registered_at,
            Mentor.first_approved_at,
        )
        .where(Mentor.first_approved_at.is_not_null() & (Mentor.first_approved_at < end))
        .order_by(Mentor.external_id)
    )
    if mentor_ids:
        query = query.where(Mentor.id.is_in(list(mentor_ids)))
    mentors = [m for m in await query if not (m["status"] == "revoked" and m["status_since"] < start)]
    if not mentors:
        return []
    checks_of: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    documents_of: dict[Any, list[DocumentLine]] = defaultdict(list)
    ids = [m["id"] for m in mentors]
    # In slices: an IN list of thousands of ids is too long for SQLite's parameter limit.
    for offset in range(0, len(ids), 500):
        some = ids[offset : offset + 500]
        for check in (
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
        ):
            checks_of[check["mentor"]].append(check)
        for document in (
            await Document.select(
                Document.id, Document.check, Document.sha256, Document.size, Document.media_type, Document.uploaded_at
            )
            .where(Document.mentor.is_in(some))
            .order_by(Document.uploaded_at)
        ):
            documents_of[document["check"]].append(
                DocumentLine(
                    document_id=str(document["id"]),
                    sha256=document["sha256"],
                    size=document["size"],
                    media_type=document["media_type"],
                    uploaded_at=document["uploaded_at"],
                )
            )
    return [
        MentorLine(
            mentor_id=str(m["id"]),
            external_id=m["external_id"],
            jurisdiction=m["jurisdiction"],
            engagement_type=m["engagement_type"],
            status=m["status"],
            status_since=m["status_since"],
            registered_at=m["registered_at"],
            first_approved_at=m["first_approved_at"],
            checks=[
                CheckLine(
                    check_id=str(c["id"]),
                    check_type=c["check_type"],
                    state=c["state"],
                    valid_from=c["valid_from"],
                    expires_at=c["expires_at"],
                    reviewed_by=c["reviewed_by"],
                    documents=documents_of.get(c["id"], []),
                )
                for c in checks_of.get(m["id"], [])
            ],
        )
        for m in mentors
    ]
