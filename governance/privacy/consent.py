"""Consent: an append-only history per mentee and purpose, the current view derived from it.

The latest record of (mentee, purpose), by the place in the log of the audit entry that
recorded it (:func:`governance.audit.service.log_order`), is the mentee's choice; a
choice past its validity lapses to the purpose's default at once for every reader, and
the expiry job records the lapse (method ``expired``) so that the platform can ask again.
Purposes whose mechanism is ``opt_in`` default to ``opt_out`` (not allowed), and
``opt_out`` purposes default to ``opt_in``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec
import structlog
from piccolo.columns.combination import WhereRaw

from governance.audit import service as audit
from governance.core import cache, db
from governance.core.cache import FreshCache, Loaded
from governance.core.durations import DurationError, parse_duration
from governance.core.errors import field_error, invalid_parameter, not_found
from governance.core.identity import SYSTEM, Identity
from governance.core.pagination import Page, decode_cursor, encode_cursor
from governance.core.rows import Row, typed, typed_all
from governance.privacy.policy import Purpose
from governance.privacy.schemas import (
    ConsentRecordView,
    ConsentState,
    ExpiryRun,
    Method,
    Permission,
    Preferences,
    PreferencesChange,
    PreferencesUpdate,
    PurposeState,
    Reconsent,
)
from governance.privacy.service import Privacy, jsonable
from governance.privacy.tables import ConsentReceipt, ConsentRecord, RetentionChoice

log = structlog.get_logger("governance.privacy")

RECEIPT_VERSION: Final = "ISO/IEC TS 27560:2023; Kantara Consent Receipt v1.1"
# Records in the order their entries take in the log (those numbered before the queue first).
RECORD_ORDER: Final = audit.in_log("recorded_entry_id", "recorded_seq")
LATEST_FIRST: Final = audit.log_order("recorded_entry_id", "recorded_seq", descending=True)
LATEST_QUERY: Final = (
    "SELECT id, state, method, notice_version, recorded_at, expires_at FROM privacy_consent_record "  # noqa: S608
    f"WHERE subject = {{}} AND purpose = {{}} ORDER BY {LATEST_FIRST} LIMIT 1"
)
BATCH: Final = 200


class Choice(Row):
    """The latest consent record of a mentee and purpose, as the current view reads it. Read
    on the fast path too, through the bare driver (SQLite gives ids and times as text)."""

    id: uuid.UUID
    state: ConsentState
    method: Method
    notice_version: int | None
    recorded_at: datetime
    expires_at: datetime | None


class ConsentRecordRow(Row):
    """A ``privacy_consent_record`` row (see :class:`~governance.privacy.tables.ConsentRecord`)."""

    id: uuid.UUID
    purpose: str
    state: ConsentState
    method: Method
    notice_version: int | None
    language: str | None
    jurisdiction: str
    source: str
    actor: str
    recorded_at: datetime
    expires_at: datetime | None
    receipt_id: uuid.UUID | None
    recorded_seq: int | None
    recorded_entry_id: int | None


def derive(purpose: Purpose, latest: Choice | None, now: datetime) -> PurposeState:
    """Where a purpose stands, from its latest record (or none) at ``now``."""
    if latest is None:
        state = purpose.default_state
        return PurposeState(
            purpose=purpose.name,
            allowed=state == "opt_in",
            state=state,
            method="default",
            record_id=None,
            notice_version=None,
            recorded_at=None,
            expires_at=None,
            needs_reconsent=False,
        )
    expires_at = latest.expires_at
    lapsed = expires_at is not None and expires_at <= now
    method: Method = "expired" if lapsed else latest.method
    state = purpose.default_state if lapsed else latest.state
    return PurposeState(
        purpose=purpose.name,
        allowed=state == "opt_in",
        state=state,
        method=method,
        record_id=latest.id,
        notice_version=latest.notice_version,
        recorded_at=latest.recorded_at,
        expires_at=None if lapsed else expires_at,
        needs_reconsent=method == "expired",
    )


async def _latest(subject: str, purpose: str) -> Choice | None:
    row = await db.fetch_row(LATEST_QUERY, subject, purpose)
    return typed(row, Choice) if row else None


async def _latest_in_transaction(subject: str, purpose: str) -> Choice | None:
    # Inside a write transaction: through Piccolo, so that the read sees this transaction.
    row = (
        await ConsentRecord.select(
            ConsentRecord.id,
            ConsentRecord.state,
            ConsentRecord.method,
            ConsentRecord.notice_version,
            ConsentRecord.recorded_at,
            ConsentRecord.expires_at,
        )
        .where((ConsentRecord.subject == subject) & (ConsentRecord.purpose == purpose))
        .order_by(*RECORD_ORDER, ascending=False)
        .first()
    )
    return typed(row, Choice) if row else None


def purpose_of(privacy: Privacy, name: str, field: str = "purpose", source: str = "query") -> Purpose:
    purpose = privacy.policy.purposes.get(name)
    if purpose is None:
        raise field_error(field, f"unknown purpose; one of {sorted(privacy.policy.purposes)}", source=source)
    return purpose


# The platform asks before every share: answers are cached per mentee and stay fresh
# while their version does not move: how many records they have (records are only ever
# appended, so every change adds to it).
TOPIC: Final = "consent"
_VERSION_QUERY: Final = "SELECT COUNT(*) AS v FROM privacy_consent_record WHERE subject = {}"


@dataclass(frozen=True, slots=True)
class Answer:
    """A permission answer and its JSON, decided once per subject and purpose until the next change."""

    permission: Permission
    body: bytes


Current = dict[str, Answer]
_encoder = msgspec.json.Encoder()


async def _version_of(subject: str) -> int | None:
    # The number of the subject's consent records: append-only, so it moves with every change.
    row = await db.fetch_row(_VERSION_QUERY, subject)
    return int(row["v"]) if row and row["v"] is not None else 0


def consent_cache() -> FreshCache[Current]:
    """Per subject, the answer for every purpose (see :func:`permission`)."""
    return FreshCache(TOPIC, _version_of, capacity=65_536)


async def _current(privacy: Privacy, subject: str, now: datetime) -> Loaded[Current]:
    # The version first: a change committed in between makes the next read load again.
    version = await _version_of(subject) or 0
    current: Current = {}
    expiries: list[datetime] = []
    for name, purpose in privacy.policy.purposes.items():
        latest = await _latest(subject, name)
        state = derive(purpose, latest, now)
        if state.expires_at is not None:
            expiries.append(state.expires_at)
        answer = Permission(
            mentee_id=subject,
            purpose=name,
            allowed=state.allowed,
            state=state.state,
            method=state.method,
            record_id=state.record_id,
            expires_at=state.expires_at,
        )
        current[name] = Answer(answer, _encoder.encode(answer))
    # Time alone changes an answer when a choice lapses: derive them anew then.
    return Loaded(current, version=version, stale_at=min(expiries, default=None))


async def take_turn(subject: str) -> None:
    """In a transaction about to record the mentee's consent or retention choices: wait for
    any other such transaction of theirs to end (PostgreSQL; SQLite's writers always take
    turns). Their audit entries are then queued in the order they commit, the order the
    sequencer numbers them in, so the latest record by entry id
    (:func:`governance.audit.service.log_order`) is the latest in the log too. Call it
    before the change's ``record_change``."""
    await db.take_turns(f"consent:{subject}")


async def announce(subject: str) -> None:
    """Tell every instance that the subject's consent changed (inside the changing transaction)."""
    await cache.announce(TOPIC, subject)


async def answer(privacy: Privacy, subject: str, purpose_name: str, now: datetime) -> Answer:
    """The fast check the platform calls before every share: allowed or not, and which record says so.

    The answers for every purpose of a subject are decided together and cached in the
    process, kept honest by :mod:`governance.core.cache` (change notices on PostgreSQL,
    ``data_version`` and a version lookup on SQLite; every change announces itself in its
    transaction) and decided anew when a choice lapses.
    """
    purpose_of(privacy, purpose_name)
    current: Current = await privacy.consent_cache.get_or_load(subject, now, lambda: _current(privacy, subject, now))
    return current[purpose_name]


async def permission(privacy: Privacy, subject: str, purpose_name: str, now: datetime) -> Permission:
    """See :func:`answer`."""
    return (await answer(privacy, subject, purpose_name, now)).permission


class _Shortened(Row):
    category: str
    period: str  # ISO 8601 duration


async def retention_choices(subject: str) -> dict[str, str]:
    rows = (
        await RetentionChoice.select(RetentionChoice.category, RetentionChoice.period)
        .where(RetentionChoice.subject == subject)
        .order_by(*RECORD_ORDER)
    )
    return {choice.category: choice.period for choice in typed_all(rows, _Shortened)}


async def preferences(privacy: Privacy, subject: str, now: datetime) -> Preferences:
    """The mentee's current preferences, derived from their consent history."""
    purposes = [
        derive(purpose, await _latest_in_transaction(subject, name), now)
        for name, purpose in privacy.policy.purposes.items()
    ]
    return Preferences(mentee_id=subject, purposes=purposes, retention=await retention_choices(subject))


@dataclass(frozen=True, slots=True)
class _Draft:
    purpose: Purpose
    state: ConsentState
    method: Method


def _validate_retention(privacy: Privacy, wanted: Mapping[str, str], now: datetime) -> dict[str, str]:
    chosen = {}
    for category_name, text in wanted.items():
        field = f"retention.{category_name}"
        category = privacy.retention.get(category_name)
        if category is None:
            raise field_error(field, f"unknown category; one of {sorted(privacy.retention)}")
        if not category.mentee_may_shorten:
            raise field_error(field, "this category's period cannot be chosen by a mentee")
        try:
            period = parse_duration(text)
        except DurationError as exc:
            raise field_error(field, str(exc)) from None
        if period.add_to(now) > category.period.add_to(now):
            raise field_error(field, f"longer than the policy's {category.period.isoformat()}; only shorter is allowed")
        chosen[category_name] = period.isoformat()
    return chosen


async def change(
    privacy: Privacy,
    subject: str,
    update: PreferencesUpdate,
    *,
    gpc: bool,
    actor: Identity,
    now: datetime,
) -> PreferencesChange:
    """Append the records of one change and issue its receipt, with one audit entry.

    Purposes named in ``update`` are explicit choices (recorded even when unchanged: a
    reaffirmation renews the validity). With ``gpc`` (the request carried ``Sec-GPC: 1``)
    every sharing purpose the request does not explicitly opt in to, and that is allowed
    now, is opted out with method ``gpc``.
    """
    terms = _Change(
        privacy=privacy,
        subject=subject,
        receipt_id=uuid.uuid4(),
        language=update.language or privacy.policy.default_language,
        jurisdiction=update.jurisdiction or privacy.policy.default_jurisdiction,
        source=update.source,
        actor=actor,
        now=now,
    )
    # Everything the request alone can get wrong is refused before the transaction opens.
    explicit = _explicit_choices(terms, update)
    chosen = _validate_retention(privacy, update.retention, now)
    async with db.transaction():
        await take_turn(subject)
        drafts = explicit + (await _gpc_opt_outs(terms, update) if gpc else [])
        if not drafts and not chosen:
            return PreferencesChange(preferences=await preferences(privacy, subject, now), receipt=None)
        records = [(uuid.uuid4(), draft) for draft in drafts]
        recorded = await _audit_change(terms, records, chosen, gpc)
        rows = await _append_records(terms, records, recorded.entry_id)
        await _keep_retention_choices(terms, chosen, recorded.entry_id)
        body = await _issue_receipt(terms, rows, chosen, recorded.entry_id)
        current = await preferences(privacy, subject, now)
    return PreferencesChange(preferences=current, receipt=body)


@dataclass(frozen=True, slots=True)
class _Change:
    """One change of a mentee's preferences as it is recorded: whose, by whom, when, and
    under which receipt, language and jurisdiction (every record and the receipt share them)."""

    privacy: Privacy
    subject: str
    receipt_id: uuid.UUID
    language: str
    jurisdiction: str
    source: str
    actor: Identity
    now: datetime


def _explicit_choices(terms: _Change, update: PreferencesUpdate) -> list[_Draft]:
    """The purposes the request names, each with a notice in the request's language (a
    receipt binds the notice the mentee read)."""
    explicit = [
        _Draft(purpose_of(terms.privacy, name, f"preferences.{name}", "body"), state, "explicit")
        for name, state in update.preferences.items()
    ]
    for draft in explicit:
        if terms.language not in draft.purpose.current_notice.text:
            raise field_error("language", f"the notice of {draft.purpose.name} has no {terms.language!r} text")
    return explicit


async def _gpc_opt_outs(terms: _Change, update: PreferencesUpdate) -> list[_Draft]:
    """The sharing purposes a Global Privacy Control signal opts out of: those allowed now
    that the request does not name (an explicit choice wins over the signal)."""
    drafts = []
    for purpose in terms.privacy.policy.purposes.values():
        if not purpose.sharing or purpose.name in update.preferences:
            continue
        if derive(purpose, await _latest_in_transaction(terms.subject, purpose.name), terms.now).allowed:
            drafts.append(_Draft(purpose, "opt_out", "gpc"))
    return drafts


async def _audit_change(
    terms: _Change, records: list[tuple[uuid.UUID, _Draft]], retention: Mapping[str, str], gpc: bool
) -> audit.Queued:
    return await audit.record_change(
        actor=terms.actor,
        action="privacy.consent.changed",
        resource_type="consent_receipt",
        resource_id=str(terms.receipt_id),
        details={
            "mentee_id": terms.subject,
            "gpc": gpc,
            "records": [
                {
                    "id": str(record_id),
                    "purpose": d.purpose.name,
                    "state": d.state,
                    "method": d.method,
                    "notice_version": d.purpose.current_notice.version,
                }
                for record_id, d in records
            ],
            "retention": retention,
        },
    )


async def _append_records(
    terms: _Change, records: list[tuple[uuid.UUID, _Draft]], entry_id: int
) -> list[ConsentRecord]:
    """Append one consent record per choice (valid for the purpose's period from now) and
    tell every instance's cache."""
    rows = [
        ConsentRecord(
            id=record_id,
            subject=terms.subject,
            purpose=d.purpose.name,
            state=d.state,
            method=d.method,
            notice_version=d.purpose.current_notice.version,
            language=terms.language,
            jurisdiction=terms.jurisdiction,
            source=terms.source,
            actor=terms.actor.sub,
            recorded_at=terms.now,
            expires_at=d.purpose.validity.add_to(terms.now),
            receipt_id=terms.receipt_id,
            recorded_entry_id=entry_id,
        )
        for record_id, d in records
    ]
    if rows:
        await ConsentRecord.insert(*rows)
        await announce(terms.subject)
    return rows


async def _keep_retention_choices(terms: _Change, chosen: Mapping[str, str], entry_id: int) -> None:
    if chosen:
        await RetentionChoice.insert(
            *(
                RetentionChoice(
                    id=uuid.uuid4(),
                    subject=terms.subject,
                    category=category,
                    period=period,
                    chosen_at=terms.now,
                    recorded_entry_id=entry_id,
                )
                for category, period in chosen.items()
            )
        )


async def _issue_receipt(
    terms: _Change, rows: list[ConsentRecord], retention: Mapping[str, str], entry_id: int
) -> dict[str, Any]:
    body = _receipt(terms, rows, retention, entry_id)
    await ConsentReceipt.insert(
        ConsentReceipt(
            id=terms.receipt_id,
            subject=terms.subject,
            issued_at=terms.now,
            body=msgspec.json.encode(body).decode(),
            recorded_entry_id=entry_id,
        )
    )
    return body


def _receipt(terms: _Change, rows: list[ConsentRecord], retention: Mapping[str, str], entry_id: int) -> dict[str, Any]:
    """A consent receipt with the fields of ISO/IEC TS 27560 and the Kantara receipt (no personal data).

    It cites the change's audit entry by ``audit_entry_id`` (known as it is issued);
    ``audit_seq``, the entry's sequence number, is null as issued and filled in when the
    receipt is read once the sequencer has numbered the entry (:func:`receipt`)."""
    policy = terms.privacy.policy
    language = terms.language
    body: dict[str, Any] = jsonable(
        {
            "version": RECEIPT_VERSION,
            "receipt_id": terms.receipt_id,
            "consent_timestamp": terms.now,
            "jurisdiction": terms.jurisdiction,
            "language": language,
            "collection_method": "api",
            "pii_principal_id": terms.subject,
            "pii_controllers": [{"name": policy.controller, "contact": policy.controller_contact}],
            "policy_url": policy.policy_url,
            "recorded_by": {"sub": terms.actor.sub, "roles": list(terms.actor.roles)},
            "purposes": [
                {
                    "record_id": row.id,
                    "purpose": row.purpose,
                    "title": policy.purposes[row.purpose].title,
                    "lawful_basis": policy.purposes[row.purpose].lawful_basis,
                    "consent_type": row.method,
                    "state": row.state,
                    "notice": {
                        "version": row.notice_version,
                        "language": language,
                        "sha256": policy.purposes[row.purpose].current_notice.digest(language)
                        if language in policy.purposes[row.purpose].current_notice.text
                        else None,
                    },
                    "third_party_disclosure": policy.purposes[row.purpose].sharing,
                    "source": row.source,
                    "expires_at": row.expires_at,
                }
                for row in rows
            ],
            "retention": dict(retention),
            "sensitive": False,
            "audit_seq": None,
            "audit_entry_id": entry_id,
        }
    )
    return body


async def receipt(receipt_id: uuid.UUID) -> dict[str, Any]:
    """A receipt as it was issued, with its entry's sequence number (``audit_seq``) once the
    sequencer has numbered the entry: null before."""
    bodies = (
        await ConsentReceipt.select(ConsentReceipt.body).where(ConsentReceipt.id == receipt_id).output(as_list=True)
    )
    if not bodies:
        raise not_found("consent receipt", receipt_id)
    body: dict[str, Any] = msgspec.json.decode(bodies[0])
    return await with_seq(body)


async def with_seq(body: dict[str, Any]) -> dict[str, Any]:
    """A receipt body (or any body citing ``audit_entry_id``) with ``audit_seq`` resolved when
    it was issued without one and its entry is numbered by now."""
    entry_id = body.get("audit_entry_id")
    if body.get("audit_seq") is None and isinstance(entry_id, int):
        body["audit_seq"] = (await audit.entry_sequences([entry_id])).get(entry_id)
    return body


async def receipt_owner(receipt_id: uuid.UUID) -> str | None:
    subjects = (
        await ConsentReceipt.select(ConsentReceipt.subject).where(ConsentReceipt.id == receipt_id).output(as_list=True)
    )
    return str(subjects[0]) if subjects else None


def record_view(row: ConsentRecordRow, sequences: Mapping[int, int]) -> ConsentRecordView:
    return ConsentRecordView(
        id=row.id,
        purpose=row.purpose,
        state=row.state,
        method=row.method,
        notice_version=row.notice_version,
        language=row.language,
        jurisdiction=row.jurisdiction,
        source=row.source,
        actor=row.actor,
        recorded_at=row.recorded_at,
        expires_at=row.expires_at,
        receipt_id=row.receipt_id,
        audit_seq=audit.entry_ref(row.recorded_seq, row.recorded_entry_id, sequences).seq,
        audit_entry_id=row.recorded_entry_id,
    )


@dataclass(frozen=True, slots=True)
class _Position:
    """Where a page of records ended: the last record's entry (id, or sequence number for a
    record from before the queue) and the record's id, which orders records of one change."""

    entry_id: int | None
    seq: int | None
    record_id: uuid.UUID

    def cursor(self) -> str:
        return encode_cursor({"entry_id": self.entry_id, "seq": self.seq, "id": str(self.record_id)})

    def after(self, alias: str = "") -> tuple[str, list[Any]]:
        """SQL (``{}`` placeholders) and parameters selecting the records after this one."""
        entry, seq = f"{alias}recorded_entry_id", f"{alias}recorded_seq"
        later, later_args = audit.after_in_log(entry, seq, self.entry_id, self.seq)
        same, same_args = audit.same_in_log(entry, seq, self.entry_id, self.seq)
        return f"({later} OR ({same} AND {alias}id > {{}}))", [*later_args, *same_args, self.record_id]


def _position(cursor: str | None) -> _Position | None:
    if cursor is None:
        return None
    position = decode_cursor(cursor)
    entry_id, seq, ident = position.get("entry_id"), position.get("seq"), position.get("id")
    numbers_valid = all(value is None or type(value) is int for value in (entry_id, seq))
    if not numbers_valid or entry_id is seq is None or not isinstance(ident, str):
        raise invalid_parameter("cursor", "not a cursor this service issued")
    try:
        return _Position(entry_id, seq, uuid.UUID(ident))
    except ValueError:
        raise invalid_parameter("cursor", "not a cursor this service issued") from None


async def history(subject: str, purpose: str | None, limit: int, cursor: str | None) -> Page[ConsentRecordView]:
    """Every consent record of the mentee, oldest first."""
    query = (
        ConsentRecord.select()
        .where(ConsentRecord.subject == subject)
        .order_by(*RECORD_ORDER)
        .order_by(ConsentRecord.id)
        .limit(limit + 1)
    )
    if purpose is not None:
        query = query.where(ConsentRecord.purpose == purpose)
    after = _position(cursor)
    if after is not None:
        condition, values = after.after()
        query = query.where(WhereRaw(condition, *values))
    rows = await query
    page = typed_all(rows[:limit], ConsentRecordRow)
    sequences = await audit.entry_sequences(row.recorded_entry_id for row in page)
    items = [record_view(row, sequences) for row in page]
    last = page[-1] if page else None
    next_cursor = (
        _Position(last.recorded_entry_id, last.recorded_seq, last.id).cursor() if last and len(rows) > limit else None
    )
    return Page(items=items, next_cursor=next_cursor)


# A record is current while no newer one (later in the log) of the same mentee and purpose exists.
_NEWER = (
    "NOT EXISTS (SELECT 1 FROM privacy_consent_record n WHERE n.subject = r.subject "
    "AND n.purpose = r.purpose AND (n.recorded_entry_id > r.recorded_entry_id "
    "OR r.recorded_entry_id IS NULL AND (n.recorded_entry_id IS NOT NULL OR n.recorded_seq > r.recorded_seq)))"
)


async def expire(privacy: Privacy, now: datetime) -> ExpiryRun:
    """Record the lapse (method ``expired``, back to the default) of every choice past its validity."""
    lapsed = 0
    # Only purposes still in the policy: a withdrawn one has no default to lapse to, and
    # leaving its records out of the query keeps them from filling every batch forever.
    purposes = sorted(privacy.policy.purposes)
    if not purposes:
        return ExpiryRun(lapsed=0)
    placeholders = ", ".join("{}" for _ in purposes)
    while True:
        due = await ConsentRecord.raw(
            # Only constants are formatted into the text; values are bound.
            "SELECT r.id, r.subject, r.purpose, r.expires_at FROM privacy_consent_record r "  # noqa: S608
            f"WHERE r.expires_at <= {{}} AND {_NEWER} AND r.purpose IN ({placeholders}) "
            "ORDER BY r.expires_at LIMIT {}",
            now,
            *purposes,
            BATCH,
        )
        if not due:
            break
        for row in typed_all(due, _Lapsing):
            lapsed += await _lapse(privacy.policy.purposes[row.purpose], row, now)
        if len(due) < BATCH:
            break
    if lapsed:
        log.info("consent_expiry", lapsed=lapsed)
    return ExpiryRun(lapsed=lapsed)


class _Lapsing(Row):
    """A choice past its validity that no newer one replaced."""

    id: uuid.UUID
    subject: str
    purpose: str


async def _lapse(purpose: Purpose, row: _Lapsing, now: datetime) -> int:
    async with db.transaction():
        await take_turn(row.subject)
        latest = await _latest_in_transaction(row.subject, purpose.name)
        if latest is None or latest.id != row.id:
            return 0  # a newer choice arrived meanwhile
        record_id = uuid.uuid4()
        recorded = await audit.record_change(
            actor=SYSTEM,
            action="privacy.consent.expired",
            resource_type="consent_record",
            resource_id=str(record_id),
            details={
                "mentee_id": row.subject,
                "purpose": purpose.name,
                "lapsed_record_id": str(row.id),
                "state": purpose.default_state,
            },
        )
        await ConsentRecord.insert(
            ConsentRecord(
                id=record_id,
                subject=row.subject,
                purpose=purpose.name,
                state=purpose.default_state,
                method="expired",
                notice_version=purpose.current_notice.version,
                language=None,
                jurisdiction="",
                source="expiry",
                actor=SYSTEM.sub,
                recorded_at=now,
                expires_at=None,
                receipt_id=None,
                recorded_entry_id=recorded.entry_id,
            )
        )
        await announce(row.subject)
    return 1


async def allowed_purposes(privacy: Privacy, subject: str, now: datetime) -> list[Purpose]:
    """The purposes the mentee allows now."""
    return [
        purpose
        for purpose in privacy.policy.purposes.values()
        if derive(purpose, await _latest_in_transaction(subject, purpose.name), now).allowed
    ]


async def withdraw(
    subject: str, purposes: list[Purpose], actor: Identity, now: datetime, entry_id: int, method: Method = "erasure"
) -> None:
    """Opt the mentee out of ``purposes`` (on erasure, in its transaction, under its audit
    entry, which was recorded after :func:`take_turn`)."""
    if not purposes:
        return
    await ConsentRecord.insert(
        *(
            ConsentRecord(
                id=uuid.uuid4(),
                subject=subject,
                purpose=purpose.name,
                state="opt_out",
                method=method,
                notice_version=purpose.current_notice.version,
                language=None,
                jurisdiction="",
                source=method,
                actor=actor.sub,
                recorded_at=now,
                expires_at=None,
                receipt_id=None,
                recorded_entry_id=entry_id,
            )
            for purpose in purposes
        )
    )
    await announce(subject)


class _Lapsed(Row):
    """A lapse (method ``expired``) the mentee has not answered with a new choice."""

    id: uuid.UUID
    subject: str
    purpose: str
    recorded_at: datetime
    recorded_seq: int | None
    recorded_entry_id: int | None


async def reconsent(limit: int, cursor: str | None) -> Page[Reconsent]:
    """Mentees whose choice lapsed and who have not chosen again: ask them again."""
    after = _position(cursor)
    condition = "r.method = 'expired' AND " + _NEWER
    args: list[Any] = []
    if after is not None:
        later, values = after.after("r.")
        condition += f" AND {later}"
        args += values
    order = audit.log_order("r.recorded_entry_id", "r.recorded_seq")
    rows = await ConsentRecord.raw(
        "SELECT r.id, r.subject, r.purpose, r.recorded_at, r.recorded_seq, r.recorded_entry_id "  # noqa: S608
        f"FROM privacy_consent_record r WHERE {condition} ORDER BY {order}, r.id LIMIT {{}}",
        *args,
        limit + 1,
    )
    lapsed = typed_all(rows, _Lapsed)
    items = [
        Reconsent(mentee_id=row.subject, purpose=row.purpose, lapsed_at=row.recorded_at, record_id=row.id)
        for row in lapsed[:limit]
    ]
    last = lapsed[limit - 1] if len(lapsed) > limit else None
    next_cursor = _Position(last.recorded_entry_id, last.recorded_seq, last.id).cursor() if last else None
    return Page(items=items, next_cursor=next_cursor)
