"""Disputes about attestations: L1 support review -> L2 compliance officer -> L3 panel.

Each tier has a time limit from ``sla.toml``. A decision at L1 or L2 can be appealed to
the next tier within that tier's appeal window. At L3 two compliance officers who did
not decide L2 must agree. ``revoked`` is final and always takes two deciders (four
eyes). While a dispute is open, the attestation shows ``disputed``; every status change
of the attestation is kept in its history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import msgspec

from governance.audit import service as audit
from governance.complaints import attestations, sla, states
from governance.complaints.config import Complaints
from governance.complaints.policy import SlaPolicy
from governance.complaints.rows import AttestationRow, DisputeEventRow, DisputeRow, RecordId
from governance.complaints.schemas import (
    AttestationStatus,
    DisputeCreate,
    DisputeDecisionView,
    DisputeEventView,
    DisputeState,
    DisputeSummary,
    DisputeTransition,
    DisputeView,
    DisputeVoteView,
)
from governance.complaints.tables import Dispute, DisputeEvent
from governance.core import db
from governance.core.crypto import Keyring, case_scope, reveal, sealed_sha256
from governance.core.errors import Problem, field_error, illegal_transition, invalid_parameter, not_found, not_permitted
from governance.core.identity import SYSTEM, Identity
from governance.core.pagination import Page, decode_cursor, encode_cursor, equal_to, newest_first
from governance.core.rows import Row, dumps, loads, typed, typed_all
from governance.core.versioning import check_version, lock_for_update, update_versioned
from governance.core.visibility import may_see

RESOURCE: Final = "dispute"


def opened_as(actor: Identity, mentor_id: str, candidate_id: str) -> str | None:
    """In which capacity the actor opens a dispute (None: they may not)."""
    if actor.sub == candidate_id:
        return "candidate"
    if actor.sub == mentor_id:
        return "mentor"
    if "platform" in actor.roles:
        return "platform"
    if "support_agent" in actor.roles or "compliance_officer" in actor.roles:
        return "support"
    return None


def actor_kinds(actor: Identity, row: DisputeRow) -> set[str]:
    kinds = states.staff_kinds(actor)
    if actor.sub in (row.candidate_id, row.mentor_id) or "platform" in actor.roles:
        kinds.add("party")
    if actor.sub == row.opened_by:
        kinds.add("opener")
    return kinds


async def open_dispute(
    complaints: Complaints,
    attestation_id: uuid.UUID,
    *,
    actor: Identity,
    data: DisputeCreate,
    now: datetime,
) -> DisputeView:
    """Open a dispute at L1; the attestation becomes ``disputed``. 409 when it is revoked or
    already under dispute."""
    keyring = complaints.keyring
    async with db.transaction():
        attestation = await attestations.locked(attestation_id)
        capacity = opened_as(actor, attestation.mentor_id, attestation.candidate_id)
        if capacity is None:
            raise Problem(403, "not-a-party", "Only the candidate, the mentor, the platform or support open disputes")
        if attestation.status == "revoked":
            raise Problem(409, "attestation-revoked", "A revoked attestation is final and cannot be disputed")
        current = (
            await Dispute.select(Dispute.id)
            .where((Dispute.attestation_id == attestation_id) & Dispute.state.is_in(sorted(states.OPEN_DISPUTE_STATES)))
            .first()
        )
        if current is not None:
            raise Problem(
                409,
                "dispute-open",
                "This attestation is already under dispute",
                dispute_id=str(typed(current, RecordId).id),
            )
        dispute_id = uuid.uuid4()
        await Dispute.insert(
            Dispute(
                id=dispute_id,
                attestation_id=attestation_id,
                state="l1_review",
                tier="L1",
                version=1,
                opened_by=actor.sub,
                opened_as=capacity,
                candidate_id=attestation.candidate_id,
                mentor_id=attestation.mentor_id,
                # The reason speaks about the candidate's attestation: their data, their key.
                reason=await keyring.encrypt(
                    attestation.candidate_id, data.reason, scope=case_scope(RESOURCE, dispute_id)
                ),
                evidence=await keyring.encrypt(
                    attestation.candidate_id, dumps(data.evidence), scope=case_scope(RESOURCE, dispute_id)
                ),
                votes="[]",
                tier_deciders="{}",
                tier_started_at=now,
                decide_due_at=sla.tier_due(complaints.policy, "L1", now),
                opened_at=now,
            )
        )
        await _event(dispute_id, None, "l1_review", "L1", actor, now)
        await audit.record_change(
            actor=actor,
            action="dispute.opened",
            resource_type=RESOURCE,
            resource_id=str(dispute_id),
            details={"attestation_id": str(attestation_id), "opened_as": capacity, "evidence": len(data.evidence)},
        )
        await attestations.change_status(
            attestation, "disputed", actor=actor, now=now, dispute_id=dispute_id, reason="dispute opened"
        )
    return await get(complaints, dispute_id, reader=actor, now=now)


class _Parties(Row):
    candidate_id: str
    mentor_id: str
    opened_by: str


async def owner(dispute_id: uuid.UUID, caller: str) -> str | None:
    """``caller`` when they are the dispute's candidate, mentor or opener; else its candidate."""
    found = (
        await Dispute.select(Dispute.candidate_id, Dispute.mentor_id, Dispute.opened_by)
        .where(Dispute.id == dispute_id)
        .first()
    )
    if found is None:
        return None
    row = typed(found, _Parties)
    if caller in (row.candidate_id, row.mentor_id, row.opened_by):
        return caller
    return row.candidate_id


async def get(complaints: Complaints, dispute_id: uuid.UUID, *, reader: Identity, now: datetime) -> DisputeView:
    """One dispute as ``reader`` may see it: the votes of a tier are the deciders' own
    deliberation, shown to staff only (:mod:`governance.core.visibility`). ``allowed_next``
    is judged at ``now`` by the rules :func:`transition` applies."""
    keyring = complaints.keyring
    found = await Dispute.select().where(Dispute.id == dispute_id).first()
    if found is None:
        raise not_found("dispute", dispute_id)
    row = typed(found, DisputeRow)
    events = typed_all(
        await DisputeEvent.select().where(DisputeEvent.dispute_id == dispute_id).order_by(DisputeEvent.at),
        DisputeEventRow,
    )
    return DisputeView(
        id=row.id,
        attestation_id=row.attestation_id,
        state=row.state,
        tier=row.tier,
        version=row.version,
        opened_by=row.opened_by,
        opened_as=row.opened_as,
        candidate_id=row.candidate_id,
        mentor_id=row.mentor_id,
        reason=await reveal(keyring, row.candidate_id, row.reason),
        evidence=await _evidence(keyring, row.candidate_id, row.evidence),
        outcome=row.outcome,
        new_score=row.new_score,
        decide_due=row.decide_due_at,
        appeal_until=row.appeal_until,
        votes=[
            DisputeVoteView(
                decider=vote["decider"],
                outcome=vote["outcome"],
                new_score=vote["new_score"],
                at=msgspec.convert(vote["at"], datetime),
                reasons=await reveal(keyring, row.candidate_id, vote.get("reasons")),
            )
            for vote in loads(row.votes, [])
            if may_see(reader, internal=True, author=vote["decider"])
        ],
        # A tier's decision, once taken, is addressed to the parties: its reasons with it.
        decisions=[
            DisputeDecisionView(
                tier=decision["tier"],
                outcome=decision["outcome"],
                new_score=decision["new_score"],
                deciders=decision["deciders"],
                reasons=[await reveal(keyring, row.candidate_id, sealed) for sealed in decision["reasons"]],
                decided_at=msgspec.convert(decision["at"], datetime),
            )
            for decision in loads(row.decisions, [])
        ],
        tier_deciders=loads(row.tier_deciders, {}),
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        allowed_next=_allowed(complaints.policy, row.state, row.tier, row.appeal_until, now),
        history=[
            DisputeEventView(from_state=e.from_state, to_state=e.to_state, tier=e.tier, actor=e.actor, at=e.at)
            for e in events
        ],
    )


async def _evidence(keyring: Keyring, candidate: str, stored: str) -> list[str]:
    """The opener's evidence references: ciphertext under the candidate's key (empty once
    they were erased), or a JSON list written in clear before references were sealed."""
    if stored.startswith("["):
        return list(loads(stored, []))
    return list(loads(await reveal(keyring, candidate, stored), []))


# A dispute list reads these columns straight into its items (named as the item names them).
SUMMARY_COLUMNS: Final = (
    Dispute.id,
    Dispute.attestation_id,
    Dispute.state,
    Dispute.tier,
    Dispute.candidate_id,
    Dispute.mentor_id,
    Dispute.decide_due_at.as_alias("decide_due"),
    Dispute.opened_at,
)
_SUMMARIES: Final = list[DisputeSummary]


async def search(*, state: str | None, party: str | None, limit: int, cursor: str | None) -> Page[DisputeSummary]:
    """Disputes, newest first; ``party`` keeps those where that subject is candidate, mentor or opener."""
    where = equal_to((Dispute.state, state))
    if party is not None:
        where.append((Dispute.candidate_id == party) | (Dispute.mentor_id == party) | (Dispute.opened_by == party))
    rows, next_cursor = await newest_first(
        Dispute.select(*SUMMARY_COLUMNS), Dispute.opened_at, Dispute.id, where, limit, cursor
    )
    return Page(items=msgspec.convert(rows, _SUMMARIES), next_cursor=next_cursor)


async def queue(*, limit: int, cursor: str | None) -> Page[DisputeSummary]:
    """Open disputes by decision deadline, soonest (so overdue) first, ties by id, a page at
    a time: the support queue's disputes. An open tier always has a deadline (``tier_due``)."""
    due, ident = Dispute.decide_due_at, Dispute.id
    select = Dispute.select(*SUMMARY_COLUMNS).where(
        Dispute.state.is_in(sorted(states.OPEN_DISPUTE_STATES)) & due.is_not_null()
    )
    if cursor is not None:
        position = decode_cursor(cursor)
        try:
            if position.get("sort") != "due":
                raise ValueError(position)
            after, after_id = datetime.fromisoformat(position["due"]), uuid.UUID(position["id"])
        except (KeyError, TypeError, ValueError):
            raise invalid_parameter("cursor", "not a cursor of this queue") from None
        select = select.where((due > after) | ((due == after) & (ident > after_id)))
    rows = msgspec.convert(await select.order_by(due).order_by(ident).limit(limit + 1), _SUMMARIES)
    page = rows[:limit]
    if len(rows) <= limit:
        return Page(items=page, next_cursor=None)
    return Page(items=page, next_cursor=queue_position(page[-1]))


def queue_position(item: DisputeSummary) -> str:
    """The :func:`queue` cursor that resumes right after ``item`` (an open dispute)."""
    assert item.decide_due is not None  # the queue holds dated disputes only
    return encode_cursor({"sort": "due", "due": item.decide_due.isoformat(), "id": str(item.id)})


async def transition(
    complaints: Complaints,
    dispute_id: uuid.UUID,
    *,
    actor: Identity,
    data: DisputeTransition,
    expected_version: int,
    now: datetime,
) -> DisputeView:
    """Escalate or appeal to the next tier, decide (a vote until enough deciders agree),
    revoke (final, four eyes), or withdraw."""
    policy = complaints.policy
    async with db.transaction():
        found = await lock_for_update(Dispute.select().where(Dispute.id == dispute_id)).first()
        if found is None:
            raise not_found("dispute", dispute_id)
        row = typed(found, DisputeRow)
        check_version(row.version, expected_version)
        state, target = row.state, data.to
        allowed = _allowed(policy, state, row.tier, row.appeal_until, now)
        if target not in allowed:
            if state == "decided" and target in _allowed(policy, state, row.tier, row.appeal_until, None):
                raise Problem(
                    409,
                    "appeal-window-closed",
                    "The time to appeal this decision has passed",
                    appeal_until=row.appeal_until.isoformat() if row.appeal_until else None,
                    allowed_next=allowed,
                )
            raise illegal_transition("dispute", state, target, allowed)
        kinds = actor_kinds(actor, row)
        if not states.permitted(states.DISPUTE_MOVES, state, target, kinds):
            who = ", ".join(sorted(states.DISPUTE_MOVES[state][target]))
            raise not_permitted("dispute", state, target, f"this move is for: {who}")
        attestation = await attestations.locked(row.attestation_id)
        if target in ("l2_review", "l3_review"):
            await _next_tier(row, target, actor, now, policy, attestation)
        elif target == "withdrawn":
            await _close(row, "withdrawn", None, None, actor, now, policy, attestation)
        else:
            await _vote(row, target, data, actor, now, policy, attestation, complaints.keyring)
    return await get(complaints, dispute_id, reader=actor, now=now)


def _allowed(
    policy: SlaPolicy, state: str, tier: str, appeal_until: datetime | None, now: datetime | None
) -> list[str]:
    """The next states of a dispute in ``state`` at ``tier``: the table, narrowed by its tier
    and, at ``now``, by its appeal window (``None``: regardless of the window). The view's
    ``allowed_next`` and :func:`transition` both ask here, so the one never offers what the
    other refuses."""
    nxt = policy.next_tier(tier)
    appeal_to = states.REVIEW_STATE_OF_TIER.get(nxt) if nxt else None
    appeal_open = now is None or (appeal_until is not None and now <= appeal_until)
    allowed = []
    for target in states.allowed_next(states.DISPUTE_MOVES, state):
        if target in states.TIER_OF_REVIEW_STATE and target != appeal_to:
            continue  # only ever to the next tier
        if state == "decided" and not appeal_open:
            continue
        outcomes = set(policy.tiers[tier].outcomes)
        if target == "revoked" and "revoked" not in outcomes:
            continue
        if target == "decided" and not {"upheld", "amended"} & outcomes:
            continue
        allowed.append(target)
    return allowed


async def _next_tier(
    row: DisputeRow, target: str, actor: Identity, now: datetime, policy: SlaPolicy, attestation: AttestationRow
) -> None:
    tier = states.TIER_OF_REVIEW_STATE[target]
    changes = {
        "state": target,
        "tier": tier,
        "votes": "[]",
        "tier_started_at": now,
        "decide_due_at": sla.tier_due(policy, tier, now),
        "breached": False,
        "appeal_until": None,
        "closed_at": None,
    }
    await _apply(row, changes, actor, now, "dispute.escalated" if row.state != "decided" else "dispute.appealed")
    if attestation.status != "disputed":
        await attestations.change_status(
            attestation, "disputed", actor=actor, now=now, dispute_id=row.id, reason=f"appealed to {tier}"
        )


async def _vote(
    row: DisputeRow,
    target: str,
    data: DisputeTransition,
    actor: Identity,
    now: datetime,
    policy: SlaPolicy,
    attestation: AttestationRow,
    keyring: Keyring,
) -> None:
    tier = policy.tiers[row.tier]
    if not data.reasons or not data.reasons.strip():
        raise field_error("reasons", "a decision states its reasons")
    if target == "revoked":
        outcome = "revoked"
    elif data.outcome is None:
        raise field_error("outcome", "a decision is upheld or amended")
    else:
        outcome = data.outcome
    if outcome not in tier.outcomes:
        raise field_error("outcome", f"tier {tier.tier} decides one of: {', '.join(tier.outcomes)}")
    if outcome == "amended" and data.new_score is None:
        raise field_error("new_score", "an amended attestation needs its new score")
    deciders: dict[str, list[str]] = loads(row.tier_deciders, {})
    if tier.tier == "L3" and actor.sub in deciders.get("L2", []):
        raise Problem(403, "panel-ineligible", "You decided this dispute at L2; the L3 panel must be two others")
    new_score = data.new_score if outcome == "amended" else None
    # The reasons may speak about the candidate: their key, like the dispute's own reason.
    reasons = await keyring.encrypt(row.candidate_id, data.reasons, scope=case_scope(RESOURCE, row.id))
    votes = [v for v in loads(row.votes, []) if v["decider"] != actor.sub]
    vote = {"decider": actor.sub, "outcome": outcome, "new_score": new_score, "at": now.isoformat()}
    votes.append({**vote, "reasons": reasons})
    agreed = [v for v in votes if v["outcome"] == outcome and v["new_score"] == new_score]
    agreeing = [v["decider"] for v in agreed]
    needed = max(tier.deciders, 2 if outcome == "revoked" else 1)  # revocation: always four eyes
    if len(agreeing) < needed:
        await _apply(
            row, {"votes": dumps(votes)}, actor, now, "dispute.vote_recorded", outcome=outcome, reasons=reasons
        )
        return
    deciders[tier.tier] = agreeing
    decision = {
        "tier": tier.tier,
        "outcome": outcome,
        "new_score": new_score,
        "deciders": agreeing,
        "reasons": [v.get("reasons") for v in agreed],
        "at": now.isoformat(),
    }
    await _close(
        row,
        "revoked" if outcome == "revoked" else "decided",
        outcome,
        new_score,
        actor,
        now,
        policy,
        attestation,
        votes=dumps(votes),
        deciders=deciders,
        decisions=dumps([*loads(row.decisions, []), decision]),
        reasons=reasons,
    )


async def _close(
    row: DisputeRow,
    final: str,
    outcome: str | None,
    new_score: int | None,
    actor: Identity,
    now: datetime,
    policy: SlaPolicy,
    attestation: AttestationRow,
    *,
    votes: str | None = None,
    deciders: dict[str, list[str]] | None = None,
    decisions: str | None = None,
    reasons: str | None = None,
) -> None:
    tier = policy.tiers[row.tier]
    appeal_until = None
    if final == "decided" and tier.appeal_within is not None and policy.next_tier(tier.tier):
        appeal_until = now + tier.appeal_within
    changes: dict[str, Any] = {
        "state": final,
        "outcome": outcome,
        "new_score": new_score,
        "votes": row.votes if votes is None else votes,
        "decide_due_at": None,
        "appeal_until": appeal_until,
        "closed_at": now,
    }
    if deciders is not None:
        changes["tier_deciders"] = dumps(deciders)
    if decisions is not None:
        changes["decisions"] = decisions
    action = {"withdrawn": "dispute.withdrawn", "revoked": "dispute.revoked"}.get(final, "dispute.decided")
    await _apply(row, changes, actor, now, action, outcome=outcome, reasons=reasons)
    status: AttestationStatus
    if outcome == "revoked":
        status, score = "revoked", None
    elif outcome == "amended":
        status, score = "amended", new_score
    else:  # upheld or withdrawn: the attestation stands as it was before the dispute
        status, score = attestation.status_before_dispute or "valid", None
    await attestations.change_status(
        attestation, status, actor=actor, now=now, dispute_id=row.id, reason=f"dispute {final}", new_score=score
    )


async def _apply(
    row: DisputeRow,
    changes: dict[str, Any],
    actor: Identity,
    now: datetime,
    action: str,
    outcome: str | None = None,
    reasons: str | None = None,
) -> None:
    await update_versioned(Dispute, row.id, row.version, changes)
    bound = {} if reasons is None else {"reasons_sha256": sealed_sha256(reasons)}
    to_state = changes.get("state", row.state)
    if to_state != row.state:
        await _event(row.id, row.state, to_state, changes.get("tier", row.tier), actor, now)
    await audit.record_change(
        actor=actor,
        action=action,
        resource_type=RESOURCE,
        resource_id=str(row.id),
        details={
            "from": row.state,
            "to": to_state,
            "tier": changes.get("tier", row.tier),
            "outcome": outcome,
            "version": row.version + 1,
            **bound,
        },
    )


async def _event(
    dispute_id: uuid.UUID, from_state: str | None, to_state: str, tier: str, actor: Identity, at: datetime
) -> None:
    await DisputeEvent.insert(
        DisputeEvent(
            id=uuid.uuid4(),
            dispute_id=dispute_id,
            from_state=from_state,
            to_state=to_state,
            tier=tier,
            actor=actor.sub,
            at=at,
        )
    )


class _Overdue(Row):
    id: uuid.UUID
    version: int
    tier: str
    state: DisputeState


async def scan_breaches(now: datetime) -> int:
    """Flag open disputes whose tier decision is overdue (actor ``system``, audited)."""
    rows = await Dispute.select(Dispute.id, Dispute.version, Dispute.tier, Dispute.state).where(
        (Dispute.decide_due_at <= now)
        & Dispute.breached.eq(False)
        & Dispute.state.is_in(sorted(states.OPEN_DISPUTE_STATES))
    )
    flagged = 0
    for item in typed_all(rows, _Overdue):
        async with db.transaction():
            changed = (
                await Dispute.update({Dispute.breached: True})
                .where((Dispute.id == item.id) & (Dispute.version == item.version))
                .returning(Dispute.id)
            )
            if changed:
                await audit.record_change(
                    actor=SYSTEM,
                    action="dispute.sla_breached",
                    resource_type=RESOURCE,
                    resource_id=str(item.id),
                    details={"tier": item.tier, "state": item.state},
                )
                flagged += 1
    return flagged
