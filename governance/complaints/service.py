"""Complaints: filing, reading, and a person's request to move one.

How a complaint moves (the ISO 10002 state machine, the SLA clock, breach escalation)
is :mod:`~governance.complaints.moves`; notes are :mod:`~governance.complaints.notes`.
Both are re-exported here, so that callers name one service.

Every change runs in one ``db.transaction()`` with its ``audit.record_change``; audit details
hold ids and states only (descriptions, reasons and notes are ciphertext under the
complainant's subject). Services take ``now`` from the caller, so tests control time.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import msgspec
import structlog
from msgspec.structs import asdict
from piccolo.custom_types import Combinable

from governance.audit import service as audit
from governance.complaints import states
from governance.complaints.config import Complaints
from governance.complaints.moves import (
    RESOURCE,
    Move,
    changed,
    due_columns,
    locked,
    move,
    next_states,
    record_event,
    scan_breaches,
)
from governance.complaints.notes import add_note, author_role
from governance.complaints.rows import ComplaintEventRow, ComplaintNoteRow, ComplaintRow
from governance.complaints.schemas import (
    ComplaintCreate,
    ComplaintEventView,
    ComplaintSort,
    ComplaintSummary,
    ComplaintTransition,
    ComplaintView,
    NoteView,
    SlaView,
)
from governance.complaints.tables import Complaint, ComplaintEvent, ComplaintNote
from governance.core import db
from governance.core.crypto import Keyring, case_scope, is_sealed, reveal
from governance.core.errors import field_error, invalid_parameter, not_found
from governance.core.identity import SYSTEM, Identity
from governance.core.pagination import Page, decode_cursor, encode_cursor, equal_to, newest_first
from governance.core.rows import Row, loads, typed, typed_all
from governance.core.versioning import check_version
from governance.core.visibility import may_see

log = structlog.get_logger("governance.complaints")

# The support queue reads these columns straight into its items (named as the item names
# them): one conversion per row, which keeps the busiest list as fast as a bare select.
SUMMARY_COLUMNS: Final = (
    Complaint.id,
    Complaint.state,
    Complaint.category,
    Complaint.severity,
    Complaint.complainant_id,
    Complaint.assignee,
    Complaint.breached,
    Complaint.received_at,
    Complaint.next_due_at.as_alias("next_due"),
)
_SUMMARIES: Final = list[ComplaintSummary]


def _summaries(rows: list[dict[str, Any]]) -> list[ComplaintSummary]:
    """Rows of :data:`SUMMARY_COLUMNS` as the queue's items."""
    return msgspec.convert(rows, _SUMMARIES)


async def file(complaints: Complaints, *, actor: Identity, data: ComplaintCreate, now: datetime) -> ComplaintView:
    """File a complaint. Mentees file for themselves; others name the complainant.

    The severity comes from the category unless staff override it with a reason. A
    category the policy escalates at once (safeguarding) is escalated by ``system`` in the
    same transaction.
    """
    policy = complaints.policy
    kinds = states.staff_kinds(actor)
    complainant = _complainant(actor, data, kinds)
    severity = policy.severity[data.category]
    if data.severity is not None and data.severity != severity:
        if "staff" not in kinds:
            raise field_error("severity", "only support agents and compliance officers may override the severity")
        if not data.severity_reason:
            raise field_error("severity_reason", "overriding the severity needs a reason")
        severity = data.severity
    complaint_id = uuid.uuid4()
    targets = policy.targets_for(data.category, severity)
    # Every column not named here starts at the table's default: nothing met, paused or breached yet.
    new = Complaint(
        id=complaint_id,
        state="received",
        version=1,
        category=data.category,
        severity=severity,
        complainant_id=complainant,
        filed_by=actor.sub,
        filed_by_role=author_role(actor),
        mentor_id=data.mentor_id,
        session_id=data.session_id,
        attestation_id=data.attestation_id,
        received_at=now,
        sla_started_at=now,
        updated_at=now,
        sla_clock=targets.clock,
    )
    row = typed(new.to_dict(), ComplaintRow)
    row = changed(row, due_columns(policy, row))
    async with db.transaction():
        # The complaint's own key: a legal hold keeps exactly this case readable after an erasure.
        cipher = await complaints.keyring.cipher(complainant, scope=case_scope(RESOURCE, complaint_id), create=True)
        # The complainant's words, and staff's reason for overriding the severity: sealed alike.
        sealed = {
            "description": cipher.encrypt(data.description),
            "desired_remedy": cipher.encrypt(data.desired_remedy) if data.desired_remedy else None,
            "severity_reason": (
                cipher.encrypt(data.severity_reason)
                if data.severity_reason and severity != policy.severity[data.category]
                else None
            ),
        }
        await Complaint.insert(Complaint(**asdict(changed(row, sealed))))
        await record_event(complaint_id, None, "received", actor, now, None)
        await audit.record_change(
            actor=actor,
            action="complaint.filed",
            resource_type=RESOURCE,
            resource_id=str(complaint_id),
            details={
                "category": data.category,
                "severity": severity,
                "complainant_id": complainant,
                "mentor_id": data.mentor_id,
                "session_id": data.session_id,
                "attestation_id": str(data.attestation_id) if data.attestation_id else None,
            },
        )
        if data.category in policy.escalate_immediately:
            await move(
                await locked(complaint_id), Move("escalated", SYSTEM, now, reason=f"{data.category}: immediate"), policy
            )
    return await get(complaints, complaint_id, reader=actor, now=now)


def _complainant(actor: Identity, data: ComplaintCreate, kinds: set[str]) -> str:
    if kinds & {"staff", "platform"}:
        if data.complainant_id is None:
            raise field_error("complainant_id", "name the complainant (their subject id) when filing for someone")
        return data.complainant_id
    # A mentee files only for themselves.
    if data.complainant_id not in (None, actor.sub):
        raise field_error("complainant_id", "you can file a complaint only for yourself")
    return actor.sub


async def _event_reason(keyring: Keyring, subject: str, stored: str | None) -> str | None:
    """An event's reason: a person's is ciphertext (None once erased); the system's is
    generated text (an SLA breach, an immediate escalation) and stored as it is."""
    if stored is None or not is_sealed(stored):
        return stored
    return await reveal(keyring, subject, stored)


async def owner(complaint_id: uuid.UUID) -> str | None:
    """The complainant of a complaint (None when there is no such complaint)."""
    row = await Complaint.select(Complaint.complainant_id).where(Complaint.id == complaint_id).first()
    return None if row is None else typed(row, _Complainant).complainant_id


class _Complainant(Row):
    complainant_id: str


async def get(complaints: Complaints, complaint_id: uuid.UUID, *, reader: Identity, now: datetime) -> ComplaintView:
    """One complaint with its SLA standing, history and notes (personal text decrypted), as
    ``reader`` may see it: internal notes and reasons only for staff (:mod:`governance.core.visibility`)."""
    found = await Complaint.select().where(Complaint.id == complaint_id).first()
    if found is None:
        raise not_found("complaint", complaint_id)
    events = (
        await ComplaintEvent.select().where(ComplaintEvent.complaint_id == complaint_id).order_by(ComplaintEvent.at)
    )
    notes = (
        await ComplaintNote.select()
        .where(ComplaintNote.complaint_id == complaint_id)
        .order_by(ComplaintNote.created_at)
    )
    return await _view(
        complaints,
        typed(found, ComplaintRow),
        typed_all(events, ComplaintEventRow),
        typed_all(notes, ComplaintNoteRow),
        reader,
        now,
    )


async def _view(
    complaints: Complaints,
    row: ComplaintRow,
    events: list[ComplaintEventRow],
    notes: list[ComplaintNoteRow],
    reader: Identity,
    now: datetime,
) -> ComplaintView:
    keyring, policy = complaints.keyring, complaints.policy
    subject = row.complainant_id
    resolved_at = row.resolved_at
    appeal_until = (
        resolved_at + policy.complaint_appeal_window if resolved_at and row.state in {"resolved", "closed"} else None
    )
    return ComplaintView(
        id=row.id,
        state=row.state,
        version=row.version,
        category=row.category,
        severity=row.severity,
        severity_reason=(
            await reveal(keyring, subject, row.severity_reason) if may_see(reader, internal=True) else None
        ),
        complainant_id=subject,
        filed_by=row.filed_by,
        mentor_id=row.mentor_id,
        session_id=row.session_id,
        attestation_id=row.attestation_id,
        description=await reveal(keyring, subject, row.description),
        desired_remedy=await reveal(keyring, subject, row.desired_remedy),
        assignee=row.assignee,
        outcome=row.outcome,
        remedies=loads(row.remedies, []),
        resolution_reasons=await reveal(keyring, subject, row.resolution_reasons),
        received_at=row.received_at,
        acknowledged_at=row.acknowledged_at,
        first_response_at=row.first_response_at,
        resolved_at=resolved_at,
        closed_at=row.closed_at,
        appeal_until=appeal_until,
        sla=SlaView(
            clock=row.sla_clock,
            paused=row.sla_paused_at is not None,
            acknowledge_due=row.ack_due_at,
            first_response_due=row.response_due_at,
            resolve_due=row.resolve_due_at,
            breached=row.breached,
            breaches=loads(row.breaches, []),
        ),
        allowed_next=next_states(row, policy, now),
        history=[
            ComplaintEventView(
                from_state=e.from_state,
                to_state=e.to_state,
                actor=e.actor,
                at=e.at,
                # The system's reasons are generated and addressed to everyone; a person's are
                # their own and staff's are internal.
                reason=(
                    await _event_reason(keyring, subject, e.reason)
                    if may_see(reader, internal=e.actor != SYSTEM.sub, author=e.actor)
                    else None
                ),
            )
            for e in events
        ],
        notes=[
            NoteView(
                id=n.id,
                author=n.author,
                author_role=n.author_role,
                to_complainant=n.to_complainant,
                body=await reveal(keyring, subject, n.body),
                created_at=n.created_at,
            )
            for n in notes
            if may_see(reader, internal=not n.to_complainant, author=n.author)
        ],
    )


async def search(
    *,
    state: str | None = None,
    category: str | None = None,
    assignee: str | None = None,
    breached: bool | None = None,
    complainant: str | None = None,
    sort: ComplaintSort = "received",
    limit: int,
    cursor: str | None = None,
) -> Page[ComplaintSummary]:
    """Complaints matching every given filter, a page at a time: newest first, or with
    ``sort="due"`` soonest SLA deadline first (see :func:`_soonest_due`)."""
    where = equal_to(
        (Complaint.state, state),
        (Complaint.category, category),
        (Complaint.assignee, assignee),
        (Complaint.breached, breached),
        (Complaint.complainant_id, complainant),
    )
    if sort == "due":
        items, next_cursor = await _soonest_due(where, limit, cursor)
    else:
        if cursor is not None and "sort" in decode_cursor(cursor):
            # A position in another order would silently skip or repeat complaints.
            raise invalid_parameter("cursor", "a cursor of another sort order: start again without it")
        page, next_cursor = await newest_first(
            Complaint.select(*SUMMARY_COLUMNS), Complaint.received_at, Complaint.id, where, limit, cursor
        )
        items = _summaries(page)
    return Page(items=items, next_cursor=next_cursor)


async def _soonest_due(
    where: list[Combinable], limit: int, cursor: str | None
) -> tuple[list[ComplaintSummary], str | None]:
    """One page of the support queue by SLA deadline, and the cursor of the next.

    Complaints with a pending deadline come first, soonest (so overdue ones) first; then
    those with none (the clock paused while awaiting the complainant, resolved, closed,
    withdrawn), oldest received first: nothing there is about to breach. Ties go by id.
    Each part is read in its own keyset order, so one cursor walks across the boundary
    and the same query works on both databases without ``NULLS LAST``.
    """
    due, received, ident = Complaint.next_due_at, Complaint.received_at, Complaint.id
    after: tuple[datetime | None, datetime | None, uuid.UUID] | None = None
    if cursor is not None:
        position = decode_cursor(cursor)
        try:
            if position.get("sort") != "due":
                raise ValueError(position)
            after = (
                None if position["due"] is None else datetime.fromisoformat(position["due"]),
                datetime.fromisoformat(position["received"]),
                uuid.UUID(position["id"]),
            )
        except (KeyError, TypeError, ValueError):
            raise invalid_parameter("cursor", "not a cursor of this order (sort=due)") from None

    def filtered(query: Any) -> Any:
        for condition in where:
            query = query.where(condition)
        return query

    rows: list[ComplaintSummary] = []
    if after is None or after[0] is not None:
        dated = filtered(Complaint.select(*SUMMARY_COLUMNS).where(due.is_not_null()))
        if after is not None:
            dated = dated.where((due > after[0]) | ((due == after[0]) & (ident > after[2])))
        rows = _summaries(await dated.order_by(due).order_by(ident).limit(limit + 1))
    if len(rows) <= limit:
        undated = filtered(Complaint.select(*SUMMARY_COLUMNS).where(due.is_null()))
        if after is not None and after[0] is None:
            undated = undated.where((received > after[1]) | ((received == after[1]) & (ident > after[2])))
        rows += _summaries(await undated.order_by(received).order_by(ident).limit(limit + 1 - len(rows)))
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    return page, queue_position(page[-1])


def queue_position(item: ComplaintSummary) -> str:
    """The ``sort=due`` cursor that resumes the queue right after ``item``."""
    return encode_cursor(
        {
            "sort": "due",
            "due": None if item.next_due is None else item.next_due.isoformat(),
            "received": item.received_at.isoformat(),
            "id": str(item.id),
        }
    )


async def transition(
    complaints: Complaints,
    complaint_id: uuid.UUID,
    *,
    actor: Identity,
    data: ComplaintTransition,
    expected_version: int,
    now: datetime,
) -> ComplaintView:
    """Move a complaint to ``data.to``: 412 when stale, 409 when the state machine forbids it,
    403 when this actor may not make that move, 400 naming a missing field."""
    keyring = complaints.keyring
    async with db.transaction():
        row = await locked(complaint_id)
        check_version(row.version, expected_version)
        kinds = states.complaint_actor_kinds(actor, row.complainant_id)
        if data.assignee is not None and "staff" not in kinds:
            raise field_error("assignee", "only staff assign complaints")
        reasons = None
        if data.to == "resolved":
            if data.outcome is None:
                raise field_error("outcome", "resolving needs an outcome: upheld, partially_upheld or not_upheld")
            if not data.reasons:
                raise field_error("reasons", "a final response states its reasons")
            reasons = await keyring.encrypt(row.complainant_id, data.reasons, scope=case_scope(RESOURCE, complaint_id))
        # A person's reason for a move may speak about the complainant: their key, like notes.
        reason = (
            await keyring.encrypt(row.complainant_id, data.reason, scope=case_scope(RESOURCE, complaint_id))
            if data.reason
            else None
        )
        step = Move(
            data.to,
            actor,
            now,
            reason=reason,
            assignee=data.assignee,
            outcome=data.outcome,
            remedies=tuple(data.remedies),
            resolution_reasons=reasons,
        )
        await move(row, step, complaints.policy)
    return await get(complaints, complaint_id, reader=actor, now=now)


__all__ = [
    "RESOURCE",
    "SUMMARY_COLUMNS",
    "add_note",
    "file",
    "get",
    "next_states",
    "owner",
    "queue_position",
    "scan_breaches",
    "search",
    "transition",
]
