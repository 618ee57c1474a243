"""Refunds: bounded by what was paid, approved with four eyes above a threshold, issued by the platform.

A refund is for one session's payment (the platform reports what was paid), optionally
linked to the complaint that led to it. Requested refunds of a session may not add up
to more than was paid. Above the four-eyes threshold (settings) two different approvers
are needed, and the server enforces it. Creation runs inside
:func:`governance.core.idempotency.once`, so a retried POST never refunds twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from governance.audit import service as audit
from governance.complaints import states
from governance.complaints.config import Complaints
from governance.complaints.rows import RefundRow, SessionPaymentRow
from governance.complaints.schemas import (
    PaymentReport,
    PaymentView,
    RefundApprovalView,
    RefundCreate,
    RefundTransition,
    RefundView,
)
from governance.complaints.tables import Complaint, Refund, SessionPayment
from governance.core import db, idempotency
from governance.core.crypto import case_scope, reveal, sealed_sha256
from governance.core.errors import Problem, field_error, illegal_transition, not_found, not_permitted
from governance.core.identity import Identity
from governance.core.pagination import Page, equal_to, newest_first
from governance.core.rows import Row, dumps, loads, typed, typed_all
from governance.core.versioning import check_version, lock_for_update, update_versioned
from governance.core.visibility import may_see

RESOURCE: Final = "refund"
# Refunds that count against what was paid.
COUNTING: Final = ("requested", "approved", "issued")


async def report_payment(session_id: str, *, actor: Identity, data: PaymentReport, now: datetime) -> PaymentView:
    """Record what a mentee paid for a session. Reporting the same again changes nothing;
    a different amount, currency or mentee answers 409 (a payment is reported once)."""
    try:
        return await _report_payment(session_id, actor=actor, data=data, now=now)
    except Exception as exc:
        if not db.is_unique_violation(exc):
            raise
    # Two first reports raced (no row to lock yet): the other one won; compare with it.
    return await _report_payment(session_id, actor=actor, data=data, now=now)


async def _report_payment(session_id: str, *, actor: Identity, data: PaymentReport, now: datetime) -> PaymentView:
    async with db.transaction():
        existing = await _payment_locked(session_id)
        if existing is not None:
            same = (existing.mentee_id, existing.amount_minor, existing.currency) == (
                data.mentee_id,
                data.amount_minor,
                data.currency,
            )
            if not same:
                raise Problem(
                    409,
                    "payment-already-reported",
                    f"The payment for session {session_id!r} was already reported with other values",
                )
        else:
            await SessionPayment.insert(
                SessionPayment(
                    session_id=session_id,
                    mentee_id=data.mentee_id,
                    amount_minor=data.amount_minor,
                    currency=data.currency,
                    reported_by=actor.sub,
                    reported_at=now,
                )
            )
            await audit.record_change(
                actor=actor,
                action="refund.payment_reported",
                resource_type="session_payment",
                resource_id=session_id,
                details={"mentee_id": data.mentee_id, "amount_minor": data.amount_minor, "currency": data.currency},
            )
    return await payment(session_id)


async def _payment_locked(session_id: str) -> SessionPaymentRow | None:
    """The payment reported for a session, locked for the caller's transaction."""
    row = await lock_for_update(SessionPayment.select().where(SessionPayment.session_id == session_id)).first()
    return None if row is None else typed(row, SessionPaymentRow)


async def payment(session_id: str) -> PaymentView:
    found = await SessionPayment.select().where(SessionPayment.session_id == session_id).first()
    if found is None:
        raise Problem(404, "not-found", f"No payment was reported for session {session_id!r}")
    row = typed(found, SessionPaymentRow)
    return PaymentView(
        session_id=session_id,
        mentee_id=row.mentee_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        refunded_minor=await _counted(session_id),
        reported_at=row.reported_at,
    )


class _Amount(Row):
    amount_minor: int


async def _counted(session_id: str) -> int:
    rows = await Refund.select(Refund.amount_minor).where(
        (Refund.session_id == session_id) & Refund.state.is_in(list(COUNTING))
    )
    return sum(r.amount_minor for r in typed_all(rows, _Amount))


async def create(
    complaints: Complaints, *, actor: Identity, data: RefundCreate, now: datetime
) -> tuple[int, RefundView]:
    """Request a refund (run it through ``idempotency.once``); returns ``(201, view)``.

    400 names the field at fault: an unknown complaint, a missing session, another
    currency than was paid, or an amount above what is left to refund.
    """
    async with db.transaction():
        session_id, complaint_mentee = await _session_of(data)
        paid = await _payment_locked(session_id)
        if paid is None:
            raise Problem(
                409,
                "payment-unknown",
                f"The platform has not reported what was paid for session {session_id!r}; nothing to refund yet",
            )
        if complaint_mentee is not None and complaint_mentee != paid.mentee_id:
            raise field_error("complaint_id", "the complaint's complainant did not pay for this session")
        if data.currency != paid.currency:
            raise field_error("currency", f"the session was paid in {paid.currency}")
        left = paid.amount_minor - await _counted(session_id)
        if data.amount_minor > left:
            raise Problem(
                400,
                "validation",
                "Invalid body field 'amount_minor'",
                errors=[
                    {
                        "field": "amount_minor",
                        "source": "body",
                        "message": f"at most {left} can still be refunded for this session",
                    }
                ],
                refundable_minor=left,
            )
        refund_id = uuid.uuid4()
        needed = 2 if data.amount_minor > complaints.refund_four_eyes_threshold_minor else 1
        await Refund.insert(
            Refund(
                id=refund_id,
                state="requested",
                version=1,
                session_id=session_id,
                complaint_id=data.complaint_id,
                mentee_id=paid.mentee_id,
                amount_minor=data.amount_minor,
                currency=data.currency,
                reason=await complaints.keyring.encrypt(
                    paid.mentee_id, data.reason, scope=case_scope(RESOURCE, refund_id)
                ),
                requested_by=actor.sub,
                approvals_needed=needed,
                approved_by="[]",
                created_at=now,
                updated_at=now,
            )
        )
        await audit.record_change(
            actor=actor,
            action="refund.requested",
            resource_type=RESOURCE,
            resource_id=str(refund_id),
            details={
                "session_id": session_id,
                "complaint_id": str(data.complaint_id) if data.complaint_id else None,
                "amount_minor": data.amount_minor,
                "currency": data.currency,
                "approvals_needed": needed,
            },
        )
        return 201, await get(complaints, refund_id, reader=actor)


def replays(complaints: Complaints, reader: Identity) -> idempotency.Personal:
    """How a refund request's stored response is kept: sealed under the mentee's key, and
    once they were erased a replay shows the refund as it reads now (no reason) to ``reader``."""

    async def reread(refund_id: str) -> RefundView:
        return await get(complaints, uuid.UUID(refund_id), reader=reader)

    return idempotency.Personal(
        keyring=complaints.keyring,
        subject=lambda view: str(view.mentee_id),
        record=lambda view: str(view.id),
        reread=reread,
    )


class _Session(Row):
    session_id: str | None
    complainant_id: str


async def _session_of(data: RefundCreate) -> tuple[str, str | None]:
    if data.complaint_id is None:
        if data.session_id is None:
            raise field_error("session_id", "name the session, or the complaint about it")
        return data.session_id, None
    found = (
        await Complaint.select(Complaint.session_id, Complaint.complainant_id)
        .where(Complaint.id == data.complaint_id)
        .first()
    )
    if found is None:
        raise field_error("complaint_id", "no such complaint")
    complaint = typed(found, _Session)
    session_id = data.session_id or complaint.session_id
    if session_id is None:
        raise field_error("session_id", "the complaint names no session; name it here")
    if complaint.session_id is not None and session_id != complaint.session_id:
        raise field_error("session_id", "the complaint is about another session")
    return session_id, complaint.complainant_id


class _Mentee(Row):
    mentee_id: str


async def owner(refund_id: uuid.UUID) -> str | None:
    row = await Refund.select(Refund.mentee_id).where(Refund.id == refund_id).first()
    return None if row is None else typed(row, _Mentee).mentee_id


async def get(complaints: Complaints, refund_id: uuid.UUID, *, reader: Identity) -> RefundView:
    """One refund as ``reader`` may see it: approvals recorded while a second approver is
    still awaited are staff's deliberation (:mod:`governance.core.visibility`)."""
    row = await Refund.select().where(Refund.id == refund_id).first()
    if row is None:
        raise not_found("refund", refund_id)
    return await _view(complaints, typed(row, RefundRow), reader)


async def _view(complaints: Complaints, row: RefundRow, reader: Identity) -> RefundView:
    keyring = complaints.keyring
    # Approvals recorded while the refund awaits its second approver are staff's own.
    pending = row.state == "requested"
    return RefundView(
        id=row.id,
        state=row.state,
        version=row.version,
        session_id=row.session_id,
        complaint_id=row.complaint_id,
        mentee_id=row.mentee_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        reason=await reveal(keyring, row.mentee_id, row.reason),
        requested_by=row.requested_by,
        approvals_needed=row.approvals_needed,
        approved_by=[
            approver for approver in loads(row.approved_by, []) if may_see(reader, internal=pending, author=approver)
        ],
        approvals=[
            RefundApprovalView(
                approver=approval["approver"],
                reasons=await reveal(keyring, row.mentee_id, approval["reasons"]),
                at=datetime.fromisoformat(approval["at"]),
            )
            for approval in loads(row.approvals, [])
            if may_see(reader, internal=pending, author=approval["approver"])
        ],
        denied_by=row.denied_by,
        payment_reference=row.payment_reference,
        failure_reason=await reveal(keyring, row.mentee_id, row.failure_reason),
        created_at=row.created_at,
        updated_at=row.updated_at,
        allowed_next=states.allowed_next(states.REFUND_MOVES, row.state),
    )


async def search(
    complaints: Complaints,
    *,
    state: str | None,
    session_id: str | None,
    complaint_id: uuid.UUID | None,
    mentee: str | None,
    limit: int,
    cursor: str | None,
    reader: Identity,
) -> Page[RefundView]:
    """Refunds matching every filter, newest first, as ``reader`` may see them."""
    where = equal_to(
        (Refund.state, state),
        (Refund.session_id, session_id),
        (Refund.complaint_id, complaint_id),
        (Refund.mentee_id, mentee),
    )
    rows, next_cursor = await newest_first(Refund.select(), Refund.created_at, Refund.id, where, limit, cursor)
    return Page(items=[await _view(complaints, r, reader) for r in typed_all(rows, RefundRow)], next_cursor=next_cursor)


class AwaitingApproval(Row):
    """A refund waiting for approval as the support queue lists it: amounts and people,
    nothing sealed, so a page of them is one query."""

    id: uuid.UUID
    session_id: str
    complaint_id: uuid.UUID | None
    amount_minor: int
    currency: str
    requested_by: str
    approvals_needed: int
    approved_by: str  # JSON list, as stored
    created_at: datetime

    def approvers(self) -> list[str]:
        return list(loads(self.approved_by, []))


async def awaiting_approval(*, limit: int, cursor: str | None) -> Page[AwaitingApproval]:
    """Refunds in ``requested``, newest first, a page at a time (staff's queue: who requested
    each, who approved it so far, how many approvals it needs)."""
    columns = (
        Refund.id,
        Refund.session_id,
        Refund.complaint_id,
        Refund.amount_minor,
        Refund.currency,
        Refund.requested_by,
        Refund.approvals_needed,
        Refund.approved_by,
        Refund.created_at,
    )
    where = equal_to((Refund.state, "requested"))
    rows, next_cursor = await newest_first(Refund.select(*columns), Refund.created_at, Refund.id, where, limit, cursor)
    return Page(items=typed_all(rows, AwaitingApproval), next_cursor=next_cursor)


async def transition(
    complaints: Complaints,
    refund_id: uuid.UUID,
    *,
    actor: Identity,
    data: RefundTransition,
    expected_version: int,
    now: datetime,
) -> RefundView:
    """Approve (one approval; a second, different approver above the threshold), deny, or
    report the payout (platform: issued with its payment reference, or failed).

    Whoever requested the refund never approves it, and nobody approves it twice: both
    answer 403 with an audit entry of the refusal (``refund.approval_refused``).
    """
    return await audit.recording_refusals(
        actor,
        _transition(complaints, refund_id, actor=actor, data=data, expected_version=expected_version, now=now),
    )


def _refused(refund_id: uuid.UUID, problem: Problem, reason: str, requested_by: str) -> audit.Refusal:
    return audit.Refusal(
        problem,
        action="refund.approval_refused",
        resource_type=RESOURCE,
        resource_id=str(refund_id),
        details={"reason": reason, "requested_by": requested_by},
    )


async def _transition(
    complaints: Complaints,
    refund_id: uuid.UUID,
    *,
    actor: Identity,
    data: RefundTransition,
    expected_version: int,
    now: datetime,
) -> RefundView:
    keyring = complaints.keyring
    async with db.transaction():
        found = await lock_for_update(Refund.select().where(Refund.id == refund_id)).first()
        if found is None:
            raise not_found("refund", refund_id)
        row = typed(found, RefundRow)
        check_version(row.version, expected_version)
        state, target = row.state, data.to
        allowed = states.allowed_next(states.REFUND_MOVES, state)
        if target not in allowed:
            raise illegal_transition("refund", state, target, allowed)
        if not states.permitted(states.REFUND_MOVES, state, target, states.staff_kinds(actor)):
            who = ", ".join(sorted(states.REFUND_MOVES[state][target]))
            raise not_permitted("refund", state, target, f"this move is for: {who}")
        changes: dict[str, Any] = {"updated_at": now}
        action = f"refund.{target}"
        sealed = None
        if target in ("approved", "denied"):
            reasons = data.reasons or (data.reason if target == "denied" else None)
            if not reasons or not reasons.strip():
                raise field_error("reasons", f"a refund is {target} with its reasons")
            # Staff's words about the mentee's refund: the mentee's key, as the request's reason.
            sealed = await keyring.encrypt(row.mentee_id, reasons, scope=case_scope(RESOURCE, refund_id))
        if target == "approved":
            approvers: list[str] = loads(row.approved_by, [])
            if actor.sub == row.requested_by:
                raise _refused(
                    refund_id,
                    Problem(
                        403,
                        "four-eyes",
                        "You requested this refund; another member of staff must approve it",
                        requested_by=row.requested_by,
                        approved_by=approvers,
                    ),
                    "requester cannot approve",
                    row.requested_by,
                )
            if actor.sub in approvers:
                raise _refused(
                    refund_id,
                    Problem(
                        403,
                        "four-eyes",
                        f"You already approved this refund; {row.approvals_needed} different approvers are needed",
                        approved_by=approvers,
                    ),
                    "approver cannot approve twice",
                    row.requested_by,
                )
            approvers.append(actor.sub)
            changes["approved_by"] = dumps(approvers)
            approval = {"approver": actor.sub, "reasons": sealed, "at": now.isoformat()}
            changes["approvals"] = dumps([*loads(row.approvals, []), approval])
            if len(approvers) >= row.approvals_needed:
                changes["state"] = "approved"
            else:
                action = "refund.approval_recorded"
        elif target == "denied":
            changes.update(state="denied", denied_by=actor.sub, failure_reason=sealed)
        elif target == "issued":
            if not data.payment_reference:
                raise field_error("payment_reference", "the platform's reference of the payout")
            changes.update(state="issued", payment_reference=data.payment_reference)
        else:
            if not data.reason:
                raise field_error("reason", "why the payout failed")
            failure = await keyring.encrypt(row.mentee_id, data.reason, scope=case_scope(RESOURCE, refund_id))
            changes.update(state="failed", failure_reason=failure)
        await update_versioned(Refund, refund_id, row.version, changes)
        await audit.record_change(
            actor=actor,
            action=action,
            resource_type=RESOURCE,
            resource_id=str(refund_id),
            details={
                "from": state,
                "to": changes.get("state", state),
                "version": row.version + 1,
                "approvals": len(loads(changes.get("approved_by", row.approved_by), [])),
                "approvals_needed": row.approvals_needed,
                "payment_reference": changes.get("payment_reference"),
                **({} if sealed is None else {"reasons_sha256": sealed_sha256(sealed)}),
            },
        )
    return await get(complaints, refund_id, reader=actor)
