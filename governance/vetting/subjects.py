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
from typing import Any

import msgspec

from governance.core.crypto import Keyring, SubjectCipher
from governance.core.subjects import Erased, ErasureOutcome, Hold, Kept, RetentionRecord, SubjectData
from governance.vetting.service import specialties_of, touch
from governance.vetting.tables import Check, Decision, Document, Mentor, Rating

EVIDENCE = "accreditation evidence of the mentor's vetting; personal fields unreadable after erasure"


def _mentor_id(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


def _open(cipher: SubjectCipher | None, value: str | None) -> str | None:
    return cipher.read(value) if cipher else None


class VettingSubjects:
    """The :class:`~governance.core.subjects.SubjectProvider` of the vetting module."""

    module = "vetting"
    retention_categories: tuple[str, ...] = ()

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def _mentor(self, subject: str) -> dict[str, Any] | None:
        mentor_id = _mentor_id(subject)
        if mentor_id is None:
            return None
        row: dict[str, Any] | None = await Mentor.select().where(Mentor.id == mentor_id).first()
        return row

    async def export(self, subject: str) -> SubjectData:
        data: dict[str, Any] = {}
        ids: list[str] = []
        ratings_given = await Rating.select(
            Rating.id, Rating.mentor, Rating.session_id, Rating.score, Rating.session_at, Rating.recorded_at
        ).where(Rating.mentee_id == subject)
        if ratings_given:
            data["ratings_given"] = ratings_given
            ids += [str(r["id"]) for r in ratings_given]
        mentor = await self._mentor(subject)
        if mentor is not None:
            cipher = (await self._keyring.readable([subject]))[subject]
            checks = await Check.select().where(Check.mentor == mentor["id"])
            decisions = await Decision.select().where(Decision.mentor == mentor["id"])
            documents = await Document.select().where(Document.mentor == mentor["id"])
            ratings = await Rating.select(Rating.id, Rating.score, Rating.session_at).where(
                Rating.mentor == mentor["id"]
            )
            data["mentor"] = {
                "id": mentor["id"],
                "external_id": mentor["external_id"],
                "display_name": _open(cipher, mentor["display_name"]),
                "email": _open(cipher, mentor["email"]),
                "jurisdiction": mentor["jurisdiction"],
                "specialties": specialties_of(mentor, cipher),
                "engagement_type": mentor["engagement_type"],
                "status": mentor["status"],
                "registered_at": mentor["registered_at"],
            }
            data["checks"] = [
                {
                    "id": c["id"],
                    "check_type": c["check_type"],
                    "state": c["state"],
                    "details": msgspec.json.decode(d) if (d := _open(cipher, c["details"])) else None,
                    "recorded_at": c["recorded_at"],
                    "valid_from": c["valid_from"],
                    "expires_at": c["expires_at"],
                }
                for c in checks
            ]
            data["decisions"] = [
                {
                    "id": d["id"],
                    "action": d["action"],
                    "state": d["state"],
                    "rationale": _open(cipher, d["rationale"]),
                    "proposed_at": d["proposed_at"],
                    "confirmed_at": d["confirmed_at"],
                    "closed_at": d["closed_at"],
                    "closing_reasons": _open(cipher, d["closing_reasons"]),
                }
                for d in decisions
            ]
            data["documents"] = [
                {
                    "id": d["id"],
                    "check_id": d["check"],
                    "filename": _open(cipher, d["filename"]),
                    "sha256": d["sha256"],
                    "media_type": d["media_type"],
                    "uploaded_at": d["uploaded_at"],
                }
                for d in documents
            ]
            data["ratings_received"] = ratings
            ids += [str(r["id"]) for r in (*checks, *decisions, *documents)]
        return SubjectData(module=self.module, data=data, resource_ids=ids)

    async def holds(self, subject: str) -> list[Hold]:
        return []  # vetting has no open cases that forbid deletion: it deletes nothing

    async def on_erasure(self, subject: str, now: datetime) -> ErasureOutcome:
        erased: list[Erased] = []
        kept: list[Kept] = []
        given = await Rating.count().where(Rating.mentee_id == subject)
        if given:
            kept.append(Kept(self.module, "rating", given, "session ratings of mentors; no personal fields"))
        mentor = await self._mentor(subject)
        if mentor is not None:
            # Specialties were kept in clear before they were sealed: they go now.
            await Mentor.update({Mentor.specialties: "[]"}).where(
                (Mentor.id == mentor["id"]) & Mentor.specialties.like("[%")
            )
            # Bump the version and tell every instance: cached dossiers are rendered anew.
            await touch(mentor["id"])
            checks = await Check.count().where(Check.mentor == mentor["id"])
            decisions = await Decision.count().where(Decision.mentor == mentor["id"])
            documents = await Document.count().where(Document.mentor == mentor["id"])
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
