"""Checks of a mentor: recorded ``pending``, moved by compliance officers, judged
against the current requirements.

A pass needs the check type's evidence (documents and details) and, where the type asks
for four eyes, an officer who had no hand in that evidence; a waiver needs two officers.
Validity runs from the grant or from the evidence's own date, as the type says.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import msgspec

from governance.audit import service as audit
from governance.core import db
from governance.core.crypto import SubjectCipher, sealed_sha256
from governance.core.errors import Problem, not_found
from governance.core.identity import Identity
from governance.core.rows import typed
from governance.core.versioning import check_version, lock_for_update
from governance.vetting import states
from governance.vetting.registry import check_details, mentor_row, refresh_status, requirements_of, touch
from governance.vetting.requirements import EVIDENCE_DATE, CheckType, Requirement
from governance.vetting.schemas import CheckRecord, CheckTransition
from governance.vetting.tables import Check, CheckRow, Document, MentorProfile

if TYPE_CHECKING:
    from governance.vetting.service import Vetting


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
        if mentor.status == "revoked":
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
                recorded_entry_id=recorded.entry_id,
                last_entry_id=recorded.entry_id,
            )
        )
        await touch(mentor_id)
    return check_id


async def check_row(check_id: uuid.UUID) -> CheckRow:
    row = await Check.select().where(Check.id == check_id).first()
    if row is None:
        raise not_found("check", check_id)
    return typed(row, CheckRow)


async def check_owner(check_id: uuid.UUID) -> str | None:
    """The mentor (token subject) a check belongs to."""
    mentors = await Check.select(Check.mentor).where(Check.id == check_id).output(as_list=True)
    return str(mentors[0]) if mentors else None


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
    version (its ETag) is bumped by every change of it: 412
    when it is no longer ``expected_version`` (the route's ``If-Match``; None only for
    in-process callers that hold no ETag). Where the check type asks for four eyes, an
    officer who attached evidence to the check or moved it to review may not pass it
    (403, recorded as ``vetting.check.pass_refused``).
    """
    return await audit.recording_refusals(
        actor, _transition_check(vetting, check_id, move, actor, now, expected_version)
    )


def _not_independent(check: CheckRow, involvement: list[str]) -> audit.Refusal:
    """A pass the four-eyes rule refuses, naming what the officer already did to the check."""
    did = " and ".join(involvement)
    return audit.Refusal(
        Problem(
            403,
            "four-eyes",
            f"A {check.check_type} check must be passed by another compliance officer than the one "
            f"who attached its evidence or moved it to review: you {did}",
            involvement=involvement,
        ),
        action="vetting.check.pass_refused",
        resource_type="check",
        resource_id=str(check.id),
        details={
            "mentor_id": str(check.mentor),
            "check_type": check.check_type,
            "reason": f"four eyes: the passing officer {did}",
            "involvement": involvement,
        },
    )


async def _involvement(check: CheckRow, actor: Identity, move: CheckTransition) -> list[str]:
    """What ``actor`` did to the check that makes them no second pair of eyes on it, in
    words: judged from the audit log (who recorded details, who moved it to review) and
    the documents' uploaders, so that every fact behind a refusal is in the log too."""
    did: list[str] = []
    if await Document.exists().where((Document.check == check.id) & (Document.uploaded_by == actor.sub)):
        did.append("uploaded a document")
    entries = [e for e in await audit.history("check", str(check.id)) if e.actor.sub == actor.sub]
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
            versions = lock_for_update(Check.select(Check.version).where(Check.id == check_id))
            locked = await versions.output(as_list=True)
            check_version(locked[0] if locked else -1, expected_version)
        mentor = await mentor_row(check.mentor)
        state = check.state
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
        cipher = await vetting.keyring.cipher(str(mentor.id), create=True)
        details = {**check_details(check.details, cipher), **move.details}
        requirement = _requirement_for(vetting, mentor, check.check_type)
        changes: dict[Any, Any] = {}
        if move.details:
            changes[Check.details] = cipher.encrypt(msgspec.json.encode(details).decode())
        if move.notes:
            changes[Check.notes] = cipher.encrypt(move.notes)
        effective, message = True, f"check moved to {move.to}"
        if move.to == "waived":
            effective, message = _waiver(check, move, actor, changes, cipher)
        if move.to == "passed":
            if _check_type(vetting, check.check_type).four_eyes:
                involvement = await _involvement(check, actor, move)
                if involvement:
                    raise _not_independent(check, involvement)
            attached = await Document.count().where(Document.check == check_id)
            _require_evidence(vetting, check.check_type, details, attached)
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
        justification = (changes.get(Check.justification) or check.justification) if move.to == "waived" else None
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.check.transitioned" if effective else "vetting.check.waiver_requested",
            resource_type="check",
            resource_id=str(check_id),
            details={
                "mentor_id": str(mentor.id),
                "check_type": check.check_type,
                "from": state,
                "to": move.to if effective else state,
                "expires_at": changes[Check.expires_at].isoformat() if Check.expires_at in changes else None,
                "detail_names": sorted(move.details),
                # A waiver is asked for and granted on its justification: both entries bind it.
                **({"reasons_sha256": sealed_sha256(justification)} if justification else {}),
            },
        )
        changes[Check.last_entry_id] = recorded.entry_id
        changes[Check.version] = Check.version + 1
        updated = await Check.update(changes).where((Check.id == check_id) & (Check.state == state)).returning(Check.id)
        if not updated:
            raise Problem(409, "conflict", "The check changed meanwhile; read it again and retry")
        await refresh_status(vetting, mentor, actor, now, cause=f"check {check_id} {state} -> {move.to}")
    return effective, message


def _requirement_for(vetting: Vetting, mentor: MentorProfile, check_type: str) -> Requirement:
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
    check: CheckRow, move: CheckTransition, actor: Identity, changes: dict[Any, Any], cipher: SubjectCipher
) -> tuple[bool, str]:
    requested_by = check.waiver_requested_by
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
        raise bad_instant("valid_from")
    longest = requirement.effective_validity.add_to(valid_from)
    expires_at = longest
    if move.expires_at is not None:
        if move.expires_at.tzinfo is None:
            raise bad_instant("expires_at")
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


def bad_instant(field: str) -> Problem:
    """400 for a body instant given without a UTC offset (times are compared across zones)."""
    return Problem(
        400,
        "validation",
        f"Invalid body field {field!r}",
        errors=[{"field": field, "source": "body", "message": "needs a UTC offset, e.g. 2026-11-22T10:00:00Z"}],
    )
