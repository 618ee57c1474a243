"""Mentor vetting: registration, checks, four-eyes decisions.

Every change runs in one transaction with its audit entry, and bumps the mentor's
``version`` (the dossier's ETag and cache key). A mentor's status is never written by a
caller: it is derived (:func:`~governance.vetting.states.derive_status`) from the last
confirmed decision and whether every required check is current, and recomputed by each
change that can move it. Documents, the dossier, expiry and reports live beside this
module; they share its helpers.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final, Literal, cast

import msgspec

from governance.audit import service as audit
from governance.core import cache, db, idempotency
from governance.core.crypto import Keyring, SubjectCipher, sealed_sha256
from governance.core.errors import Problem, not_found
from governance.core.identity import Identity
from governance.core.pagination import Page, by_time, decode_cursor, encode_cursor
from governance.core.storage import ObjectStore
from governance.core.versioning import bump_version, check_version, lock_for_update
from governance.settings import Settings
from governance.vetting import states
from governance.vetting.requirements import EVIDENCE_DATE, CheckType, Requirement, Requirements
from governance.vetting.requirements import FILE_NAME as REQUIREMENTS_FILE
from governance.vetting.requirements import load as load_requirements
from governance.vetting.schemas import (
    AuditTrail,
    CheckRecord,
    CheckTransition,
    DecisionProposal,
    DecisionView,
    MentorRegistration,
    MentorView,
    RatingRecorded,
    RatingReport,
)
from governance.vetting.tables import Check, Decision, Document, Mentor, Rating


@dataclass(frozen=True, slots=True)
class Vetting:
    """What the vetting rules need from the deployment: requirements, keys, object store."""

    requirements: Requirements
    keyring: Keyring
    store: ObjectStore
    max_document_bytes: int

    @classmethod
    def configure(cls, settings: Settings, keyring: Keyring, store: ObjectStore) -> Vetting:
        """Vetting as ``settings`` configure it (the requirements file is read and validated here)."""
        return cls(
            requirements=load_requirements(settings.effective_policy_dir / REQUIREMENTS_FILE),
            keyring=keyring,
            store=store,
            max_document_bytes=settings.max_document_bytes,
        )


# Cached dossiers are kept under this topic (governance.vetting.dossier).
DOSSIER_TOPIC = "mentor"


# --- mentors -----------------------------------------------------------------------------


async def register_mentor(vetting: Vetting, data: MentorRegistration, actor: Identity, now: datetime) -> MentorView:
    """Register a mentor; they start ``onboarding``. Name, email and specialties are stored encrypted."""
    if await Mentor.exists().where(Mentor.external_id == data.external_id):
        existing = await Mentor.select(Mentor.id).where(Mentor.external_id == data.external_id).first()
        raise Problem(
            409,
            "already-registered",
            f"A mentor with external_id {data.external_id!r} is already registered",
            mentor_id=str(existing["id"]) if existing else None,
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
                registered_seq=recorded.seq,
            )
        )


def mentor_view(row: Mapping[str, Any], cipher: SubjectCipher | None) -> MentorView:
    return MentorView(
        id=row["id"],
        external_id=row["external_id"],
        display_name=cipher.read(row["display_name"]) if cipher else None,
        email=cipher.read(row["email"]) if cipher else None,
        jurisdiction=row["jurisdiction"],
        engagement_type=row["engagement_type"],
        specialties=specialties_of(row, cipher),
        status=row["status"],
        status_since=row["status_since"],
        registered_at=row["registered_at"],
        version=row["version"],
    )


def specialties_of(row: Mapping[str, Any], cipher: SubjectCipher | None) -> list[str]:
    """The mentor's specialties: ciphertext under their key (empty once erased), or a JSON
    list written in clear before they were sealed."""
    stored: str = row["specialties"]
    if stored.startswith("["):
        return cast(list[str], msgspec.json.decode(stored))
    opened = cipher.read(stored) if cipher else None
    return cast(list[str], msgspec.json.decode(opened)) if opened else []


async def mentor_row(mentor_id: uuid.UUID) -> dict[str, Any]:
    row = await Mentor.select().where(Mentor.id == mentor_id).first()
    if row is None:
        raise not_found("mentor", mentor_id)
    return row


async def unknown_mentors(mentor_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Those of ``mentor_ids`` that name no registered mentor, in the order given."""
    wanted = list(dict.fromkeys(mentor_ids))
    if not wanted:
        return []
    known = {row["id"] for row in await Mentor.select(Mentor.id).where(Mentor.id.is_in(wanted))}
    return [mentor_id for mentor_id in wanted if mentor_id not in known]


async def get_mentor(vetting: Vetting, mentor_id: uuid.UUID) -> MentorView:
    """One mentor, personal fields decrypted (null once erased)."""
    row = await mentor_row(mentor_id)
    ciphers = await vetting.keyring.readable([str(mentor_id)])
    return mentor_view(row, ciphers[str(mentor_id)])


async def list_mentors(vetting: Vetting, status: str | None, limit: int, cursor: str | None) -> Page[MentorView]:
    """Mentors in registration order, optionally of one status."""
    query = Mentor.select()
    if status is not None:
        query = query.where(Mentor.status == status)
    page, next_cursor = await by_time(query, Mentor.registered_at, Mentor.id, limit=limit, cursor=cursor)
    ciphers = await vetting.keyring.readable(str(row["id"]) for row in page)
    items = [mentor_view(row, ciphers[str(row["id"])]) for row in page]
    return Page(items=items, next_cursor=next_cursor)


# --- status -------------------------------------------------------------------------------


def requirements_of(vetting: Vetting, mentor: Mapping[str, Any]) -> list[Requirement]:
    return vetting.requirements.for_mentor(mentor["jurisdiction"], mentor["engagement_type"])


async def check_facts(mentor_id: uuid.UUID, cipher: SubjectCipher | None) -> list[states.CheckFacts]:
    """What the approval rules need about every check of a mentor."""
    return (await facts_by_mentor([mentor_id], {str(mentor_id): cipher})).get(mentor_id, [])


async def facts_by_mentor(
    mentor_ids: list[uuid.UUID], ciphers: Mapping[str, SubjectCipher | None]
) -> dict[uuid.UUID, list[states.CheckFacts]]:
    """Check facts of many mentors in two queries (details decrypted with their ciphers)."""
    if not mentor_ids:
        return {}
    rows = await Check.select(
        Check.id, Check.mentor, Check.check_type, Check.state, Check.expires_at, Check.details
    ).where(Check.mentor.is_in(mentor_ids))
    counts: dict[uuid.UUID, int] = {}
    for row in await Document.select(Document.check).where(Document.mentor.is_in(mentor_ids)):
        counts[row["check"]] = counts.get(row["check"], 0) + 1
    found: dict[uuid.UUID, list[states.CheckFacts]] = {}
    for row in rows:
        found.setdefault(row["mentor"], []).append(
            states.CheckFacts(
                check_type=row["check_type"],
                state=row["state"],
                expires_at=row["expires_at"],
                details=_details(row["details"], ciphers.get(str(row["mentor"]))),
                documents=counts.get(row["id"], 0),
            )
        )
    return found


def _details(ciphertext: str, cipher: SubjectCipher | None) -> dict[str, str]:
    opened = cipher.read(ciphertext) if cipher else None
    return cast(dict[str, str], msgspec.json.decode(opened)) if opened else {}


def gaps_of(
    vetting: Vetting, mentor: Mapping[str, Any], facts: list[states.CheckFacts], now: datetime
) -> list[states.Gap]:
    return states.gaps(
        ((r.check.name, r.count, r.expect) for r in requirements_of(vetting, mentor)),
        facts,
        now,
    )


async def refresh_status(
    vetting: Vetting, mentor: Mapping[str, Any], actor: Identity, now: datetime, cause: str, standing: str | None = None
) -> str:
    """Recompute the mentor's status (in the caller's transaction); audit and store a change.

    Also bumps the mentor's version: every caller has just changed the dossier.
    """
    standing = standing or mentor["standing"]
    cipher = (await vetting.keyring.readable([str(mentor["id"])]))[str(mentor["id"])]
    facts = await check_facts(mentor["id"], cipher)
    met = not gaps_of(vetting, mentor, facts, now)
    status = states.derive_status(cast(states.Standing, standing), met)
    changes: dict[Any, Any] = {Mentor.standing: standing}
    if status != mentor["status"]:
        changes.update({Mentor.status: status, Mentor.status_since: now})
        await audit.record_change(
            actor=actor,
            action="vetting.mentor.status_changed",
            resource_type="mentor",
            resource_id=str(mentor["id"]),
            details={"from": mentor["status"], "to": status, "cause": cause},
        )
    await Mentor.update(changes).where(Mentor.id == mentor["id"])
    await touch(mentor["id"])
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
    for row in await Mentor.select(Mentor.id).where(Mentor.id.is_in(wanted)):
        await touch(row["id"])


# --- checks -------------------------------------------------------------------------------


async def record_check(
    vetting: Vetting, mentor_id: uuid.UUID, data: CheckRecord, actor: Identity, now: datetime
) -> uuid.UUID:
    """Record a new ``pending`` check of a mentor, judged against the current requirements."""
    check_type = vetting.requirements.checks.get(data.check_type)
    if check_type is None:
        raise Problem(
            400,
            "validation",
            f"Unknown check_type {data.check_type!r}",
            errors=[
                {"field": "check_type", "source": "body", "message": f"one of {sorted(vetting.requirements.checks)}"}
            ],
        )
    _evidence_date(check_type, data.details, now)
    check_id = uuid.uuid4()
    async with db.transaction():
        mentor = await mentor_row(mentor_id)
        if mentor["status"] == "revoked":
            raise Problem(409, "mentor-revoked", "This mentor was revoked; revocation is final (register anew)")
        cipher = await vetting.keyring.cipher(str(mentor_id), create=True)
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.check.recorded",
            resource_type="check",
            resource_id=str(check_id),
            details={
                "mentor_id": str(mentor_id),
                "check_type": data.check_type,
                "requirements_version": vetting.requirements.version,
                "detail_names": sorted(data.details),
            },
        )
        await Check.insert(
            Check(
                id=check_id,
                mentor=mentor_id,
                check_type=data.check_type,
                state="pending",
                requirements_version=vetting.requirements.version,
                details=cipher.encrypt(msgspec.json.encode(data.details).decode()),
                notes=cipher.encrypt(data.notes) if data.notes else None,
                recorded_by=actor.sub,
                recorded_at=now,
                state_since=now,
                recorded_seq=recorded.seq,
                last_seq=recorded.seq,
            )
        )
        await touch(mentor_id)
    return check_id


async def check_row(check_id: uuid.UUID) -> dict[str, Any]:
    row = await Check.select().where(Check.id == check_id).first()
    if row is None:
        raise not_found("check", check_id)
    return row


async def check_owner(check_id: uuid.UUID) -> str | None:
    """The mentor (token subject) a check belongs to."""
    row = await Check.select(Check.mentor).where(Check.id == check_id).first()
    return str(row["mentor"]) if row else None


async def transition_check(
    vetting: Vetting,
    check_id: uuid.UUID,
    move: CheckTransition,
    actor: Identity,
    now: datetime,
    expected_version: int | None = None,
) -> tuple[bool, str]:
    """Move a check (see :data:`~governance.vetting.states.CHECK_TRANSITIONS`).

    Returns whether the move took effect: a first ``waived`` request only records who
    asked for the waiver; a second, different compliance officer grants it. A check's
    version is its latest audit entry (``last_seq``, which every change moves on): 412
    when it is no longer ``expected_version`` (the route's ``If-Match``; None only for
    in-process callers that hold no ETag). Where the check type asks for four eyes, an
    officer who attached evidence to the check or moved it to review may not pass it
    (403, recorded as ``vetting.check.pass_refused``).
    """
    return await audit.recording_refusals(
        actor, _transition_check(vetting, check_id, move, actor, now, expected_version)
    )


def _not_independent(check: Mapping[str, Any], involvement: list[str]) -> audit.Refusal:
    """A pass the four-eyes rule refuses, naming what the officer already did to the check."""
    did = " and ".join(involvement)
    return audit.Refusal(
        Problem(
            403,
            "four-eyes",
            f"A {check['check_type']} check must be passed by another compliance officer than the one "
            f"who attached its evidence or moved it to review: you {did}",
            involvement=involvement,
        ),
        action="vetting.check.pass_refused",
        resource_type="check",
        resource_id=str(check["id"]),
        details={
            "mentor_id": str(check["mentor"]),
            "check_type": check["check_type"],
            "reason": f"four eyes: the passing officer {did}",
            "involvement": involvement,
        },
    )


async def _involvement(check: Mapping[str, Any], actor: Identity, move: CheckTransition) -> list[str]:
    """What ``actor`` did to the check that makes them no second pair of eyes on it, in
    words: judged from the audit log (who recorded details, who moved it to review) and
    the documents' uploaders, so that every fact behind a refusal is in the log too."""
    did: list[str] = []
    if await Document.exists().where((Document.check == check["id"]) & (Document.uploaded_by == actor.sub)):
        did.append("uploaded a document")
    entries = [e for e in await audit.history("check", str(check["id"])) if e.actor.sub == actor.sub]
    if move.details or any(e.details.get("detail_names") for e in entries):
        did.append("recorded details")
    if any(e.action == "vetting.check.transitioned" and e.details.get("to") == "in_review" for e in entries):
        did.append("moved it to review")
    return did


async def _transition_check(
    vetting: Vetting,
    check_id: uuid.UUID,
    move: CheckTransition,
    actor: Identity,
    now: datetime,
    expected_version: int | None,
) -> tuple[bool, str]:
    async with db.transaction():
        check = await check_row(check_id)
        if expected_version is not None:
            locked = await lock_for_update(Check.select(Check.last_seq).where(Check.id == check_id)).first()
            check_version(locked["last_seq"] if locked else -1, expected_version)
        mentor = await mentor_row(check["mentor"])
        state = cast(states.CheckState, check["state"])
        allowed = states.allowed_check_moves(state, "officer")
        if move.to not in allowed:
            raise Problem(
                409,
                "illegal-transition",
                f"A {state} check cannot move to {move.to}"
                + (" (only the expiry job expires checks)" if move.to == "expired" else ""),
                current=state,
                allowed=list(allowed),
                allowed_next=list(allowed),
            )
        cipher = await vetting.keyring.cipher(str(mentor["id"]), create=True)
        details = {**_details(check["details"], cipher), **move.details}
        requirement = _requirement_for(vetting, mentor, check["check_type"])
        changes: dict[Any, Any] = {}
        if move.details:
            changes[Check.details] = cipher.encrypt(msgspec.json.encode(details).decode())
        if move.notes:
            changes[Check.notes] = cipher.encrypt(move.notes)
        effective, message = True, f"check moved to {move.to}"
        if move.to == "waived":
            effective, message = _waiver(check, move, actor, changes, cipher)
        if move.to == "passed":
            if _check_type(vetting, check["check_type"]).four_eyes:
                involvement = await _involvement(check, actor, move)
                if involvement:
                    raise _not_independent(check, involvement)
            attached = await Document.count().where(Document.check == check_id)
            _require_evidence(vetting, check["check_type"], details, attached)
        # Checked whenever the date is given, so that a wrong one is refused as it is recorded.
        evidence_date = _evidence_date(requirement.check, details if move.to == "passed" else move.details, now)
        if effective:
            changes.update({Check.state: move.to, Check.state_since: now})
            if move.to in states.SATISFYING:
                # A waiver rests on no evidence: its validity runs from the grant.
                dated = evidence_date if move.to == "passed" else None
                valid_from, expires_at = _validity(requirement, move, now, dated)
                changes.update(
                    {
                        Check.reviewed_by: actor.sub,
                        Check.reviewed_at: now,
                        Check.valid_from: valid_from,
                        Check.expires_at: expires_at,
                        Check.reminders_sent: "[]",
                    }
                )
            elif move.to == "failed":
                changes.update({Check.reviewed_by: actor.sub, Check.reviewed_at: now})
            if move.to != "waived":
                changes[Check.waiver_requested_by] = None
        justification = (changes.get(Check.justification) or check["justification"]) if move.to == "waived" else None
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.check.transitioned" if effective else "vetting.check.waiver_requested",
            resource_type="check",
            resource_id=str(check_id),
            details={
                "mentor_id": str(mentor["id"]),
                "check_type": check["check_type"],
                "from": state,
                "to": move.to if effective else state,
                "expires_at": changes[Check.expires_at].isoformat() if Check.expires_at in changes else None,
                "detail_names": sorted(move.details),
                # A waiver is asked for and granted on its justification: both entries bind it.
                **({"reasons_sha256": sealed_sha256(justification)} if justification else {}),
            },
        )
        changes[Check.last_seq] = recorded.seq
        updated = await Check.update(changes).where((Check.id == check_id) & (Check.state == state)).returning(Check.id)
        if not updated:
            raise Problem(409, "conflict", "The check changed meanwhile; read it again and retry")
        await refresh_status(vetting, mentor, actor, now, cause=f"check {check_id} {state} -> {move.to}")
    return effective, message


def _requirement_for(vetting: Vetting, mentor: Mapping[str, Any], check_type: str) -> Requirement:
    for requirement in requirements_of(vetting, mentor):
        if requirement.check.name == check_type:
            return requirement
    # A check the mentor's profile does not require still gets its type's validity.
    return Requirement(check=_check_type(vetting, check_type))


def _check_type(vetting: Vetting, check_type: str) -> CheckType:
    spec = vetting.requirements.checks.get(check_type)
    if spec is None:
        raise Problem(
            409,
            "check-type-retired",
            f"The requirements (version {vetting.requirements.version}) no longer know check type {check_type!r}; "
            "record a check of a current type instead",
        )
    return spec


def _waiver(
    check: Mapping[str, Any], move: CheckTransition, actor: Identity, changes: dict[Any, Any], cipher: SubjectCipher
) -> tuple[bool, str]:
    requested_by = check["waiver_requested_by"]
    if requested_by is None:
        if not move.justification:
            raise Problem(
                422,
                "justification-required",
                "A waiver needs a justification",
                errors=[{"field": "justification", "source": "body", "message": "required to waive a check"}],
            )
        changes[Check.waiver_requested_by] = actor.sub
        changes[Check.justification] = cipher.encrypt(move.justification)
        return False, "waiver requested; a second compliance officer must grant it"
    if requested_by == actor.sub:
        raise Problem(403, "four-eyes", "A waiver must be granted by another compliance officer than the one who asked")
    return True, "waiver granted"


def _require_evidence(vetting: Vetting, check_type: str, details: Mapping[str, str], documents: int) -> None:
    spec = _check_type(vetting, check_type)
    missing_details = [name for name in spec.details if not details.get(name)]
    if documents < spec.documents or missing_details:
        wanted = []
        if documents < spec.documents:
            wanted.append(f"{spec.documents - documents} more document(s)")
        if missing_details:
            wanted.append(f"details {', '.join(missing_details)}")
        raise Problem(
            422,
            "evidence-missing",
            f"A {check_type} check cannot pass without its evidence: {'; '.join(wanted)}",
            documents_required=spec.documents,
            documents_attached=documents,
            details_missing=missing_details,
        )


def _evidence_date(spec: CheckType, details: Mapping[str, str], now: datetime) -> datetime | None:
    """The start of validity the evidence itself gives (midnight UTC of its ``issued_on``
    detail) when the check type's validity runs from it; 422 when that date is not an ISO
    8601 calendar date or lies in the future. None when not given or not asked for."""
    if spec.valid_from != "evidence_date" or not details.get(EVIDENCE_DATE):
        return None
    text = details[EVIDENCE_DATE]
    issued: date | None = None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        with contextlib.suppress(ValueError):
            issued = date.fromisoformat(text)
    if issued is None or issued > now.astimezone(UTC).date():
        problem = "is not a date such as 2026-03-14" if issued is None else "lies in the future"
        raise Problem(
            422,
            "evidence-date",
            f"A {spec.name} check is valid from the date of its evidence, and {EVIDENCE_DATE} {problem}",
            errors=[
                {
                    "field": f"details.{EVIDENCE_DATE}",
                    "source": "body",
                    "message": "the evidence's own date, YYYY-MM-DD, not in the future",
                }
            ],
        )
    return datetime.combine(issued, time.min, tzinfo=UTC)


def _validity(
    requirement: Requirement, move: CheckTransition, now: datetime, evidence_date: datetime | None = None
) -> tuple[datetime, datetime]:
    if evidence_date is not None and move.valid_from is not None:
        raise Problem(
            422,
            "validity",
            f"A {requirement.check.name} check is valid from its evidence's date ({EVIDENCE_DATE}), not valid_from",
            errors=[{"field": "valid_from", "source": "body", "message": f"omit it; {EVIDENCE_DATE} gives the date"}],
        )
    valid_from = evidence_date or move.valid_from or now
    if valid_from.tzinfo is None:
        raise _bad_instant("valid_from")
    longest = requirement.effective_validity.add_to(valid_from)
    expires_at = longest
    if move.expires_at is not None:
        if move.expires_at.tzinfo is None:
            raise _bad_instant("expires_at")
        expires_at = min(move.expires_at, longest)
    if valid_from > now or expires_at <= now:
        raise Problem(
            422,
            "validity",
            "A check must be valid now: valid_from not in the future, expires_at in the future",
            errors=[
                {
                    "field": "expires_at",
                    "source": "body",
                    "message": f"this check would expire at {expires_at.isoformat()}",
                }
            ],
        )
    return valid_from, expires_at


def _bad_instant(field: str) -> Problem:
    return Problem(
        400,
        "validation",
        f"Invalid body field {field!r}",
        errors=[{"field": field, "source": "body", "message": "needs a UTC offset, e.g. 2026-11-22T10:00:00Z"}],
    )


# --- decisions ----------------------------------------------------------------------------


async def propose_decision(
    vetting: Vetting, mentor_id: uuid.UUID, proposal: DecisionProposal, actor: Identity, now: datetime
) -> DecisionView:
    """Propose a decision; a different compliance officer must confirm it.

    A newer proposal supersedes an unconfirmed older one for the same mentor.
    """
    decision_id = uuid.uuid4()
    async with db.transaction():
        mentor = await mentor_row(mentor_id)
        await _decision_allowed(vetting, mentor, proposal.action, now)
        cipher = await vetting.keyring.cipher(str(mentor_id), create=True)
        rationale = cipher.encrypt(proposal.rationale)
        superseded = (
            await Decision.update({Decision.state: "superseded"})
            .where((Decision.mentor == mentor_id) & (Decision.state == "proposed"))
            .returning(Decision.id)
        )
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.decision.proposed",
            resource_type="decision",
            resource_id=str(decision_id),
            details={
                "mentor_id": str(mentor_id),
                "decision": proposal.action,
                "requirements_version": vetting.requirements.version,
                "supersedes": [str(row["id"]) for row in superseded],
                "reasons_sha256": sealed_sha256(rationale),
            },
        )
        await Decision.insert(
            Decision(
                id=decision_id,
                mentor=mentor_id,
                action=proposal.action,
                rationale=rationale,
                state="proposed",
                requirements_version=vetting.requirements.version,
                proposed_by=actor.sub,
                proposed_at=now,
                proposed_seq=recorded.seq,
            )
        )
        await touch(mentor_id)
    return await get_decision(vetting, decision_id)


async def _decision_allowed(vetting: Vetting, mentor: Mapping[str, Any], action: str, now: datetime) -> None:
    status = cast(states.MentorStatus, mentor["status"])
    sources, _ = states.DECISIONS[cast(states.DecisionAction, action)]
    cipher = (await vetting.keyring.readable([str(mentor["id"])]))[str(mentor["id"])]
    missing = gaps_of(vetting, mentor, await check_facts(mentor["id"], cipher), now)
    # What the dossier offers as ``allowed_decisions``, judged the same way.
    allowed = states.allowed_decisions(status, requirements_met=not missing)
    if status not in sources:
        raise Problem(
            409,
            "illegal-decision",
            f"A mentor who is {status} cannot be given '{action}'"
            + (" (revocation is final: a new onboarding is needed)" if status == "revoked" else ""),
            current=status,
            allowed=allowed,
            allowed_next=allowed,
        )
    if action in states.NEEDS_REQUIREMENTS_MET and missing:
        raise Problem(
            409,
            "requirements-not-met",
            f"'{action}' needs every required check passed or waived and current",
            missing=[{"check_type": gap.check_type, "reason": gap.reason} for gap in missing],
            allowed_next=allowed,
        )


async def refuse_own_confirmation(decision_id: uuid.UUID, actor: Identity) -> None:
    """403 when ``actor`` proposed the decision, with an audit entry: refusals of the
    four-eyes rule are evidence too. Call it outside any transaction, so the entry stays."""
    await refuse_out_of_turn(decision_id, actor, "confirmed")


# The verb of each move on a proposal, for audit actions and messages.
_VERBS: Final[Mapping[str, str]] = {"confirmed": "confirm", "rejected": "reject", "withdrawn": "withdraw"}


async def refuse_out_of_turn(decision_id: uuid.UUID, actor: Identity, target: states.DecisionState) -> None:
    """403, audited, when :data:`~governance.vetting.states.DECISION_MOVES` does not give
    this move to ``actor``: confirming or rejecting one's own proposal, or withdrawing
    another officer's. Call it outside any transaction, so the entry stays."""
    decision = await Decision.select(Decision.proposed_by, Decision.mentor).where(Decision.id == decision_id).first()
    if decision is None:
        raise not_found("decision", decision_id)
    mover = states.DECISION_MOVES["proposed"][target]
    own = decision["proposed_by"] == actor.sub
    if own == (mover == "proposer"):
        return
    verb = _VERBS[target]
    await audit.record_event(
        actor=actor,
        action=f"vetting.decision.{verb}_refused",
        resource_type="decision",
        resource_id=str(decision_id),
        outcome="denied",
        details={
            "mentor_id": str(decision["mentor"]),
            "reason": f"proposer cannot {verb}" if own else f"only the proposer may {verb}",
        },
    )
    if own:
        raise Problem(403, "four-eyes", f"A decision must be {verb}ed by another compliance officer than its proposer")
    raise Problem(403, "not-the-proposer", "Only the officer who proposed a decision may withdraw it")


async def close_decision(
    vetting: Vetting,
    decision_id: uuid.UUID,
    target: Literal["rejected", "withdrawn"],
    actor: Identity,
    now: datetime,
    reasons: str | None = None,
) -> DecisionView:
    """Reject a proposed decision (a second officer, with ``reasons``) or withdraw it (its
    proposer). Nothing about the mentor changes; the proposal stays on record, closed.
    Call :func:`refuse_out_of_turn` first, outside the transaction."""
    async with db.transaction():
        decision = await Decision.select().where(Decision.id == decision_id).first()
        if decision is None:
            raise not_found("decision", decision_id)
        allowed = states.allowed_decision_moves(decision["state"])
        if target not in allowed:
            raise Problem(
                409,
                "decision-closed",
                f"This decision is {decision['state']}, no longer a proposal",
                allowed_next=allowed,
            )
        mentor_id = decision["mentor"]
        # The reasons judge the mentor's case: their key, as the proposal's rationale.
        sealed = (await vetting.keyring.cipher(str(mentor_id), create=True)).encrypt(reasons) if reasons else None
        recorded = await audit.record_change(
            actor=actor,
            action=f"vetting.decision.{target}",
            resource_type="decision",
            resource_id=str(decision_id),
            details={
                "mentor_id": str(mentor_id),
                "decision": decision["action"],
                "proposed_by": decision["proposed_by"],
                "proposed_seq": decision["proposed_seq"],
                **({"reasons_sha256": sealed_sha256(sealed)} if sealed else {}),
            },
        )
        closed = (
            await Decision.update(
                {
                    Decision.state: target,
                    Decision.closed_by: actor.sub,
                    Decision.closed_at: now,
                    Decision.closed_seq: recorded.seq,
                    Decision.closing_reasons: sealed,
                }
            )
            .where((Decision.id == decision_id) & (Decision.state == "proposed"))
            .returning(Decision.id)
        )
        if not closed:
            raise Problem(409, "decision-closed", "This decision was closed, confirmed or superseded meanwhile")
        await touch(mentor_id)
    return await get_decision(vetting, decision_id)


async def confirm_decision(vetting: Vetting, decision_id: uuid.UUID, actor: Identity, now: datetime) -> DecisionView:
    """Make a proposed decision effective. The proposer may not confirm their own (403)."""
    await refuse_own_confirmation(decision_id, actor)
    decision = await Decision.select().where(Decision.id == decision_id).first()
    if decision is None:  # pragma: no cover - refuse_own_confirmation has answered 404
        raise not_found("decision", decision_id)
    async with db.transaction():
        if "confirmed" not in states.allowed_decision_moves(decision["state"]):
            raise Problem(
                409,
                "decision-closed",
                f"This decision is {decision['state']}, not awaiting confirmation",
                allowed_next=states.allowed_decision_moves(decision["state"]),
            )
        mentor = await mentor_row(decision["mentor"])
        await _decision_allowed(vetting, mentor, decision["action"], now)
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.decision.confirmed",
            resource_type="decision",
            resource_id=str(decision_id),
            details={
                "mentor_id": str(mentor["id"]),
                "decision": decision["action"],
                "proposed_by": decision["proposed_by"],
                "proposed_seq": decision["proposed_seq"],
                "reasons_sha256": sealed_sha256(decision["rationale"]),
            },
        )
        confirmed = (
            await Decision.update(
                {
                    Decision.state: "confirmed",
                    Decision.confirmed_by: actor.sub,
                    Decision.confirmed_at: now,
                    Decision.confirmed_seq: recorded.seq,
                }
            )
            .where((Decision.id == decision_id) & (Decision.state == "proposed"))
            .returning(Decision.id)
        )
        if not confirmed:
            raise Problem(409, "decision-closed", "This decision was confirmed or superseded meanwhile")
        _, standing = states.DECISIONS[decision["action"]]
        await refresh_status(
            vetting, mentor, actor, now, cause=f"decision {decision_id} {decision['action']}", standing=standing
        )
        if decision["action"] == "approve" and mentor["first_approved_at"] is None:
            await Mentor.update({Mentor.first_approved_at: now}).where(Mentor.id == mentor["id"])
    return await get_decision(vetting, decision_id)


def decision_view(row: Mapping[str, Any], cipher: SubjectCipher | None) -> DecisionView:
    return DecisionView(
        id=row["id"],
        mentor_id=row["mentor"],
        action=row["action"],
        state=row["state"],
        rationale=cipher.read(row["rationale"]) if cipher else None,
        requirements_version=row["requirements_version"],
        proposed_by=row["proposed_by"],
        proposed_at=row["proposed_at"],
        confirmed_by=row["confirmed_by"],
        confirmed_at=row["confirmed_at"],
        audit=_trail(row["proposed_seq"], row["confirmed_seq"] or row["closed_seq"]),
        allowed_next=states.allowed_decision_moves(row["state"]),
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        closing_reasons=cipher.read(row["closing_reasons"]) if cipher else None,
    )


def decision_replays(vetting: Vetting) -> idempotency.Personal:
    """How a stored decision response is kept: its rationale is the mentor's personal data,
    so sealed under their key; once they were erased a replay shows the decision as it reads now."""

    async def reread(decision_id: str) -> DecisionView:
        return await get_decision(vetting, uuid.UUID(decision_id))

    return idempotency.Personal(
        keyring=vetting.keyring,
        subject=lambda view: str(view.mentor_id),
        record=lambda view: str(view.id),
        reread=reread,
    )


def _trail(recorded: int, latest: int | None) -> AuditTrail:
    return AuditTrail(recorded=recorded, latest=latest)


async def get_decision(vetting: Vetting, decision_id: uuid.UUID) -> DecisionView:
    row = await Decision.select().where(Decision.id == decision_id).first()
    if row is None:
        raise not_found("decision", decision_id)
    ciphers = await vetting.keyring.readable([str(row["mentor"])])
    return decision_view(row, ciphers[str(row["mentor"])])


async def list_decisions(vetting: Vetting, state: str | None, limit: int, cursor: str | None) -> Page[DecisionView]:
    """Decisions, oldest first: ``state=proposed`` is the queue awaiting a second officer."""
    query = Decision.select().order_by(Decision.proposed_seq).limit(limit + 1)
    if state is not None:
        query = query.where(Decision.state == state)
    if cursor is not None:
        after = decode_cursor(cursor).get("seq")
        if not isinstance(after, int):
            raise Problem(400, "validation", "Invalid query parameter 'cursor'")
        query = query.where(Decision.proposed_seq > after)
    rows = await query
    page = rows[:limit]
    ciphers = await vetting.keyring.readable(str(row["mentor"]) for row in page)
    items = [decision_view(row, ciphers[str(row["mentor"])]) for row in page]
    next_cursor = encode_cursor({"seq": page[-1]["proposed_seq"]}) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


# --- ratings ------------------------------------------------------------------------------


async def record_rating(mentor_id: uuid.UUID, report: RatingReport, actor: Identity, now: datetime) -> RatingRecorded:
    """Record one session rating (one per session)."""
    if report.session_at.tzinfo is None:
        raise _bad_instant("session_at")
    if report.session_at > now:
        raise Problem(422, "session-in-future", "A session cannot be rated before it took place")
    rating_id = uuid.uuid4()
    try:
        await _insert_rating(rating_id, mentor_id, report, actor, now)
    except Exception as exc:
        if db.is_unique_violation(exc):  # the same session, reported twice at once
            raise Problem(409, "already-rated", f"Session {report.session_id!r} was rated already") from None
        raise
    return RatingRecorded(
        id=rating_id,
        mentor_id=mentor_id,
        session_id=report.session_id,
        score=report.score,
        session_at=report.session_at,
        recorded_at=now,
    )


async def _insert_rating(
    rating_id: uuid.UUID, mentor_id: uuid.UUID, report: RatingReport, actor: Identity, now: datetime
) -> None:
    async with db.transaction():
        await mentor_row(mentor_id)
        if await Rating.exists().where(Rating.session_id == report.session_id):
            raise Problem(409, "already-rated", f"Session {report.session_id!r} was rated already")
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.rating.recorded",
            resource_type="rating",
            resource_id=str(rating_id),
            details={"mentor_id": str(mentor_id), "session_id": report.session_id, "score": report.score},
        )
        await Rating.insert(
            Rating(
                id=rating_id,
                mentor=mentor_id,
                session_id=report.session_id,
                mentee_id=report.mentee_id,
                score=report.score,
                session_at=report.session_at,
                recorded_at=now,
                recorded_seq=recorded.seq,
            )
        )
        await touch(mentor_id)
