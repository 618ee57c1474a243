"""Data subject requests: states, due dates, extension, exports and erasure.

A request is due one calendar month after receipt (GDPR Art. 12(3)); it may be extended
once, by at most two more months, with a reason, and only before the first month ends.
Completing an access or portability request writes the JSON export of everything every
module holds about the mentee to the object store, sealed under the mentee's own key (so
that shredding reaches every copy: object versions, backups); completing an erasure shreds the
mentee's key and lets every module mark what it keeps, in one transaction with the audit
entry, and returns an erasure certificate.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec

from governance.audit import service as audit
from governance.audit.schemas import AuditEntryView
from governance.audit.tables import AuditEntry, AuditEntryRow
from governance.core import db, idempotency
from governance.core.crypto import SubjectCipher, case_scope, is_segmented, sealed_sha256
from governance.core.durations import Duration, DurationError, parse_duration
from governance.core.errors import Problem, field_error, not_found
from governance.core.identity import Identity
from governance.core.pagination import Page, by_time
from governance.core.rows import typed, typed_all
from governance.core.storage import ObjectMissing
from governance.core.subjects import Hold
from governance.core.versioning import check_version, lock_for_update, update_versioned
from governance.privacy import consent
from governance.privacy.exports import (
    ExportedDocument,
    extension_reason_of,
)
from governance.privacy.schemas import (
    TERMINAL,
    DataRequestFiling,
    DataRequestView,
    RequestState,
    RequestTransition,
)
from governance.privacy.service import Privacy, jsonable
from governance.privacy.tables import DataRequest, DataRequestRow

ONE_MONTH: Final = Duration(months=1)
LONGEST_EXTENSION: Final = Duration(months=2)

# Who may move a request from each state to each next one: staff, or also the requester.
TRANSITIONS: Final[Mapping[str, Mapping[str, str]]] = {
    "received": {
        "identity_verification": "staff",
        "in_progress": "staff",
        "extended": "staff",
        "rejected": "staff",
        "withdrawn": "requester",
    },
    "identity_verification": {
        "in_progress": "staff",
        "extended": "staff",
        "rejected": "staff",
        "withdrawn": "requester",
    },
    "in_progress": {"extended": "staff", "completed": "staff", "rejected": "staff", "withdrawn": "requester"},
    "extended": {"completed": "staff", "rejected": "staff", "withdrawn": "requester"},
    "completed": {},
    "rejected": {},
    "withdrawn": {},
}


def allowed_moves(row: DataRequestRow, requester: bool, now: datetime) -> list[str]:
    """Next states; a requester may only withdraw, staff may make every move. An extension
    must be told before the first month ends, so after that it is no longer offered."""
    late = now >= ONE_MONTH.add_to(row.received_at)
    return [
        to
        for to, who in TRANSITIONS[row.state].items()
        if (not requester or who == "requester") and not (to == "extended" and late)
    ]


def _scope(request_id: uuid.UUID) -> str:
    return case_scope("data_request", request_id)


def export_key(request_id: uuid.UUID) -> str:
    return f"privacy/exports/{request_id}.json"


def _export_context(request_id: uuid.UUID) -> bytes:
    # Bound into the sealed file, so one of the mentee's exports cannot stand in for another.
    return f"privacy-export:{request_id}".encode()


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    yield body


def view(
    row: DataRequestRow, cipher: SubjectCipher | None, now: datetime, requester: bool, sequences: Mapping[int, int]
) -> DataRequestView:
    """A request as its reader sees it; ``sequences`` (:func:`audit.entry_sequences` of its
    entries) gives the numbers of the entries it cites, once the sequencer has integrated them."""
    latest = audit.entry_ref(row.last_seq, row.last_entry_id, sequences)
    certificate = msgspec.json.decode(row.certificate) if row.certificate else None
    cited = certificate.get("audit_entry_id") if certificate is not None else None
    if certificate is not None and certificate.get("audit_seq") is None and isinstance(cited, int):
        # Issued under the erasure's entry (the request's last) before it was numbered: its number now, if any.
        certificate["audit_seq"] = sequences.get(cited)
    return DataRequestView(
        id=row.id,
        mentee_id=row.subject,
        type=row.request_type,
        state=row.state,
        reason_code=row.reason_code,
        description=cipher.read(row.description) if cipher else None,
        received_at=row.received_at,
        due_at=row.due_at,
        overdue=row.state not in TERMINAL and row.due_at < now,
        extended_at=row.extended_at,
        extension_reason=extension_reason_of(row.extension_reason, cipher),
        rejection_reason=cipher.read(row.rejection_reason) if cipher else None,
        closed_at=row.closed_at,
        allowed_next=allowed_moves(row, requester, now),
        export_available=row.export_key is not None,
        certificate=certificate,
        version=row.version,
        audit_seq=latest.seq,
        audit_entry_id=latest.entry_id,
    )


async def request_row(request_id: uuid.UUID) -> DataRequestRow:
    row: dict[str, Any] | None = await DataRequest.select().where(DataRequest.id == request_id).first()
    if row is None:
        raise not_found("data request", request_id)
    return typed(row, DataRequestRow)


async def request_owner(request_id: uuid.UUID) -> str | None:
    """The mentee a request is about (for the guard's ownership check)."""
    subjects = await DataRequest.select(DataRequest.subject).where(DataRequest.id == request_id).output(as_list=True)
    return str(subjects[0]) if subjects else None


async def get(privacy: Privacy, request_id: uuid.UUID, now: datetime, requester: bool) -> DataRequestView:
    """One request, its description decrypted (null once the mentee was erased)."""
    row = await request_row(request_id)
    ciphers = await privacy.keyring.readable([row.subject])
    return view(row, ciphers[row.subject], now, requester, await audit.entry_sequences([row.last_entry_id]))


async def file(
    privacy: Privacy, data: DataRequestFiling, actor: Identity, as_mentee: bool, now: datetime
) -> DataRequestView:
    """File a request: a mentee for themself, the platform for a mentee (``mentee_id``)."""
    if as_mentee:
        if data.mentee_id not in (None, actor.sub):
            raise Problem(403, "not-yours", "A mentee files requests about themself only")
        subject = actor.sub
    elif data.mentee_id is None:
        raise field_error("mentee_id", "required when filing for a mentee")
    else:
        subject = data.mentee_id
    request_id = uuid.uuid4()
    async with db.transaction():
        description = None
        if data.description:
            # The request's own key: an open request is a legal hold on what it says.
            description = await privacy.keyring.encrypt(subject, data.description, scope=_scope(request_id))
        due_at = ONE_MONTH.add_to(now)
        recorded = await audit.record_change(
            actor=actor,
            action="privacy.request.received",
            resource_type="data_request",
            resource_id=str(request_id),
            details={"mentee_id": subject, "type": data.type, "due_at": due_at.isoformat()},
        )
        await DataRequest.insert(
            DataRequest(
                id=request_id,
                subject=subject,
                request_type=data.type,
                state="received",
                description=description,
                filed_by=actor.sub,
                received_at=now,
                due_at=due_at,
                version=1,
                last_entry_id=recorded.entry_id,
            )
        )
    return await get(privacy, request_id, now, as_mentee)


async def listing(
    privacy: Privacy,
    *,
    subject: str | None,
    overdue: bool | None,
    state: RequestState | None,
    limit: int,
    cursor: str | None,
    now: datetime,
    requester: bool,
) -> Page[DataRequestView]:
    """Requests by receipt, optionally one mentee's, overdue ones (open past their due date), or of one state."""
    query = DataRequest.select()
    if subject is not None:
        query = query.where(DataRequest.subject == subject)
    if state is not None:
        query = query.where(DataRequest.state == state)
    if overdue is True:
        query = query.where(DataRequest.state.not_in(list(TERMINAL)) & (DataRequest.due_at < now))
    elif overdue is False:
        query = query.where(DataRequest.state.is_in(list(TERMINAL)) | (DataRequest.due_at >= now))
    page, next_cursor = await by_time(query, DataRequest.received_at, DataRequest.id, limit=limit, cursor=cursor)
    rows = typed_all(page, DataRequestRow)
    ciphers = await privacy.keyring.readable(row.subject for row in rows)
    sequences = await audit.entry_sequences(row.last_entry_id for row in rows)
    items = [view(row, ciphers[row.subject], now, requester, sequences) for row in rows]
    return Page(items=items, next_cursor=next_cursor)


@dataclass(frozen=True, slots=True)
class _Move:
    changes: dict[Any, Any]
    details: dict[str, Any]


def _extension(row: DataRequestRow, move: RequestTransition, now: datetime) -> _Move:
    if move.extension is None or move.reason is None:
        field = "extension" if move.extension is None else "reason"
        raise field_error(field, "an extension needs its length (ISO 8601, at most P2M) and a reason", 422)
    try:
        extra = parse_duration(move.extension)
    except DurationError as exc:
        raise field_error("extension", str(exc)) from None
    first_due = ONE_MONTH.add_to(row.received_at)
    if extra.add_to(first_due) > LONGEST_EXTENSION.add_to(first_due) or extra.add_to(first_due) <= first_due:
        raise field_error("extension", "more than nothing and at most two months (P2M)", 422)
    due_at = extra.add_to(first_due)
    return _Move(
        changes={
            DataRequest.due_at: due_at,
            DataRequest.extended_at: now,
        },
        # The requester reads the reason on their request (GET), which is how they are told.
        details={"extension": extra.isoformat(), "due_at": due_at.isoformat(), "told_to_requester": True},
    )


async def transition(
    privacy: Privacy,
    request_id: uuid.UUID,
    move: RequestTransition,
    actor: Identity,
    requester: bool,
    now: datetime,
    expected_version: int,
) -> DataRequestView:
    """Move a request; completing it carries out an access, portability or erasure request.

    412 when the request is no longer at ``expected_version`` (the client's ``If-Match``),
    409 when its state does not allow the move."""
    row = await request_row(request_id)
    # Checked before an export is written, and again under the row lock below.
    check_version(row.version, expected_version)
    allowed = allowed_moves(row, requester, now)
    if move.to == "extended" and not requester and move.to in TRANSITIONS[row.state] and move.to not in allowed:
        raise Problem(
            409,
            "extension-too-late",
            "An extension must be decided and told to the requester before the first month ends",
            first_due_at=ONE_MONTH.add_to(row.received_at).isoformat(),
            allowed_next=allowed,
        )
    if move.to not in allowed:
        raise Problem(
            409,
            "illegal-transition",
            f"A {row.state} request cannot move to {move.to}"
            + (" by its requester" if requester and move.to in TRANSITIONS[row.state] else ""),
            current=row.state,
            allowed=allowed,
            allowed_next=allowed,
        )
    planned = _Move(changes={}, details={})
    if move.to == "extended":
        planned = _extension(row, move, now)
        # Staff's words about this mentee's request may speak about them: their key, as the description.
        assert move.reason is not None  # _extension refused a move without one
        sealed = await privacy.keyring.encrypt(row.subject, move.reason, scope=_scope(request_id))
        planned.changes[DataRequest.extension_reason] = sealed
        planned.details["reasons_sha256"] = sealed_sha256(sealed)
    elif move.to == "rejected":
        if move.reason_code is None:
            raise field_error("reason_code", "a rejection needs a reason code", 422)
        if not move.reason or not move.reason.strip():
            raise field_error("reason", "a rejection tells the requester why, in words", 422)
        # Staff's words about the mentee's request: the mentee's key, as the description.
        sealed = await privacy.keyring.encrypt(row.subject, move.reason, scope=_scope(request_id))
        planned = _Move(
            changes={DataRequest.reason_code: move.reason_code, DataRequest.rejection_reason: sealed},
            details={"reason_code": move.reason_code, "reasons_sha256": sealed_sha256(sealed)},
        )
    if move.to in TERMINAL:
        planned.changes[DataRequest.closed_at] = now
    if move.to == "completed" and row.request_type in ("access", "portability"):
        planned = await _export(privacy, row, planned, now)
    async with db.transaction():
        versions = lock_for_update(DataRequest.select(DataRequest.version).where(DataRequest.id == request_id))
        locked = await versions.output(as_list=True)
        check_version(locked[0] if locked else -1, expected_version)
        if move.to == "completed" and row.request_type == "erasure":
            # Its consent records (consent.withdraw) come after any change of the mentee's in the log.
            await consent.take_turn(row.subject)
            planned = await _erase(privacy, row, planned, now)
        recorded = await audit.record_change(
            actor=actor,
            action=f"privacy.request.{move.to}",
            resource_type="data_request",
            resource_id=str(request_id),
            details={"mentee_id": row.subject, "type": row.request_type, "from": row.state, **planned.details},
        )
        changes = {**planned.changes, DataRequest.state: move.to, DataRequest.last_entry_id: recorded.entry_id}
        if move.to == "completed" and row.request_type == "erasure":
            # Opted out of everything, under the erasure's own audit entry.
            purposes = [privacy.policy.purposes[name] for name in planned.details["consents_withdrawn"]]
            await consent.withdraw(row.subject, purposes, actor, now, recorded.entry_id)
        if DataRequest.certificate in changes:
            certificate = msgspec.json.decode(changes[DataRequest.certificate])
            # The erasure's entry: its id now, its sequence number once numbered (see view).
            certificate["audit_seq"] = None
            certificate["audit_entry_id"] = recorded.entry_id
            changes[DataRequest.certificate] = msgspec.json.encode(certificate).decode()
        await update_versioned(DataRequest, request_id, row.version, changes)
    return await get(privacy, request_id, now, requester)


async def build_export(privacy: Privacy, subject: str, request_id: uuid.UUID, now: datetime) -> ExportedDocument:
    """Everything every module holds about ``subject``, typed, with the audit entries about it
    (the format of :mod:`governance.privacy.exports` and its JSON Schema)."""
    # Entries recorded so far are numbered first, so that the export holds every one of them
    # and the facts in it cite their entries by number.
    await audit.number_queued()
    parts = await privacy.subjects.export(subject)
    ids = sorted({subject, *(ident for found in parts for ident in found.resource_ids)})
    entries: dict[int, AuditEntryView] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await AuditEntry.select().where((AuditEntry.actor_sub == subject) | AuditEntry.resource_id.is_in(chunk))
        entries.update((row.seq, audit.entry_view(row)) for row in typed_all(rows, AuditEntryRow))
    return privacy.export_document(
        mentee_id=subject,
        request_id=request_id,
        generated_at=now,
        parts=parts,
        stored_responses=await idempotency.stored_for(privacy.keyring, subject),
        audit_entries=[entries[seq] for seq in sorted(entries)],
    )


async def _export(privacy: Privacy, row: DataRequestRow, planned: _Move, now: datetime) -> _Move:
    # Written before the transaction that completes the request: an export whose completion
    # then fails stays unreferenced under its request's key and is overwritten by a retry.
    document = await build_export(privacy, row.subject, row.id, now)
    cipher = await privacy.keyring.cipher(row.subject, create=True)
    sealed = cipher.seal_segments(msgspec.json.encode(document), _export_context(row.id))
    stored = await privacy.store.put(export_key(row.id), sealed)
    return _Move(
        changes={
            **planned.changes,
            DataRequest.export_key: stored.key,
            DataRequest.export_sha256: stored.sha256,
            DataRequest.export_created_at: now,
        },
        details={
            **planned.details,
            "export": {"key": stored.key, "sha256": stored.sha256, "size": stored.size},
            "modules": sorted(document.modules.__struct_fields__),
            "audit_entries": len(document.audit_entries),
        },
    )


async def download(privacy: Privacy, request_id: uuid.UUID, actor: Identity) -> bytes:
    """The export file of a completed access or portability request, decrypted; each download is audited.

    The recorded SHA-256 is of the sealed file, as the store holds it."""
    row = await request_row(request_id)
    if row.export_key is None:
        raise Problem(404, "no-export", "This request has no export (not completed, not an access request, or expired)")
    try:
        body = await privacy.store.get(row.export_key)
    except ObjectMissing:
        raise Problem(
            410, "export-gone", "The export file is no longer in storage; file a new access request"
        ) from None
    if hashlib.sha256(body).hexdigest() != row.export_sha256:
        raise Problem(500, "export-altered", "The stored export does not match its recorded hash")
    if is_segmented(body):
        cipher = await privacy.keyring.cipher(row.subject)
        plain = b"".join([part async for part in cipher.open_segments(_chunks(body), _export_context(row.id))])
    else:  # written in clear before exports were sealed; retention and erasure still delete it
        plain = body
    await audit.record_event(
        actor=actor,
        action="privacy.export.downloaded",
        resource_type="data_request",
        resource_id=str(request_id),
        details={"mentee_id": row.subject, "sha256": row.export_sha256},
    )
    return plain


UNTIL_CLOSED: Final = "until the case closes"
# Said on every certificate, so it never claims more than the keys can do.
NOT_REACHED: Final = (
    "evidence bundles made before this erasure keep the reasons of the decisions they list "
    "until their retention ends: they are the accreditation evidence the platform must keep "
    "(GDPR Art. 17(3)(b) and (e)) and cannot be changed (Object Lock)"
)


def kept_under_hold(hold: Hold, key_kept: bool) -> dict[str, Any]:
    """One certificate line: what a legal hold keeps readable, why, and until when."""
    return {
        "module": hold.module,
        "record_type": hold.record_type,
        "record_id": hold.record_id,
        "why": hold.reason,
        "until": hold.until.isoformat() if hold.until else UNTIL_CLOSED,
        # False: nothing of this subject's was sealed under the case's own key (written
        # before case keys, or about another party), so it was erased with the rest.
        "personal_text_kept": key_kept,
        "then": "the retention sweep destroys the case's key once the hold ends",
    }


async def _erase(privacy: Privacy, row: DataRequestRow, planned: _Move, now: datetime) -> _Move:
    """Shred every key of the subject except those of cases under a legal hold, and let every
    module mark what it keeps (in the caller's transaction).

    What a hold keeps is decided by the keys, not by readers remembering to skip rows: each
    case's personal text is sealed under that case's key, and only those keys survive."""
    subject = row.subject
    holds = [h for h in await privacy.subjects.holds(subject) if h.record_id != str(row.id)]
    shredding = await privacy.keyring.shred(subject, keep={h.scope for h in holds}, now=now)
    kept_scopes = {ref.scope for ref in shredding.kept}
    shredded = bool(shredding)
    outcome = await privacy.subjects.on_erasure(subject, now)
    withdrawn = [purpose.name for purpose in await consent.allowed_purposes(privacy, subject, now)]
    certificate = jsonable(
        {
            "certificate": "erasure",
            "request_id": row.id,
            "mentee_id": subject,
            "erased_at": now,
            "key_shredded": shredded,
            "method": "crypto-shredding: the subject's data keys were destroyed, so every ciphertext "
            "of theirs (records, audit details, backups, exports) is unreadable, except what is "
            "sealed under the key of a case under a legal hold (kept_under_hold)",
            "kept_under_hold": [kept_under_hold(h, h.scope in kept_scopes) for h in holds],
            "erased": [
                {"module": e.module, "record_type": e.record_type, "count": e.count, "how": e.how}
                for e in outcome.erased
            ],
            "kept": [
                {"module": k.module, "record_type": k.record_type, "count": k.count, "reason": k.reason}
                for k in outcome.kept
            ],
            "legal_holds": [
                {"module": h.module, "record_type": h.record_type, "record_id": h.record_id, "reason": h.reason}
                for h in holds
            ],
            "consents_withdrawn": withdrawn,
            "not_reached": NOT_REACHED,
        }
    )
    return _Move(
        changes={**planned.changes, DataRequest.certificate: msgspec.json.encode(certificate).decode()},
        details={
            **planned.details,
            "key_shredded": shredded,
            "erased": {f"{e.module}.{e.record_type}": e.count for e in outcome.erased},
            "kept": {f"{k.module}.{k.record_type}": k.count for k in outcome.kept},
            "legal_holds": len(holds),
            "kept_under_hold": sorted(kept_scopes),
            "consents_withdrawn": withdrawn,
        },
    )


@dataclass(frozen=True, slots=True)
class ErasurePreview:
    """What an erasure of the subject would do if it were carried out now: the consents it
    withdraws, the cases whose legal hold keeps their personal text readable (and until
    when), and any erasure request already open."""

    holds: list[Hold]
    consents_withdrawn: list[str]
    open_erasure: uuid.UUID | None
    not_reached: str = NOT_REACHED


async def erasure_preview(privacy: Privacy, subject: str, now: datetime) -> ErasurePreview:
    """Read only: the confirmation a mentee reads before asking for erasure (the same holds
    and consents :func:`_erase` acts on)."""
    holds = await privacy.subjects.holds(subject)
    open_ids = (
        await DataRequest.select(DataRequest.id)
        .where(
            (DataRequest.subject == subject)
            & (DataRequest.request_type == "erasure")
            & DataRequest.state.not_in(list(TERMINAL))
        )
        .order_by(DataRequest.received_at)
        .output(as_list=True)
    )
    open_erasure = uuid.UUID(str(open_ids[0])) if open_ids else None
    return ErasurePreview(
        # The erasure's own request is no hold on its own erasure (as in _erase).
        holds=[h for h in holds if open_erasure is None or h.record_id != str(open_erasure)],
        consents_withdrawn=[purpose.name for purpose in await consent.allowed_purposes(privacy, subject, now)],
        open_erasure=open_erasure,
    )
