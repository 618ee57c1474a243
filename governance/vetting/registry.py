"""The register of mentors and their derived status.

A mentor's status is never written by a caller: it is derived
(:func:`~governance.vetting.states.derive_status`) from their standing (the last confirmed
decision) and whether every required check is current, and recomputed by each change
that can move it (:func:`refresh_status`, in the changing transaction). Every change to
a mentor's dossier bumps their ``version``, the dossier's ETag and cache key (:func:`touch`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import msgspec
from piccolo.query.functions.aggregate import Min

from governance.audit import service as audit
from governance.core import cache, db
from governance.core.crypto import SubjectCipher
from governance.core.errors import Problem, not_found
from governance.core.identity import Identity
from governance.core.pagination import Page, by_time
from governance.core.rows import Row, typed, typed_all
from governance.core.versioning import bump_version
from governance.vetting import states
from governance.vetting.requirements import Requirement
from governance.vetting.schemas import MentorRegistration, MentorView
from governance.vetting.tables import Check, Document, Mentor, MentorProfile, MentorRow

if TYPE_CHECKING:
    from governance.vetting.service import Vetting


# Cached dossiers are kept under this topic (governance.vetting.dossier).
DOSSIER_TOPIC = "mentor"


async def register_mentor(vetting: Vetting, data: MentorRegistration, actor: Identity, now: datetime) -> MentorView:
    """Register a mentor; they start ``onboarding``. Name, email and specialties are stored encrypted."""
    if await Mentor.exists().where(Mentor.external_id == data.external_id):
        existing = await Mentor.select(Mentor.id).where(Mentor.external_id == data.external_id).output(as_list=True)
        raise Problem(
            409,
            "already-registered",
            f"A mentor with external_id {data.external_id!r} is already registered",
            mentor_id=str(existing[0]) if existing else None,
        )
    mentor_id = uuid.uuid4()
    try:
        await _insert_mentor(vetting, mentor_id, data, actor, now)
    except Exception as exc:
        if db.is_unique_violation(exc):  # the same registration, sent twice at once
            raise Problem(
                409, "already-registered", f"A mentor with external_id {data.external_id!r} is already registered"
            ) from None
        raise
    return await get_mentor(vetting, mentor_id)


async def _insert_mentor(
    vetting: Vetting, mentor_id: uuid.UUID, data: MentorRegistration, actor: Identity, now: datetime
) -> None:
    async with db.transaction():
        cipher = await vetting.keyring.cipher(str(mentor_id), create=True)
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.mentor.registered",
            resource_type="mentor",
            resource_id=str(mentor_id),
            details={
                "external_id": data.external_id,
                "jurisdiction": data.jurisdiction,
                "engagement_type": data.engagement_type,
                "requirements_version": vetting.requirements.version,
            },
        )
        await Mentor.insert(
            Mentor(
                id=mentor_id,
                external_id=data.external_id,
                display_name=cipher.encrypt(data.display_name),
                email=cipher.encrypt(data.email),
                jurisdiction=data.jurisdiction,
                specialties=cipher.encrypt(msgspec.json.encode(data.specialties).decode()),
                engagement_type=data.engagement_type,
                standing="onboarding",
                status="onboarding",
                status_since=now,
                registered_at=now,
                registered_by=actor.sub,
                version=1,
                registered_entry_id=recorded.entry_id,
            )
        )


def mentor_view(row: MentorRow, cipher: SubjectCipher | None) -> MentorView:
    return MentorView(
        id=row.id,
        external_id=row.external_id,
        display_name=cipher.read(row.display_name) if cipher else None,
        email=cipher.read(row.email) if cipher else None,
        jurisdiction=row.jurisdiction,
        engagement_type=row.engagement_type,
        specialties=specialties_of(row, cipher),
        status=row.status,
        status_since=row.status_since,
        registered_at=row.registered_at,
        version=row.version,
    )


def specialties_of(row: MentorRow, cipher: SubjectCipher | None) -> list[str]:
    """The mentor's specialties: ciphertext under their key (empty once erased), or a JSON
    list written in clear before they were sealed."""
    stored = row.specialties
    if stored.startswith("["):
        return cast(list[str], msgspec.json.decode(stored))
    opened = cipher.read(stored) if cipher else None
    return cast(list[str], msgspec.json.decode(opened)) if opened else []


async def mentor_row(mentor_id: uuid.UUID) -> MentorRow:
    row = await Mentor.select().where(Mentor.id == mentor_id).first()
    if row is None:
        raise not_found("mentor", mentor_id)
    return typed(row, MentorRow)


async def unknown_mentors(mentor_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Those of ``mentor_ids`` that name no registered mentor, in the order given."""
    wanted = list(dict.fromkeys(mentor_ids))
    if not wanted:
        return []
    known = set(await Mentor.select(Mentor.id).where(Mentor.id.is_in(wanted)).output(as_list=True))
    return [mentor_id for mentor_id in wanted if mentor_id not in known]


async def get_mentor(vetting: Vetting, mentor_id: uuid.UUID) -> MentorView:
    """One mentor, personal fields decrypted (null once erased)."""
    row = await mentor_row(mentor_id)
    ciphers = await vetting.keyring.readable([str(mentor_id)])
    return mentor_view(row, ciphers[str(mentor_id)])


async def list_mentors(
    vetting: Vetting,
    status: str | None,
    limit: int,
    cursor: str | None,
    *,
    expiring: tuple[datetime, datetime] | None = None,
) -> Page[MentorView]:
    """Mentors in registration order, optionally of one status, and optionally only those
    with a passed or waived check that lapses within ``expiring`` (from, until): one
    query, filtered and paginated in SQL however many mentors there are."""
    query = Mentor.select()
    if status is not None:
        query = query.where(Mentor.status == status)
    if expiring is not None:
        start, until = expiring
        lapsing = Check.select(Check.mentor).where(
            Check.state.is_in(sorted(states.SATISFYING)) & (Check.expires_at > start) & (Check.expires_at <= until)
        )
        query = query.where(Mentor.id.is_in(lapsing))
    page, next_cursor = await by_time(query, Mentor.registered_at, Mentor.id, limit=limit, cursor=cursor)
    rows = typed_all(page, MentorRow)
    ciphers = await vetting.keyring.readable(str(row.id) for row in rows)
    items = [mentor_view(row, ciphers[str(row.id)]) for row in rows]
    return Page(items=items, next_cursor=next_cursor)


async def next_lapses(mentor_ids: Iterable[uuid.UUID], now: datetime) -> dict[uuid.UUID, datetime]:
    """When each of these mentors' next passed or waived check lapses (absent: none will),
    in one grouped query, for a page of mentors."""
    wanted = list(dict.fromkeys(mentor_ids))
    if not wanted:
        return {}
    rows = (
        await Check.select(Check.mentor, Min(Check.expires_at, alias="lapses_at"))
        .where(Check.mentor.is_in(wanted) & Check.state.is_in(sorted(states.SATISFYING)) & (Check.expires_at > now))
        .group_by(Check.mentor)
    )
    return {uuid.UUID(str(row["mentor"])): _instant(row["lapses_at"]) for row in rows}


def _instant(value: datetime | str) -> datetime:
    # An aggregate skips the column's conversion: SQLite answers the stored ISO 8601 text.
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def requirements_of(vetting: Vetting, mentor: MentorProfile) -> list[Requirement]:
    return vetting.requirements.for_mentor(mentor.jurisdiction, mentor.engagement_type)


async def check_facts(mentor_id: uuid.UUID, cipher: SubjectCipher | None) -> list[states.CheckFacts]:
    """What the approval rules need about every check of a mentor."""
    return (await facts_by_mentor([mentor_id], {str(mentor_id): cipher})).get(mentor_id, [])


class _JudgedCheck(Row):
    """What the approval rules read of a check (its documents are counted apart)."""

    id: uuid.UUID
    mentor: uuid.UUID
    check_type: str
    state: states.CheckState
    expires_at: datetime | None
    details: str  # ciphertext


async def facts_by_mentor(
    mentor_ids: list[uuid.UUID], ciphers: Mapping[str, SubjectCipher | None]
) -> dict[uuid.UUID, list[states.CheckFacts]]:
    """Check facts of many mentors in two queries (details decrypted with their ciphers)."""
    if not mentor_ids:
        return {}
    rows = await Check.select(
        Check.id, Check.mentor, Check.check_type, Check.state, Check.expires_at, Check.details
    ).where(Check.mentor.is_in(mentor_ids))
    documents = Document.select(Document.check).where(Document.mentor.is_in(mentor_ids))
    counts = Counter(await documents.output(as_list=True))
    found: dict[uuid.UUID, list[states.CheckFacts]] = {}
    for row in typed_all(rows, _JudgedCheck):
        found.setdefault(row.mentor, []).append(
            states.CheckFacts(
                check_type=row.check_type,
                state=row.state,
                expires_at=row.expires_at,
                details=check_details(row.details, ciphers.get(str(row.mentor))),
                documents=counts.get(row.id, 0),
            )
        )
    return found


def check_details(ciphertext: str, cipher: SubjectCipher | None) -> dict[str, str]:
    """A check's details, opened with the mentor's cipher (empty once they were erased)."""
    opened = cipher.read(ciphertext) if cipher else None
    return cast(dict[str, str], msgspec.json.decode(opened)) if opened else {}


def gaps_of(vetting: Vetting, mentor: MentorProfile, facts: list[states.CheckFacts], now: datetime) -> list[states.Gap]:
    return states.gaps(
        ((r.check.name, r.count, r.expect) for r in requirements_of(vetting, mentor)),
        facts,
        now,
    )


async def refresh_status(
    vetting: Vetting,
    mentor: MentorRow,
    actor: Identity,
    now: datetime,
    cause: str,
    standing: states.Standing | None = None,
) -> states.MentorStatus:
    """Recompute the mentor's status (in the caller's transaction); audit and store a change.

    Also bumps the mentor's version: every caller has just changed the dossier.
    """
    standing = standing or mentor.standing
    cipher = (await vetting.keyring.readable([str(mentor.id)]))[str(mentor.id)]
    facts = await check_facts(mentor.id, cipher)
    met = not gaps_of(vetting, mentor, facts, now)
    status = states.derive_status(standing, met)
    changes: dict[Any, Any] = {Mentor.standing: standing}
    if status != mentor.status:
        changes.update({Mentor.status: status, Mentor.status_since: now})
        await audit.record_change(
            actor=actor,
            action="vetting.mentor.status_changed",
            resource_type="mentor",
            resource_id=str(mentor.id),
            details={"from": mentor.status, "to": status, "cause": cause},
        )
    await Mentor.update(changes).where(Mentor.id == mentor.id)
    await touch(mentor.id)
    return status


async def touch(mentor_id: uuid.UUID) -> None:
    """Record that the mentor's dossier changed (in the caller's transaction): bump the
    version (the dossier's ETag) and tell every instance's cache."""
    await bump_version(Mentor, mentor_id)
    await cache.announce(DOSSIER_TOPIC, str(mentor_id))


async def attestations_changed(mentor_ids: Iterable[str]) -> None:
    """Dossiers show each mentor's attestation quality, which moves with their attestations
    and with other mentors' attestations of the same candidates: registered as the
    attestations' change hook (:mod:`governance.wiring`), it runs in the changing
    transaction for every mentor whose figures may have changed.
    Ids that are not registered mentors are ignored."""
    wanted = []
    for mentor_id in set(mentor_ids):
        with contextlib.suppress(ValueError):
            wanted.append(uuid.UUID(mentor_id))
    if not wanted:
        return
    for mentor_id in await Mentor.select(Mentor.id).where(Mentor.id.is_in(wanted)).output(as_list=True):
        await touch(mentor_id)
