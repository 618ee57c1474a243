"""The dossier: everything a mentor's vetting rests on, in one document.

Dossiers are read far more often than they change, so the rendered JSON is cached per
audience (staff, or the mentor without staff's internal items: notes, proposals not yet
confirmed, waivers not yet granted; see :func:`audience_of`) in a
:class:`~governance.core.cache.FreshCache` under the topic ``mentor``: every change to a
mentor or anything in their dossier bumps the mentor's ``version`` and announces it in
the same transaction (:func:`governance.vetting.registry.touch`). A rendering also
carries the instant at which time alone would change it (the next check expiry, a
rating leaving the window), after which it is rendered anew.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import msgspec
from piccolo.columns.combination import WhereRaw

from governance.audit import service as audit
from governance.audit.schemas import AuditQuery
from governance.core import db
from governance.core.cache import FreshCache, Loaded
from governance.core.crypto import SubjectCipher
from governance.core.errors import invalid_parameter
from governance.core.identity import Identity
from governance.core.pagination import Page, decode_cursor, encode_cursor
from governance.core.reporting import AttestationQuality
from governance.core.rows import Row, typed_all
from governance.core.visibility import is_staff
from governance.vetting import ratings, states
from governance.vetting.checks import check_row
from governance.vetting.decisions import PROPOSAL_ORDER, decision_view, trail
from governance.vetting.decisions import entry_ids as decision_entry_ids
from governance.vetting.registry import DOSSIER_TOPIC, check_facts, gaps_of, mentor_row, mentor_view, requirements_of
from governance.vetting.schemas import (
    CheckView,
    DocumentView,
    Dossier,
    Gap,
    RatingView,
    RequirementView,
    WaiverRequest,
)
from governance.vetting.service import Vetting
from governance.vetting.tables import Check, CheckRow, Decision, DecisionRow, Document, DocumentRow, Rating

Audience = Literal["staff", "mentor"]
CACHE_SIZE: Final = 4096
TOPIC: Final = DOSSIER_TOPIC
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class RenderedDossier:
    body: bytes
    etag: str
    # The same dossier as a value, for the page (decoding the body again costs a page more
    # than rendering it from what is kept).
    dossier: Dossier


@dataclass(frozen=True, slots=True)
class StatusEntries:
    """The audit entries of the mentor's registration and of their status now (the latest
    registration or status change), which the dossier page links to."""

    registered_seq: int | None
    status_seq: int | None


class DossierCache:
    """Rendered dossiers per audience, kept fresh by the mentor's version (see core.cache)."""

    def __init__(self, capacity: int = CACHE_SIZE) -> None:
        self._by_audience: dict[Audience, FreshCache[RenderedDossier]] = {
            audience: FreshCache(TOPIC, _version_of, capacity) for audience in ("staff", "mentor")
        }
        # The dossier page's two facts about the mentor themselves (see status_entries).
        self.status_entries: FreshCache[StatusEntries] = FreshCache(TOPIC, _version_of, capacity)

    def of(self, audience: Audience) -> FreshCache[RenderedDossier]:
        return self._by_audience[audience]

    def forget(self, mentor_id: uuid.UUID) -> None:
        for cache in self._by_audience.values():
            cache.forget(str(mentor_id))


# Where a dossier reads the mentor's attestation quality: complaints computes it, and
# vetting must not import complaints, so the wiring plugs the reader in at start
# (:func:`governance.wiring.connect_domains`), as it plugs complaints' change hook.
AttestationQualityReader = Callable[[str], Awaitable[AttestationQuality]]
_quality_reader: list[AttestationQualityReader] = []


def read_attestation_quality_with(reader: AttestationQualityReader) -> None:
    """Use ``reader`` for the attestation quality every dossier shows (the last one plugged in)."""
    _quality_reader[:] = [reader]


async def _attestation_quality(mentor_id: str) -> AttestationQuality:
    if not _quality_reader:
        raise RuntimeError("no attestation quality reader is connected: start through governance.bootstrap")
    return await _quality_reader[0](mentor_id)


def audience_of(reader: Identity) -> Audience:
    """The rendering ``reader`` gets, by the one rule of :mod:`governance.core.visibility`:
    internal items are staff's; a mentor never wrote any, so no rendering per reader is needed."""
    return "staff" if is_staff(reader) else "mentor"


async def current_version(mentor_id: uuid.UUID) -> int | None:
    row = await db.fetch_row("SELECT version FROM vetting_mentor WHERE id = {}", mentor_id)
    return int(row["version"]) if row else None


async def _version_of(key: str) -> int | None:
    return await current_version(uuid.UUID(key))


async def read(
    vetting: Vetting, cache: DossierCache, mentor_id: uuid.UUID, audience: Audience, now: datetime
) -> RenderedDossier:
    """The dossier as JSON bytes with its ETag, from the cache while it is still the truth."""

    async def render() -> Loaded[RenderedDossier]:
        dossier, stale_at, version = await build(vetting, mentor_id, audience, now)
        body = _encoder.encode(dossier)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return Loaded(RenderedDossier(body=body, etag=etag, dossier=dossier), version=version, stale_at=stale_at)

    return await cache.of(audience).get_or_load(str(mentor_id), now, render)


async def status_entries(cache: DossierCache, mentor_id: uuid.UUID, now: datetime) -> StatusEntries:
    """The mentor's :class:`StatusEntries`: two indexed lookups in the log, kept while the
    mentor's version stands (a registration and every status change bump it)."""

    async def load() -> Loaded[StatusEntries]:
        # The version first: a change committed meanwhile leaves the value checked again.
        version = await current_version(mentor_id)
        about = AuditQuery(resource_type="mentor", resource_id=str(mentor_id), action="vetting.mentor.", limit=1)
        first = await audit.search(about)
        latest = await audit.search(msgspec.structs.replace(about, order="desc"))
        found = StatusEntries(
            registered_seq=first.items[0].seq if first.items else None,
            status_seq=latest.items[0].seq if latest.items else None,
        )
        return Loaded(found, version=version if version is not None else -1)

    return await cache.status_entries.get_or_load(str(mentor_id), now, load)


# The dossier's order of checks and documents: as recorded, in the log's order.
CHECK_ORDER: Final = audit.in_log("recorded_entry_id", "recorded_seq")
DOCUMENT_ORDER: Final = audit.in_log("uploaded_entry_id", "uploaded_seq")


async def build(
    vetting: Vetting, mentor_id: uuid.UUID, audience: Audience, now: datetime
) -> tuple[Dossier, datetime | None, int]:
    """Render the dossier; also returns when time alone will change it, and the version read."""
    mentor = await mentor_row(mentor_id)
    cipher = (await vetting.keyring.readable([str(mentor_id)]))[str(mentor_id)]
    check_rows = typed_all(await Check.select().where(Check.mentor == mentor_id).order_by(*CHECK_ORDER), CheckRow)
    document_rows = typed_all(
        await Document.select().where(Document.mentor == mentor_id).order_by(*DOCUMENT_ORDER), DocumentRow
    )
    decision_rows = typed_all(
        await Decision.select().where(Decision.mentor == mentor_id).order_by(*PROPOSAL_ORDER), DecisionRow
    )
    sequences = await audit.entry_sequences(
        [
            *(entry_id for row in check_rows for entry_id in (row.recorded_entry_id, row.last_entry_id)),
            *(row.uploaded_entry_id for row in document_rows),
            *(entry_id for row in decision_rows for entry_id in decision_entry_ids(row)),
        ]
    )
    rating_rows = typed_all(
        await Rating.select(Rating.session_at, Rating.score).where(Rating.mentor == mentor_id), _Scored
    )

    documents = _documents_by_check(document_rows, cipher, sequences)
    checks = [_check_view(row, cipher, documents.get(row.id, []), audience, now, sequences) for row in check_rows]
    facts = await check_facts(mentor_id, cipher)
    missing = gaps_of(vetting, mentor, facts, now)
    failing = {gap.check_type for gap in missing}
    requirements = [
        RequirementView(
            check_type=r.check.name,
            title=r.check.title,
            count=r.count,
            expect=dict(r.expect),
            validity=r.effective_validity.isoformat(),
            evidence=r.check.evidence,
            documents_required=r.check.documents,
            details_required=list(r.check.details),
            met=r.check.name not in failing,
            four_eyes=r.check.four_eyes,
            valid_from=r.check.valid_from,
        )
        for r in requirements_of(vetting, mentor)
    ]
    rated = [(row.session_at, row.score) for row in rating_rows]
    published = ratings.published_rating(vetting.requirements.ratings, rated, now)
    dossier = Dossier(
        mentor=mentor_view(mentor, cipher),
        requirements_version=vetting.requirements.version,
        requirements_published=vetting.requirements.published,
        judged_at=now,
        requirements=requirements,
        missing_for_approval=[Gap(check_type=g.check_type, reason=g.reason) for g in missing],
        checks=checks,
        # Until a second officer confirms it, a proposal is deliberation among staff.
        decisions=[
            decision_view(row, cipher, sequences)
            for row in decision_rows
            if audience == "staff" or row.state == "confirmed"
        ],
        rating=RatingView(
            rating=published.rating,
            count=published.count,
            mean=published.mean,
            window_start=published.window_start,
            method=ratings.explain(vetting.requirements.ratings),
            method_version=published.method_version,
        ),
        attestation_quality=await _attestation_quality(str(mentor_id)),
        # The same judgement :func:`~governance.vetting.decisions.propose_decision` makes.
        allowed_decisions=states.allowed_decisions(mentor.status, requirements_met=not missing),
    )
    stale_at = _stale_at(check_rows, rated, vetting, now)
    if _cites_pending_entries(dossier):
        # Read again next time: the sequencer numbers those entries without bumping the mentor's version.
        stale_at = now
    return dossier, stale_at, mentor.version


def _cites_pending_entries(dossier: Dossier) -> bool:
    trails = [check.audit for check in dossier.checks]
    trails += [document.audit for check in dossier.checks for document in check.documents]
    trails += [decision.audit for decision in dossier.decisions]
    return any(trail.pending for trail in trails)


async def checks(
    vetting: Vetting, mentor_id: uuid.UUID, audience: Audience, now: datetime, limit: int, cursor: str | None
) -> Page[CheckView]:
    """A mentor's checks in the dossier's order (as recorded), each exactly as their dossier
    shows it to ``audience`` (404 for an unknown mentor)."""
    await mentor_row(mentor_id)
    query = Check.select().where(Check.mentor == mentor_id)
    if cursor is not None:
        # Keyset on the recording entry's place in the log: unique per check, and the dossier's order.
        position = decode_cursor(cursor)
        entry_id, seq = position.get("entry_id"), position.get("seq")
        if not all(value is None or type(value) is int for value in (entry_id, seq)) or entry_id is seq is None:
            raise invalid_parameter("cursor", "not a cursor of this list")
        condition, values = audit.after_in_log("recorded_entry_id", "recorded_seq", entry_id, seq)
        query = query.where(WhereRaw(condition, *values))
    rows = await query.order_by(*CHECK_ORDER).limit(limit + 1)
    page = typed_all(rows[:limit], CheckRow)
    last = page[-1] if page else None
    next_cursor = (
        encode_cursor({"entry_id": last.recorded_entry_id, "seq": last.recorded_seq})
        if last and len(rows) > limit
        else None
    )
    return Page(items=await _rendered_checks(vetting, mentor_id, page, audience, now), next_cursor=next_cursor)


async def check(vetting: Vetting, check_id: uuid.UUID, audience: Audience, now: datetime) -> CheckView:
    """One check as its mentor's dossier shows it to ``audience`` (404 when unknown)."""
    row = await check_row(check_id)
    (view,) = await _rendered_checks(vetting, row.mentor, [row], audience, now)
    return view


async def _rendered_checks(
    vetting: Vetting, mentor_id: uuid.UUID, rows: list[CheckRow], audience: Audience, now: datetime
) -> list[CheckView]:
    # One rendering for the dossier and these routes, so that what a reader sees cannot differ.
    if not rows:
        return []
    cipher = (await vetting.keyring.readable([str(mentor_id)]))[str(mentor_id)]
    document_rows = typed_all(
        await Document.select().where(Document.check.is_in([row.id for row in rows])).order_by(*DOCUMENT_ORDER),
        DocumentRow,
    )
    sequences = await audit.entry_sequences(
        [
            *(entry_id for row in rows for entry_id in (row.recorded_entry_id, row.last_entry_id)),
            *(row.uploaded_entry_id for row in document_rows),
        ]
    )
    documents = _documents_by_check(document_rows, cipher, sequences)
    return [_check_view(row, cipher, documents.get(row.id, []), audience, now, sequences) for row in rows]


class _Scored(Row):
    """A rating as the published rating counts it: when the session was, and its score."""

    session_at: datetime
    score: int


def _documents_by_check(
    rows: Sequence[DocumentRow], cipher: SubjectCipher | None, sequences: Mapping[int, int]
) -> dict[uuid.UUID, list[DocumentView]]:
    documents: dict[uuid.UUID, list[DocumentView]] = {}
    for row in rows:
        documents.setdefault(row.check, []).append(_document_view(row, cipher, sequences))
    return documents


def _stale_at(
    check_rows: list[CheckRow], rated: list[tuple[datetime, int]], vetting: Vetting, now: datetime
) -> datetime | None:
    window = vetting.requirements.ratings.window
    moments = [row.expires_at for row in check_rows if row.expires_at is not None and row.expires_at > now]
    moments += [window.add_to(at) for at, _ in rated if window.add_to(at) > now]
    moments += [at for at, _ in rated if at > now]
    return min(moments, default=None)


def _document_view(row: DocumentRow, cipher: SubjectCipher | None, sequences: Mapping[int, int]) -> DocumentView:
    return DocumentView(
        id=row.id,
        check_id=row.check,
        sha256=row.sha256,
        size=row.size,
        media_type=row.media_type,
        filename=cipher.read(row.filename) if cipher else None,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
        audit=trail(audit.entry_ref(row.uploaded_seq, row.uploaded_entry_id, sequences)),
    )


def _check_view(
    row: CheckRow,
    cipher: SubjectCipher | None,
    documents: list[DocumentView],
    audience: Audience,
    now: datetime,
    sequences: Mapping[int, int],
) -> CheckView:
    waiver = None
    # A waiver asked for and not yet granted (the check is still in review) is deliberation among staff.
    if row.waiver_requested_by is not None and (audience == "staff" or row.state != "in_review"):
        waiver = WaiverRequest(
            requested_by=row.waiver_requested_by,
            justification=cipher.read(row.justification) if cipher else None,
        )
    notes = None
    if audience == "staff" and cipher is not None and row.notes:
        notes = cipher.read(row.notes)
    return CheckView(
        id=row.id,
        mentor_id=row.mentor,
        check_type=row.check_type,
        state=row.state,
        state_since=row.state_since,
        current=row.state in states.SATISFYING and (row.expires_at is None or row.expires_at > now),
        requirements_version=row.requirements_version,
        details=msgspec.json.decode(opened) if cipher and (opened := cipher.read(row.details)) else None,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        valid_from=row.valid_from,
        expires_at=row.expires_at,
        audit=trail(
            audit.entry_ref(row.recorded_seq, row.recorded_entry_id, sequences),
            audit.entry_ref(row.last_seq, row.last_entry_id, sequences),
        ),
        version=row.version,
        documents=documents,
        waiver_request=waiver,
        allowed_next=states.allowed_check_moves(row.state, "officer"),
        notes=notes,
    )
