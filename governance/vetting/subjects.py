"""Vetting's data about a subject, for access requests and erasure.

A mentor is a data subject: their id is their subject. Their vetting history is kept
after an erasure as accreditation evidence, and only its personal fields (encrypted
under the mentor's key, documents included) become unreadable; the mentor's ``version``
is bumped so that cached dossiers are rendered again. A mentee appears in vetting only
as the author of session ratings, by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from governance.core.crypto import Keyring
from governance.core.subjects import Erased, ErasureOutcome, Hold, Kept, RetentionRecord, SubjectData
from governance.vetting import exports
from governance.vetting.registry import touch
from governance.vetting.tables import Check, Decision, Document, Mentor, Rating

EVIDENCE = "accreditation evidence of the mentor's vetting; personal fields unreadable after erasure"


def _mentor_id(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


class VettingSubjects:
    """The :class:`~governance.core.subjects.SubjectProvider` of the vetting module."""

    module = "vetting"
    retention_categories: tuple[str, ...] = ()

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def _registered(self, subject: str) -> uuid.UUID | None:
        """The subject's id, when they are a registered mentor."""
        mentor_id = _mentor_id(subject)
        if mentor_id is None or not await Mentor.exists().where(Mentor.id == mentor_id):
            return None
        return mentor_id

    async def export(self, subject: str) -> SubjectData:
        data, resource_ids = await exports.export(self._keyring, subject)
        return SubjectData(module=self.module, data=data, resource_ids=resource_ids)

    async def holds(self, subject: str) -> list[Hold]:
        return []  # vetting has no open cases that forbid deletion: it deletes nothing

    async def on_erasure(self, subject: str, now: datetime) -> ErasureOutcome:
        erased: list[Erased] = []
        kept: list[Kept] = []
        given = await Rating.count().where(Rating.mentee_id == subject)
        if given:
            kept.append(Kept(self.module, "rating", given, "session ratings of mentors; no personal fields"))
        mentor_id = await self._registered(subject)
        if mentor_id is not None:
            # Specialties were kept in clear before they were sealed: they go now.
            await Mentor.update({Mentor.specialties: "[]"}).where(
                (Mentor.id == mentor_id) & Mentor.specialties.like("[%")
            )
            # Bump the version and tell every instance: cached dossiers are rendered anew.
            await touch(mentor_id)
            checks = await Check.count().where(Check.mentor == mentor_id)
            decisions = await Decision.count().where(Decision.mentor == mentor_id)
            documents = await Document.count().where(Document.mentor == mentor_id)
            erased += [
                Erased(self.module, "mentor.display_name,email,specialties", 1, "crypto-shredded"),
                Erased(self.module, "check.details,notes,justification", checks, "crypto-shredded"),
                Erased(self.module, "decision.rationale", decisions, "crypto-shredded"),
                Erased(self.module, "document.content,filename", documents, "crypto-shredded"),
            ]
            kept += [
                Kept(self.module, "mentor", 1, EVIDENCE),
                Kept(self.module, "check", checks, EVIDENCE),
                Kept(self.module, "decision", decisions, EVIDENCE),
                Kept(self.module, "document", documents, EVIDENCE),
            ]
        return ErasureOutcome(erased=[e for e in erased if e.count], kept=[k for k in kept if k.count])

    async def retention_records(self, category: str, since_before: datetime, limit: int) -> list[RetentionRecord]:
        return []

    async def dispose(self, records: Sequence[RetentionRecord], now: datetime) -> int:
        return 0
