"""``allowed_next`` tells the truth, for complaints, refunds and disputes: walked from the
first state through every reachable one (and past each appeal window), every move it
lists is accepted from a caller who may make it, every other move is refused with 409."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from governance.complaints import attestations, disputes, refunds, service, states
from governance.complaints.config import Complaints
from governance.complaints.schemas import (
    AttestationCreate,
    ComplaintCreate,
    ComplaintTransition,
    DisputeCreate,
    DisputeTransition,
    RefundCreate,
    RefundTransition,
)
from governance.complaints.tables import SessionPayment
from governance.core.crypto import Keyring, LocalMasterKey
from governance.core.errors import Problem
from governance.core.identity import SYSTEM, Identity
from governance.settings import Settings

from ..walk import Workflow

LATER = "_later"  # not a move: time passes until every appeal window has closed
COMPLAINANT = Identity(sub="mentee-walk", roles=("mentee",))
AGENT = Identity(sub="agent-walk", roles=("support_agent",))
OFFICER = Identity(sub="officer-walk", roles=("compliance_officer",))
PLATFORM = Identity(sub="platform-walk", roles=("platform",))
CALLERS = {"complainant": COMPLAINANT, "support": AGENT, "compliance": OFFICER, "system": SYSTEM, "platform": PLATFORM}
KINDS = {"complainant": {"complainant"}, "support": {"staff", "support"}, "compliance": {"staff", "compliance"}}
KINDS |= {"system": {"system"}, "platform": {"platform"}}


@pytest.fixture
def complaints(settings: Settings) -> Complaints:
    return Complaints.configure(settings, Keyring(LocalMasterKey.load_or_create(settings.effective_master_key_file)))


async def _status(call: Any) -> int:
    try:
        await call
    except Problem as problem:
        return problem.status_code
    return 200


async def test_complaints_allowed_next_tells_the_truth(database: Settings, complaints: Complaints) -> None:
    start = datetime.now(UTC)

    async def fresh() -> dict[str, Any]:
        data = ComplaintCreate(category="other", description="d")
        filed = await service.file(complaints, actor=COMPLAINANT, data=data, now=start)
        return {"id": filed.id, "now": start}

    async def view(r: dict[str, Any]) -> Any:
        return await service.get(complaints, r["id"], reader=OFFICER, now=r["now"])

    async def read(r: dict[str, Any]) -> tuple[Any, list[str]]:
        current = await view(r)
        return (current.state, r["now"] > start), current.allowed_next

    async def attempt(r: dict[str, Any], target: str, caller: Identity, version: int) -> int:
        data = ComplaintTransition(to=target, outcome="upheld", reasons="r")  # type: ignore[arg-type]
        return await _status(
            service.transition(complaints, r["id"], actor=caller, data=data, expected_version=version, now=r["now"])
        )

    async def move(r: dict[str, Any], target: str) -> int:
        if target == LATER:
            r["now"] = start + complaints.policy.complaint_appeal_window + timedelta(days=1)
            return 200
        current = await view(r)
        who = states.COMPLAINT_MOVES[current.state][target]
        caller = next(CALLERS[name] for name, kinds in KINDS.items() if kinds & who)
        return await attempt(r, target, caller, current.version)

    async def refused(r: dict[str, Any], target: str) -> list[int]:
        # Read once for every caller: a refused attempt that moved the version would turn the
        # next caller's answer into 412, not the 409 expected.
        version = (await view(r)).version
        return [await attempt(r, target, caller, version) for caller in CALLERS.values()]

    seen = await Workflow(
        targets=states.COMPLAINT_STATES,
        fresh=fresh,
        read=read,
        move=move,
        refused=refused,
        detours=lambda key: [LATER] if key in {("resolved", False), ("closed", False)} else [],
    ).explore()
    assert {state for state, _ in seen} == set(states.COMPLAINT_STATES), "every state is reachable"
    assert seen[("resolved", True)] == ["closed"], "no appeal once its window has closed"


async def test_refunds_allowed_next_tells_the_truth(database: Settings, complaints: Complaints) -> None:
    now = datetime.now(UTC)
    complaints = dataclasses.replace(complaints, refund_four_eyes_threshold_minor=1_000)
    # Another agent asks for the refund: its requester may never approve it (four eyes).
    requester = Identity(sub="agent-walk-requester", roles=("support_agent",))

    async def fresh() -> uuid.UUID:
        session = f"s-walk-{uuid.uuid4()}"
        await SessionPayment.insert(
            SessionPayment(
                session_id=session, mentee_id="m", amount_minor=100, currency="EUR", reported_by="p", reported_at=now
            )
        )
        _, created = await refunds.create(
            complaints,
            actor=requester,
            data=RefundCreate(session_id=session, amount_minor=10, currency="EUR", reason="r"),
            now=now,
        )
        return created.id

    async def read(refund_id: uuid.UUID) -> tuple[Any, list[str]]:
        current = await refunds.get(complaints, refund_id, reader=OFFICER)
        return current.state, current.allowed_next

    async def attempt(refund_id: uuid.UUID, target: str, caller: Identity, version: int) -> int:
        data = RefundTransition(to=target, reason="r", payment_reference="ref", reasons="r")  # type: ignore[arg-type]
        return await _status(
            refunds.transition(complaints, refund_id, actor=caller, data=data, expected_version=version, now=now)
        )

    async def move(refund_id: uuid.UUID, target: str) -> int:
        current = await refunds.get(complaints, refund_id, reader=OFFICER)
        who = states.REFUND_MOVES[current.state][target]
        caller = next(CALLERS[name] for name, kinds in KINDS.items() if kinds & who)
        return await attempt(refund_id, target, caller, current.version)

    async def refused(refund_id: uuid.UUID, target: str) -> list[int]:
        version = (await refunds.get(complaints, refund_id, reader=OFFICER)).version  # once, as for complaints
        return [await attempt(refund_id, target, caller, version) for caller in CALLERS.values()]

    seen = await Workflow(
        targets=[s for s in states.REFUND_STATES if s != "requested"],
        fresh=fresh,
        read=read,
        move=move,
        refused=refused,
    ).explore()
    assert set(seen) == set(states.REFUND_STATES)


# Who decides at each tier: enough different deciders for its quorum and for four-eyes
# revocation, and the L3 panel never those of L2.
DECIDERS = {
    "L1": [AGENT, Identity(sub="agent-walk-2", roles=("support_agent",))],
    "L2": [OFFICER, Identity(sub="officer-walk-2", roles=("compliance_officer",))],
    "L3": [Identity(sub=f"officer-walk-{n}", roles=("compliance_officer",)) for n in (3, 4)],
}


async def test_disputes_allowed_next_tells_the_truth(database: Settings, complaints: Complaints) -> None:
    start = datetime.now(UTC)
    candidate = Identity(sub=f"cand-{uuid.uuid4()}", roles=("mentee",))

    async def fresh() -> dict[str, Any]:
        mentor = str(uuid.uuid4())
        attested = await attestations.record(
            actor=PLATFORM,
            data=AttestationCreate(
                mentor_id=mentor,
                candidate_id=candidate.sub,
                competency="system-design",
                score=3,
                rubric_version="2026.1",
                session_date=date(2026, 11, 1),
                token_sha256=hashlib.sha256(mentor.encode()).hexdigest(),
            ),
            now=start,
        )
        opened = await disputes.open_dispute(
            complaints, attested.id, actor=candidate, data=DisputeCreate(reason="wrong"), now=start
        )
        return {"id": opened.id, "now": start}

    async def view(r: dict[str, Any]) -> Any:
        return await disputes.get(complaints, r["id"], reader=OFFICER, now=r["now"])

    async def read(r: dict[str, Any]) -> tuple[Any, list[str]]:
        current = await view(r)
        return (current.state, current.tier, r["now"] > start), current.allowed_next

    async def attempt(r: dict[str, Any], target: str, caller: Identity, current: Any = None) -> tuple[int, Any]:
        if current is None:
            current = await view(r)
        data = DisputeTransition(to=target, outcome="upheld", reasons="r")  # type: ignore[arg-type]
        try:
            after = await disputes.transition(
                complaints, r["id"], actor=caller, data=data, expected_version=current.version, now=r["now"]
            )
        except Problem as problem:
            return problem.status_code, current
        return 200, after

    async def move(r: dict[str, Any], target: str) -> int:
        if target == LATER:
            r["now"] = start + timedelta(days=60)
            return 200
        current = await view(r)
        if target in ("decided", "revoked"):
            first, latest = None, current
            for decider in DECIDERS[current.tier]:  # votes until the tier's quorum agrees
                # Each vote answers the dispute as it now is: the next vote sends its version.
                status, latest = await attempt(r, target, decider, latest)
                first = first or status
                if status != 200 or latest.state != current.state:
                    break
            assert first is not None
            return first
        caller = candidate  # the opener and a party: appeals, escalations and withdrawals
        status, _ = await attempt(r, target, caller, current)
        return status

    async def refused(r: dict[str, Any], target: str) -> list[int]:
        callers = [candidate, *DECIDERS["L1"], *DECIDERS["L2"], *DECIDERS["L3"], PLATFORM]
        current = await view(r)  # read once for every caller, as for complaints
        return [(await attempt(r, target, caller, current))[0] for caller in callers]

    seen = await Workflow(
        targets=[s for s in states.DISPUTE_STATES if s != "l1_review"],
        fresh=fresh,
        read=read,
        move=move,
        refused=refused,
        detours=lambda key: [LATER] if key[0] == "decided" and not key[2] else [],
    ).explore()
    assert {state for state, _, _ in seen} == set(states.DISPUTE_STATES)
    # The two lies of issue 12: after L1 only L2 is next; after L3 nothing is.
    assert seen[("decided", "L1", False)] == ["l2_review"]
    assert seen[("decided", "L3", False)] == []
    assert seen[("decided", "L1", True)] == [], "no appeal once its window has closed"
