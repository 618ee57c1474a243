"""How a complaint moves through the ISO 10002 state machine: by a person's request, by
the SLA clock, or at once on filing (a category the policy escalates immediately).

:func:`move` is the one place a complaint changes state. What a move does to the row
besides its state is data: one effect per target state (:data:`EFFECTS`), so a new
state is a new line in the table, not a new branch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from msgspec.structs import replace

from governance.audit import service as audit
from governance.complaints import sla, states
from governance.complaints.config import Complaints
from governance.complaints.policy import SlaPolicy
from governance.complaints.rows import ComplaintRow, RecordId
from governance.complaints.tables import Complaint, ComplaintEvent
from governance.core import db
from governance.core.errors import Problem, illegal_transition, not_found, not_permitted
from governance.core.identity import SYSTEM, Identity
from governance.core.rows import dumps, loads, typed, typed_all
from governance.core.versioning import lock_for_update, update_versioned

RESOURCE: Final = "complaint"


@dataclass(frozen=True, slots=True)
class Move:
    """One move of a complaint: to where, by whom, when, and what the mover gave with it.

    ``reason`` is stored in the history as given: sealed under the complainant's key when
    a person wrote it, plain when the system generated it. Resolving brings the outcome,
    remedies and sealed ``resolution_reasons``; staff may name an ``assignee`` on any move.
    """

    target: str
    actor: Identity
    at: datetime
    reason: str | None = None
    assignee: str | None = None
    outcome: str | None = None
    remedies: tuple[str, ...] = ()
    resolution_reasons: str | None = None


def next_states(row: ComplaintRow, policy: SlaPolicy, now: datetime) -> list[str]:
    """The states this complaint may move to now: the table's, less an appeal once its
    window has closed. Both the view's ``allowed_next`` and :func:`move` ask here, so
    what a reader is offered is what a move is judged by."""
    allowed = states.allowed_next(states.COMPLAINT_MOVES, row.state)
    if row.resolved_at is not None and now > row.resolved_at + policy.complaint_appeal_window:
        allowed = [s for s in allowed if s not in states.APPEAL_STATES]
    return allowed


async def locked(complaint_id: uuid.UUID) -> ComplaintRow:
    """The complaint's row, locked for the caller's transaction (404 when there is none)."""
    row = await lock_for_update(Complaint.select().where(Complaint.id == complaint_id)).first()
    if row is None:
        raise not_found("complaint", complaint_id)
    return typed(row, ComplaintRow)


def changed(row: ComplaintRow, changes: dict[str, Any]) -> ComplaintRow:
    """``row`` with ``changes`` (column names and values) applied, as it would read back."""
    return replace(row, **changes)


async def move(row: ComplaintRow, step: Move, policy: SlaPolicy) -> ComplaintRow:
    """Apply one move inside the caller's transaction: row, SLA clock, event, audit.

    409 when the state machine forbids it (or an appeal comes after its window), 403
    when the mover may not make it. Returns the row as stored.
    """
    state = row.state
    _refuse_unless_allowed(row, step, policy)
    changes: dict[str, Any] = {"state": step.target, "updated_at": step.at}
    if state == "awaiting_complainant":  # the clock runs again
        assert row.sla_paused_at is not None  # awaiting the complainant is what pauses the clock
        pauses = [*sla.decode_pauses(row.sla_pauses), (row.sla_paused_at, step.at)]
        changes.update(sla_paused_at=None, sla_pauses=sla.encode_pauses(pauses))
    effect = EFFECTS.get(step.target)
    if effect is not None:
        changes.update(effect(row, step))
    if step.assignee is not None:
        changes["assignee"] = step.assignee
    changes.update(due_columns(policy, changed(row, changes)))
    await update_versioned(Complaint, row.id, row.version, changes)
    await record_event(row.id, state, step.target, step.actor, step.at, step.reason)
    await audit.record_change(
        actor=step.actor,
        action="complaint.escalated" if step.target == "escalated" else "complaint.transitioned",
        resource_type=RESOURCE,
        resource_id=str(row.id),
        details={
            "from": state,
            "to": step.target,
            "version": row.version + 1,
            "outcome": changes.get("outcome"),
            "assignee": changes.get("assignee"),
        },
    )
    return changed(row, {**changes, "version": row.version + 1})


def _refuse_unless_allowed(row: ComplaintRow, step: Move, policy: SlaPolicy) -> None:
    state = row.state
    allowed = next_states(row, policy, step.at)
    if step.target not in allowed:
        if step.target in states.APPEAL_STATES and step.target in states.COMPLAINT_MOVES[state]:
            assert row.resolved_at is not None  # next_states drops an appeal only once resolved
            appeal_until = row.resolved_at + policy.complaint_appeal_window
            raise Problem(
                409,
                "appeal-window-closed",
                f"The appeal window closed at {appeal_until.isoformat()}",
                appeal_until=appeal_until.isoformat(),
                allowed_next=allowed,
            )
        raise illegal_transition("complaint", state, step.target, allowed)
    kinds = states.complaint_actor_kinds(step.actor, row.complainant_id)
    if not states.permitted(states.COMPLAINT_MOVES, state, step.target, kinds):
        who = ", ".join(sorted(states.COMPLAINT_MOVES[state][step.target]))
        raise not_permitted("complaint", state, step.target, f"this move is for: {who}")


def _acknowledged(row: ComplaintRow, step: Move) -> dict[str, Any]:
    return {"acknowledged_at": step.at, "assignee": row.assignee or step.actor.sub}


def _awaiting_complainant(row: ComplaintRow, step: Move) -> dict[str, Any]:
    # Asking the complainant is a response: it meets the first-response target.
    return {"sla_paused_at": step.at, "first_response_at": row.first_response_at or step.at}


def _resolved(row: ComplaintRow, step: Move) -> dict[str, Any]:
    return {
        "resolved_at": step.at,
        "first_response_at": row.first_response_at or step.at,
        "outcome": step.outcome,
        "remedies": dumps(sorted(set(step.remedies))),
        "resolution_reasons": step.resolution_reasons,
    }


def _closed(row: ComplaintRow, step: Move) -> dict[str, Any]:
    return {"closed_at": step.at}


def _reopened(row: ComplaintRow, step: Move) -> dict[str, Any]:
    # An appeal starts a new resolution clock: earlier breaches must not exempt its targets.
    return {
        "sla_started_at": step.at,
        "closed_at": None,
        "outcome": None,
        "remedies": "[]",
        "resolution_reasons": None,
        "breaches": "[]",
        "breached": False,
    }


# What reaching each state does to the row besides its state; the others change nothing more.
EFFECTS: Final[Mapping[str, Callable[[ComplaintRow, Move], dict[str, Any]]]] = {
    "acknowledged": _acknowledged,
    "awaiting_complainant": _awaiting_complainant,
    "resolved": _resolved,
    "closed": _closed,
    "reopened": _reopened,
}


def due_columns(policy: SlaPolicy, row: ComplaintRow) -> dict[str, Any]:
    """The SLA columns for a complaint as ``row`` describes it."""
    if row.state not in states.OPEN_COMPLAINT_STATES:
        dues = sla.Dues()
    else:
        met = {
            kind for kind, at in (("acknowledge", row.acknowledged_at), ("first_response", row.first_response_at)) if at
        }
        dues = sla.complaint_dues(
            policy,
            category=row.category,
            severity=row.severity,
            received_at=row.received_at,
            started_at=row.sla_started_at,
            pauses=sla.decode_pauses(row.sla_pauses),
            paused=row.sla_paused_at is not None,
            met=met,
            breached=loads(row.breaches, []),
        )
    return {
        "ack_due_at": dues.acknowledge,
        "response_due_at": dues.first_response,
        "resolve_due_at": dues.resolve,
        "resolve_deadline_at": dues.resolve if dues.resolve is not None else row.resolve_deadline_at,
        "next_due_at": dues.next,
    }


async def record_event(
    complaint_id: uuid.UUID, from_state: str | None, to_state: str, actor: Identity, at: datetime, reason: str | None
) -> None:
    """One line of the complaint's history (its ``reason`` as stored: sealed when a person gave it)."""
    await ComplaintEvent.insert(
        ComplaintEvent(
            id=uuid.uuid4(),
            complaint_id=complaint_id,
            from_state=from_state,
            to_state=to_state,
            actor=actor.sub,
            at=at,
            reason=reason,
        )
    )


async def scan_breaches(complaints: Complaints, now: datetime, *, batch: int = 200) -> int:
    """Flag every complaint whose pending deadline has passed and escalate it (actor ``system``).

    Each complaint changes in its own transaction with its audit entries; a complaint
    changed meanwhile by someone else is simply looked at again on the next scan.
    Returns the number of complaints flagged.
    """
    flagged = 0
    while True:
        due = (
            await Complaint.select(Complaint.id)
            .where((Complaint.next_due_at <= now) & Complaint.state.is_in(sorted(states.OPEN_COMPLAINT_STATES)))
            .order_by(Complaint.next_due_at)
            .limit(batch)
        )
        if not due:
            return flagged
        for item in typed_all(due, RecordId):
            flagged += await flag_overdue(item.id, complaints.policy, now)
        if len(due) < batch:
            return flagged


async def flag_overdue(complaint_id: uuid.UUID, policy: SlaPolicy, now: datetime) -> int:
    """The SLA scan's step for one complaint: mark it breached with the deadlines it has missed
    by ``now``, and escalate it unless it already is, each with its audit entry. 1 when it was
    flagged, 0 when it was no longer open and overdue."""
    async with db.transaction():
        row = await locked(complaint_id)
        if row.state not in states.OPEN_COMPLAINT_STATES or row.next_due_at is None or row.next_due_at > now:
            return 0  # changed since the scan read it
        dues = sla.Dues(row.ack_due_at, row.response_due_at, row.resolve_due_at)
        kinds = dues.overdue(now)
        breaches = sorted({*loads(row.breaches, []), *kinds})
        changes: dict[str, Any] = {"breached": True, "breaches": dumps(breaches), "updated_at": now}
        changes.update(due_columns(policy, changed(row, changes)))
        await update_versioned(Complaint, complaint_id, row.version, changes)
        await audit.record_change(
            actor=SYSTEM,
            action="complaint.sla_breached",
            resource_type=RESOURCE,
            resource_id=str(complaint_id),
            details={"missed": kinds, "state": row.state},
        )
        row = changed(row, {**changes, "version": row.version + 1})
        if row.state != "escalated":
            await move(row, Move("escalated", SYSTEM, now, reason="sla breach: " + ", ".join(kinds)), policy)
    return 1
