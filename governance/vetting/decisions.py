"""Four-eyes decisions about a mentor: one compliance officer proposes, another
confirms or rejects, the proposer may withdraw.

A confirmed decision sets the mentor's standing, from which their status is derived
again (:func:`~governance.vetting.registry.refresh_status`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

from piccolo.columns.combination import WhereRaw

from governance.audit import service as audit
from governance.core import db, idempotency
from governance.core.crypto import SubjectCipher, sealed_sha256
from governance.core.errors import Problem, not_found
from governance.core.identity import Identity
from governance.core.pagination import Page, decode_cursor, encode_cursor
from governance.core.rows import Row, typed, typed_all
from governance.vetting import states
from governance.vetting.registry import check_facts, gaps_of, mentor_row, refresh_status, touch
from governance.vetting.schemas import AuditTrail, DecisionProposal, DecisionView
from governance.vetting.tables import Decision, DecisionRow, Mentor, MentorProfile

if TYPE_CHECKING:
    from governance.vetting.service import Vetting


class _Superseded(Row):
    """A proposal a newer one took the place of."""

    id: uuid.UUID


class _Proposer(Row):
    """Whose proposal a decision is, and about which mentor."""

    proposed_by: str
    mentor: uuid.UUID


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
                "supersedes": [str(row.id) for row in typed_all(superseded, _Superseded)],
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
                proposed_entry_id=recorded.entry_id,
            )
        )
        await touch(mentor_id)
    return await get_decision(vetting, decision_id)


async def _decision_allowed(
    vetting: Vetting, mentor: MentorProfile, action: states.DecisionAction, now: datetime
) -> None:
    status = mentor.status
    sources, _ = states.DECISIONS[action]
    cipher = (await vetting.keyring.readable([str(mentor.id)]))[str(mentor.id)]
    missing = gaps_of(vetting, mentor, await check_facts(mentor.id, cipher), now)
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
    row = await Decision.select(Decision.proposed_by, Decision.mentor).where(Decision.id == decision_id).first()
    if row is None:
        raise not_found("decision", decision_id)
    decision = typed(row, _Proposer)
    mover = states.DECISION_MOVES["proposed"][target]
    own = decision.proposed_by == actor.sub
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
            "mentor_id": str(decision.mentor),
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
    await _proposal_numbered(await decision_row(decision_id))
    async with db.transaction():
        decision = await decision_row(decision_id)
        allowed = states.allowed_decision_moves(decision.state)
        if target not in allowed:
            raise Problem(
                409,
                "decision-closed",
                f"This decision is {decision.state}, no longer a proposal",
                allowed_next=allowed,
            )
        mentor_id = decision.mentor
        # The reasons judge the mentor's case: their key, as the proposal's rationale.
        sealed = (await vetting.keyring.cipher(str(mentor_id), create=True)).encrypt(reasons) if reasons else None
        recorded = await audit.record_change(
            actor=actor,
            action=f"vetting.decision.{target}",
            resource_type="decision",
            resource_id=str(decision_id),
            details={
                "mentor_id": str(mentor_id),
                "decision": decision.action,
                "proposed_by": decision.proposed_by,
                **await _proposal_entry(decision),
                **({"reasons_sha256": sealed_sha256(sealed)} if sealed else {}),
            },
        )
        closed = (
            await Decision.update(
                {
                    Decision.state: target,
                    Decision.closed_by: actor.sub,
                    Decision.closed_at: now,
                    Decision.closed_entry_id: recorded.entry_id,
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
    decision = await decision_row(decision_id)
    await _proposal_numbered(decision)
    async with db.transaction():
        if "confirmed" not in states.allowed_decision_moves(decision.state):
            raise Problem(
                409,
                "decision-closed",
                f"This decision is {decision.state}, not awaiting confirmation",
                allowed_next=states.allowed_decision_moves(decision.state),
            )
        mentor = await mentor_row(decision.mentor)
        await _decision_allowed(vetting, mentor, decision.action, now)
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.decision.confirmed",
            resource_type="decision",
            resource_id=str(decision_id),
            details={
                "mentor_id": str(mentor.id),
                "decision": decision.action,
                "proposed_by": decision.proposed_by,
                **await _proposal_entry(decision),
                "reasons_sha256": sealed_sha256(decision.rationale),
            },
        )
        confirmed = (
            await Decision.update(
                {
                    Decision.state: "confirmed",
                    Decision.confirmed_by: actor.sub,
                    Decision.confirmed_at: now,
                    Decision.confirmed_entry_id: recorded.entry_id,
                }
            )
            .where((Decision.id == decision_id) & (Decision.state == "proposed"))
            .returning(Decision.id)
        )
        if not confirmed:
            raise Problem(409, "decision-closed", "This decision was confirmed or superseded meanwhile")
        _, standing = states.DECISIONS[decision.action]
        await refresh_status(
            vetting, mentor, actor, now, cause=f"decision {decision_id} {decision.action}", standing=standing
        )
        if decision.action == "approve" and mentor.first_approved_at is None:
            await Mentor.update({Mentor.first_approved_at: now}).where(Mentor.id == mentor.id)
    return await get_decision(vetting, decision_id)


def decision_view(row: DecisionRow, cipher: SubjectCipher | None, sequences: Mapping[int, int]) -> DecisionView:
    return DecisionView(
        id=row.id,
        mentor_id=row.mentor,
        action=row.action,
        state=row.state,
        rationale=cipher.read(row.rationale) if cipher else None,
        requirements_version=row.requirements_version,
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        confirmed_by=row.confirmed_by,
        confirmed_at=row.confirmed_at,
        audit=_trail(row, sequences),
        allowed_next=states.allowed_decision_moves(row.state),
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        closing_reasons=cipher.read(row.closing_reasons) if cipher else None,
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


def trail(recorded: audit.EntryRef, latest: audit.EntryRef | None = None) -> AuditTrail:
    """A fact's :class:`AuditTrail` from its entries."""
    return AuditTrail(
        recorded=recorded.seq,
        latest=latest.seq if latest else None,
        recorded_entry_id=recorded.entry_id,
        latest_entry_id=latest.entry_id if latest else None,
    )


async def _proposal_numbered(decision: DecisionRow) -> None:
    """Make sure the proposal's entry has its number before a confirmation or closing cites
    it (:func:`_proposal_entry`). It committed with the proposal, earlier, and the sequencer
    numbers entries within moments, so this finds it numbered; only where no sequencer ran
    since (a process without its job) does it number the queue, outside the change's
    transaction, as a reader of the log does. The change itself takes no sequencer lock."""
    entry_id = decision.proposed_entry_id
    queued = entry_id is not None and decision.proposed_seq is None
    if queued and entry_id not in await audit.entry_sequences([entry_id]):
        await audit.number_queued()


async def _proposal_entry(decision: DecisionRow) -> dict[str, int | None]:
    """How a confirmation or closing entry names the proposal's entry: by its sequence number,
    as it always did (see :func:`_proposal_numbered`); null if it is still queued even so."""
    proposed = audit.entry_ref(
        decision.proposed_seq, decision.proposed_entry_id, await audit.entry_sequences([decision.proposed_entry_id])
    )
    return {"proposed_seq": proposed.seq}


def _trail(row: DecisionRow, sequences: Mapping[int, int]) -> AuditTrail:
    """The proposal's entry and the one that confirmed or closed it (entries from before the
    queue by their stored sequence numbers)."""
    recorded = audit.entry_ref(row.proposed_seq, row.proposed_entry_id, sequences)
    latest_id = row.confirmed_entry_id if row.confirmed_entry_id is not None else row.closed_entry_id
    latest_seq = row.confirmed_seq if row.confirmed_seq is not None else row.closed_seq
    latest = audit.entry_ref(latest_seq, latest_id, sequences)
    return trail(recorded, latest)


def entry_ids(row: DecisionRow) -> list[int | None]:
    """The queued entries a decision's view cites (see :func:`decision_view`)."""
    return [row.proposed_entry_id, row.confirmed_entry_id, row.closed_entry_id]


async def decision_row(decision_id: uuid.UUID) -> DecisionRow:
    row = await Decision.select().where(Decision.id == decision_id).first()
    if row is None:
        raise not_found("decision", decision_id)
    return typed(row, DecisionRow)


async def get_decision(vetting: Vetting, decision_id: uuid.UUID) -> DecisionView:
    row = await decision_row(decision_id)
    ciphers = await vetting.keyring.readable([str(row.mentor)])
    return decision_view(row, ciphers[str(row.mentor)], await audit.entry_sequences(entry_ids(row)))


# Decisions in the order they were proposed (the log's order of their proposals).
PROPOSAL_ORDER: Final = audit.in_log("proposed_entry_id", "proposed_seq")


async def list_decisions(vetting: Vetting, state: str | None, limit: int, cursor: str | None) -> Page[DecisionView]:
    """Decisions, oldest first: ``state=proposed`` is the queue awaiting a second officer."""
    query = Decision.select().order_by(*PROPOSAL_ORDER).limit(limit + 1)
    if state is not None:
        query = query.where(Decision.state == state)
    if cursor is not None:
        position = decode_cursor(cursor)
        entry_id, seq = position.get("entry_id"), position.get("seq")
        if not all(value is None or type(value) is int for value in (entry_id, seq)) or entry_id is seq is None:
            raise Problem(400, "validation", "Invalid query parameter 'cursor'")
        condition, values = audit.after_in_log("proposed_entry_id", "proposed_seq", entry_id, seq)
        query = query.where(WhereRaw(condition, *values))
    rows = await query
    page = typed_all(rows[:limit], DecisionRow)
    ciphers = await vetting.keyring.readable(str(row.mentor) for row in page)
    sequences = await audit.entry_sequences(entry_id for row in page for entry_id in entry_ids(row))
    items = [decision_view(row, ciphers[str(row.mentor)], sequences) for row in page]
    last = page[-1] if page else None
    next_cursor = (
        encode_cursor({"entry_id": last.proposed_entry_id, "seq": last.proposed_seq})
        if last and len(rows) > limit
        else None
    )
    return Page(items=items, next_cursor=next_cursor)
