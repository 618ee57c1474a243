"""The append-only audit log: record, checkpoint, verify, search, export (CLI and API alike).

Two ways in, named for what is recorded: ``record_change`` runs inside the change's
transaction (the entry commits with the change it describes or not at all, and it refuses
to run without one); ``record_event`` records what stands alone (denials, audited reads,
downloads), group-committed outside any transaction.
Both queue the entry (:mod:`governance.audit.sequencer`): it is committed at once, with an
id, and numbered by the sequencer shortly after, so no writer waits on another's sequence
lock. :func:`sequenced` waits for an entry's number. A fact that cites its entry stores the
entry's id (``Queued.entry_id``, the ``queue_id`` the log keeps) and resolves the sequence
number when it is read (:func:`entry_sequences`, :class:`EntryRef`): ``None`` until the
sequencer has integrated the entry. Rows written before the queue keep the sequence number
they were given at once (``*_seq``); :func:`log_order` sorts both kinds in log order.

Then, in this order: signed checkpoints of the tree (:func:`sign_checkpoint`, which first
integrates the stored tree nodes of :mod:`governance.audit.tree_store`, and numbers and
links each checkpoint to the one before), verification (which itself lives in
:mod:`governance.audit.verification`; :func:`verify_since` adds a checkpoint kept outside
the database), search of the entries, and the export an auditor verifies offline
(:func:`prepare_export`). Proofs and tiles are in :mod:`governance.audit.proofs`.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import hmac
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from piccolo.columns.combination import WhereRaw
from piccolo.custom_types import Combinable
from piccolo.query import OrderByRaw

from governance.audit import merkle, note, sequencer, tree, tree_store, verification
from governance.audit.cosignature import CosignerKey
from governance.audit.keys import KeyHistory, load_history
from governance.audit.leaf import canonical_json, normalise_time, stored_leaf_input
from governance.audit.schemas import (
    AuditEntryView,
    AuditQuery,
    EntryActor,
    EntryResource,
    ExportCheckpoint,
    ExportEntry,
    ExportPrefix,
    Verification,
)
from governance.audit.tables import AuditCheckpoint, AuditEntry, AuditEntryRow, CheckpointRow
from governance.core import db
from governance.core.context import request_id_var
from governance.core.crypto import read_or_create_secret
from governance.core.errors import invalid_parameter
from governance.core.identity import Identity
from governance.core.pagination import Page, decode_cursor, encode_cursor
from governance.core.rows import typed, typed_all
from governance.settings import Settings

T = TypeVar("T")
log = structlog.get_logger("governance.audit")

OUTCOMES: Final = ("success", "denied", "failure")


@dataclass(frozen=True, slots=True)
class Queued:
    """An entry committed to the queue: its id now, its sequence number once the sequencer
    has integrated it (:func:`sequenced`)."""

    entry_id: int


async def number_queued() -> int:
    """Number every entry committed to the queue so far (outside a transaction: inside one it
    does nothing); how many. For a reader about to cite entries by number."""
    return await sequencer.catch_up()


async def sequenced(entry: Queued, within: float = 10.0) -> int:
    """The sequence number ``entry`` was given, waiting for the sequencer (outside any
    transaction: the entry must have committed)."""
    return await sequencer.sequenced(entry.entry_id, within)


@dataclass(frozen=True, slots=True)
class EntryRef:
    """The audit entry a fact cites: its sequence number once the sequencer has integrated
    it (None before), and the id it was queued under (None for an entry numbered at once,
    before the queue existed). Pages link the number, or say the entry is being recorded."""

    seq: int | None
    entry_id: int | None

    @property
    def pending(self) -> bool:
        """Queued and committed, not numbered yet."""
        return self.seq is None and self.entry_id is not None


async def entry_sequences(entry_ids: Iterable[int | None]) -> dict[int, int]:
    """The sequence numbers of the queued entries (by id) that the sequencer has integrated;
    an entry still queued, or a None id, is absent."""
    return await sequencer.sequences_of([entry_id for entry_id in entry_ids if entry_id is not None])


def entry_ref(seq: int | None, entry_id: int | None, sequences: Mapping[int, int]) -> EntryRef:
    """A fact's entry from its stored columns: the sequence number stored at once (rows from
    before the queue) or the one its entry id was given (``sequences``, from
    :func:`entry_sequences`)."""
    if seq is None and entry_id is not None:
        seq = sequences.get(entry_id)
    return EntryRef(seq=seq, entry_id=entry_id)


def _log_terms(entry_column: str, seq_column: str) -> tuple[str, str, str]:
    return (f"({entry_column} IS NOT NULL)", entry_column, seq_column)


def log_order(entry_column: str, seq_column: str, *, descending: bool = False) -> str:
    """SQL ordering facts by their entry's place in the log: rows numbered at once (before
    the queue, ``entry_column`` null) first by ``seq_column``, then queued ones by entry id,
    the order in which the sequencer numbers them. Column names are the caller's constants."""
    direction = " DESC" if descending else ""
    return ", ".join(term + direction for term in _log_terms(entry_column, seq_column))


def in_log(entry_column: str, seq_column: str) -> list[OrderByRaw]:
    """:func:`log_order` for a Piccolo query: ``.order_by(*in_log(...), ascending=...)``."""
    return [OrderByRaw(term) for term in _log_terms(entry_column, seq_column)]


def after_in_log(entry_column: str, seq_column: str, entry_id: int | None, seq: int | None) -> tuple[str, list[int]]:
    """SQL condition (``{}`` placeholders) and its parameters selecting the facts after the
    position (``entry_id``, ``seq``) of one of them in :func:`log_order`."""
    if entry_id is None:
        return f"({entry_column} IS NOT NULL OR {seq_column} > {{}})", [seq if seq is not None else -1]
    return f"{entry_column} > {{}}", [entry_id]


def same_in_log(entry_column: str, seq_column: str, entry_id: int | None, seq: int | None) -> tuple[str, list[int]]:
    """SQL condition and parameters selecting the facts at the same position (one change
    recording several facts), for a caller's tie-breaker after :func:`after_in_log`."""
    if entry_id is None:
        return f"({entry_column} IS NULL AND {seq_column} = {{}})", [seq if seq is not None else -1]
    return f"{entry_column} = {{}}", [entry_id]


@dataclass(frozen=True, slots=True)
class LogKey:
    """The deployment's checkpoint signing key and the log origin it signs for, with the
    keys it replaced (each valid for the sizes it signed: :mod:`governance.audit.keys`)."""

    signer: note.Signer
    history: KeyHistory | None = None

    @property
    def origin(self) -> str:
        return self.signer.name

    @property
    def keys(self) -> KeyHistory:
        return self.history or KeyHistory(current=self.signer.verifier)

    def verifier_for(self, size: int) -> note.VerifierKey | None:
        """The key that was valid for a checkpoint of ``size`` (None: none was)."""
        return self.keys.for_size(size)

    def open_checkpoint(self, signed: str) -> note.Checkpoint:
        """A checkpoint of this log, checked under the key valid for the size it claims."""
        claimed = note.parse_checkpoint(note._split_note(signed)[0])
        verifier = self.verifier_for(claimed.size)
        if verifier is None:
            raise note.NoteError(f"no checkpoint key of this log was valid for size {claimed.size}")
        return note.verify_checkpoint(signed, verifier, expected_origin=self.origin)

    @property
    def verifier_key(self) -> str:
        return self.signer.verifier_key()


def load_log_key(settings: Settings) -> LogKey:
    """The Ed25519 checkpoint key (PEM, PKCS#8), generated under the data dir on first start."""

    def generate() -> bytes:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    pem = read_or_create_secret(settings.effective_checkpoint_key_file, generate)
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{settings.effective_checkpoint_key_file} is not an Ed25519 private key")
    signer = note.Signer(settings.log_origin, private_key)
    return LogKey(signer=signer, history=load_history(settings.effective_checkpoint_key_history, signer.verifier))


@dataclass(frozen=True, slots=True)
class _Draft:
    """An entry before it has a place in the log."""

    recorded_at: datetime
    actor_sub: str
    actor_roles: str
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str | None
    outcome: str
    details: str


class OutsideTransaction(RuntimeError):
    """A programming error: an entry was recorded on the wrong side of a transaction.

    The entry of a change must commit with the change (:func:`record_change`, inside the
    change's ``db.transaction()``); an event that stands alone must not wait on, or roll
    back with, someone else's transaction (:func:`record_event`, outside any).
    """


async def record_change(
    *,
    actor: Identity,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    outcome: str = "success",
    details: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> Queued:
    """Queue the entry of a change, in the change's transaction: both commit, or neither.

    Takes no lock another writer waits on; the sequencer numbers the entry once it has
    committed (:func:`sequenced`). Refuses (:class:`OutsideTransaction`, writing nothing)
    when no transaction is open, so a mutation that forgot its transaction fails loudly
    instead of committing its entry alone.

    ``details`` must never hold plaintext personal data: store ciphertext from the
    keyring or references instead.
    """
    draft = _draft(actor, action, resource_type, resource_id, outcome, details, request_id)
    _require_transaction(action)
    [entry_id] = await sequencer.enqueue([_fields(draft)])
    return Queued(entry_id=entry_id)


def _require_transaction(action: str) -> None:
    if not db.in_transaction():
        raise OutsideTransaction(
            f"audit entry {action!r} records a change: open db.transaction() around the change and "
            "its entry (use record_event for an event that stands alone)"
        )


def _fields(draft: _Draft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in sequencer.FIELDS}


async def record_event(
    *,
    actor: Identity,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    outcome: str = "success",
    details: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> Queued:
    """Queue an event that changes nothing and stands alone: a denial, an audited read, a
    download, a run's summary. Returns once the entry is durable (queued, like a change's).

    Events from concurrent tasks share one transaction (group commit), so they do not pay
    one fsync each. Refuses (:class:`OutsideTransaction`) inside a
    transaction: the event would roll back with a change it is not part of, and wait on
    the lock that transaction holds.

    ``details`` must never hold plaintext personal data: store ciphertext from the
    keyring or references instead.
    """
    draft = _draft(actor, action, resource_type, resource_id, outcome, details, request_id)
    if db.in_transaction():
        raise OutsideTransaction(
            f"audit entry {action!r} stands alone: record it outside any transaction "
            "(use record_change for the entry of a change)"
        )
    return await _group_commit().submit(draft)


def _draft(
    actor: Identity,
    action: str,
    resource_type: str,
    resource_id: str | None,
    outcome: str,
    details: Mapping[str, Any] | None,
    request_id: str | None,
) -> _Draft:
    """The entry as it will be hashed; ValueError when a field does not fit the log."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    for column, value in (
        (AuditEntry.actor_sub, actor.sub),
        (AuditEntry.action, action),
        (AuditEntry.resource_type, resource_type),
        (AuditEntry.resource_id, resource_id),
        (AuditEntry.request_id, request_id),
    ):
        # Checked here, not by the database, so that one oversized entry fails its own caller.
        if value is not None and len(value) > (column.length or 0):
            raise ValueError(f"audit {column._meta.name} is longer than {column.length} characters")
    return _Draft(
        recorded_at=normalise_time(datetime.now(UTC)),
        actor_sub=actor.sub,
        actor_roles=canonical_json(list(actor.roles)),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        request_id=request_id or request_id_var.get(),
        outcome=outcome,
        details=canonical_json(dict(details or {})),
    )


# Whose plain reads are evidence in themselves: the accreditor's sampling of case files is
# part of the review an accreditation rests on. Staff read the same records all day as
# their work (the dossier is the hottest read); their changes are what is audited.
AUDITED_READERS: Final = frozenset({"auditor"})


async def record_read(reader: Identity, action: str, resource_type: str, resource_id: str) -> Queued | None:
    """Record that ``reader`` read a record, when they read as an outsider (:data:`AUDITED_READERS`).

    Call it once the record was found and before it is sent: no entry, no answer.
    """
    if AUDITED_READERS.isdisjoint(reader.roles):
        return None
    return await record_event(actor=reader, action=action, resource_type=resource_type, resource_id=resource_id)


class Refusal(Exception):
    """A refused move that is itself evidence (a four-eyes rule said no).

    Raised inside the move's transaction, which rolls back; :func:`recording_refusals`
    then writes its ``denied`` entry on its own, so the refusal stays on record, and
    answers with ``problem``.
    """

    def __init__(
        self, problem: Exception, *, action: str, resource_type: str, resource_id: str, details: Mapping[str, Any]
    ) -> None:
        super().__init__(action)
        self.problem, self.action, self.resource_type = problem, action, resource_type
        self.resource_id, self.details = resource_id, details


async def recording_refusals(actor: Identity, move: Awaitable[T]) -> T:
    """Await ``move``; a :class:`Refusal` it raises is recorded, then answered with its problem."""
    try:
        return await move
    except Refusal as refused:
        await record_event(
            actor=actor,
            action=refused.action,
            resource_type=refused.resource_type,
            resource_id=refused.resource_id,
            outcome="denied",
            details=refused.details,
        )
        raise refused.problem from None


class _GroupCommit:
    """Standalone entries submitted while a batch is being written go into the next batch."""

    MAX_BATCH: Final = 500

    def __init__(self) -> None:
        self._waiting: list[tuple[_Draft, asyncio.Future[Queued]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, draft: _Draft) -> Queued:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Queued] = loop.create_future()
        self._waiting.append((draft, done))
        if self._writer is None or self._writer.done():
            # A fresh context: the writer must not inherit anyone's transaction.
            self._writer = loop.create_task(self._write(), context=contextvars.Context())
        return await asyncio.shield(done)

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = (
                self._waiting[: self.MAX_BATCH],
                self._waiting[self.MAX_BATCH :],
            )
            try:
                await _write_batch(batch)
            except BaseException:
                # Cancelled (shutdown): nobody may be left waiting forever.
                stopped = RuntimeError("the audit writer stopped; this entry may not have been written")
                for _, done in [*batch, *self._waiting]:
                    if not done.done():
                        done.set_exception(stopped)
                self._waiting = []
                raise


async def _write_batch(batch: list[tuple[_Draft, asyncio.Future[Queued]]]) -> None:
    try:
        async with db.transaction():
            ids = await sequencer.enqueue([_fields(draft) for draft, _ in batch])
        recorded = [Queued(entry_id=entry_id) for entry_id in ids]
    except Exception as exc:
        if len(batch) > 1:
            # One bad entry must not sink its neighbours: write them one by one.
            for item in batch:
                await _write_batch([item])
        elif not batch[0][1].done():
            batch[0][1].set_exception(exc)
        return
    for (_, done), result in zip(batch, recorded, strict=True):
        if not done.done():
            done.set_result(result)


_group_commits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupCommit] = weakref.WeakKeyDictionary()


def _group_commit() -> _GroupCommit:
    loop = asyncio.get_running_loop()
    found = _group_commits.get(loop)
    if found is None:
        found = _group_commits[loop] = _GroupCommit()
    return found


_TREE_SIZE: Final = "SELECT next_seq FROM audit_head WHERE name = 'audit'"


async def tree_size() -> int:
    """Entries committed so far (the head's next sequence number)."""
    rows = await AuditEntry.raw(_TREE_SIZE)
    return int(rows[0]["next_seq"])


async def committed_size() -> int:
    """:func:`tree_size` for a page: read outside any transaction, on the fast path of
    :func:`governance.core.db.fetch_row` (a transaction's own entries are not counted)."""
    row = await db.fetch_row(_TREE_SIZE)
    assert row is not None, "the migrations create the head row"
    return int(row["next_seq"])


# The newest checkpoints within the log's size, newest first: the head and the checkpoints
# in one round trip (every proof and tile asks).
_LATEST_SQL: Final = (
    "SELECT * FROM audit_checkpoint WHERE tree_size <= (SELECT next_seq FROM audit_head WHERE name = 'audit') "
    "ORDER BY tree_size DESC LIMIT {}"
)
_LATEST_SQL_POOLED: Final = _LATEST_SQL.format("$1")


async def latest_checkpoint(log_key: LogKey) -> CheckpointRow | None:
    """The newest checkpoint this deployment's key really signed, within the log's size.

    Rows are only appended, but anyone who can write to the database can append a forged
    one; it is skipped here (and reported by verification), never served or built on.
    """
    for limit in (1, 50):  # the newest is nearly always genuine: read more only when not
        pool = db.read_pool()
        if pool is None:
            rows = await AuditCheckpoint.raw(_LATEST_SQL, limit)
        else:  # every proof and tile asks: the prepared statement on a pooled connection
            async with pool.acquire() as connection:
                rows = [dict(record) for record in await connection.fetch(_LATEST_SQL_POOLED, limit)]
        for row in typed_all(rows, CheckpointRow):
            if _genuine(row, log_key):
                return row
        if len(rows) < limit:
            break
    return None


def _genuine(row: CheckpointRow, log_key: LogKey) -> bool:
    """Signed by our key (the one valid for its size), for this size and root, with a compact
    range that folds to that root."""
    verifier = log_key.verifier_for(row.tree_size)
    if verifier is None:
        return False
    return _signed_and_folding(verifier, log_key.origin, row.tree_size, row.note, bytes(row.compact_range))


@functools.lru_cache(maxsize=1024)
def _signed_and_folding(verifier: note.VerifierKey, origin: str, size: int, signed_note: str, compact: bytes) -> bool:
    """:func:`_genuine` on a row's values: a pure function of them, so remembered (checking an
    Ed25519 signature on every proof and tile request would cost more than reading the row)."""
    try:
        signed = note.parse_checkpoint(note.open_note(signed_note, verifier))
        resumed = merkle.TreeBuilder.from_compact_range(size, compact)
    except ValueError:  # NoteError is a ValueError
        return False
    return signed.origin == origin and signed.size == size and hmac.compare_digest(signed.root, resumed.root())


# Checkpoints are signed one at a time across instances: each is numbered after, and
# linked to, the one before it.
_SIGNING_LOCK: Final = 0x61756469  # "audi"


def _link_number(link: str, verifier: note.VerifierKey) -> int | None:
    """The number a stored link signs; None when there is none or it is not ours."""
    try:
        return verification.open_link(link, verifier).number if link else None
    except note.NoteError:
        return None


async def sign_checkpoint(log_key: LogKey) -> CheckpointRow:
    """Sign a checkpoint of the log as it stands; returns the latest one when nothing grew.

    First the entries queued so far are numbered (outside a transaction), then the tree
    nodes are integrated up to the log's size (in batches, outside the signing
    transaction), then the root is folded from ``O(log n)`` of them. Signers on
    several instances take turns (an advisory lock on PostgreSQL, SQLite's write lock),
    so each checkpoint is numbered and linked to exactly the one signed before it.
    """
    await sequencer.catch_up()  # everything committed before this call is in the checkpoint
    size = await tree_size()
    await tree_store.integrate(size)
    async with db.transaction():
        if not db.is_sqlite():
            await AuditCheckpoint.raw("SELECT pg_advisory_xact_lock({})", _SIGNING_LOCK)
        previous = await latest_checkpoint(log_key)
        if previous is not None and previous.tree_size >= size:
            return previous
        if previous is not None and await tree_store.root(previous.tree_size) != previous.root_hash:
            raise RuntimeError(
                f"the stored tree disagrees with the checkpoint at size {previous.tree_size}; "
                "run `governance audit verify`"
            )
        stack = await tree_store.cover_hashes(0, size) if size else []
        builder = merkle.TreeBuilder.from_compact_range(size, b"".join(stack))
        root = builder.root()
        signed = log_key.signer.sign_note(note.checkpoint_body(log_key.origin, size, root))
        number = await _next_number(previous, log_key)
        link = log_key.signer.sign_note(
            verification.link_body(number, size, signed, previous.note if previous else None)
        )
        checkpoint = CheckpointRow(
            tree_size=size,
            root_hash=root,
            note=signed,
            key_id=f"{log_key.signer.key_id:08x}",
            signed_at=datetime.now(UTC),
            compact_range=builder.compact_range(),
            link=link,
        )
        await AuditCheckpoint.raw(
            "INSERT INTO audit_checkpoint (tree_size, root_hash, note, key_id, signed_at, compact_range, link) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (tree_size) DO NOTHING",
            checkpoint.tree_size,
            checkpoint.root_hash,
            checkpoint.note,
            checkpoint.key_id,
            checkpoint.signed_at,
            checkpoint.compact_range,
            checkpoint.link,
        )
    return checkpoint


async def _next_number(previous: CheckpointRow | None, log_key: LogKey) -> int:
    """One more than the previous checkpoint's number; a checkpoint signed before numbering
    began is numbered by its place among the stored ones (verification counts the same way)."""
    if previous is None:
        return 0
    verifier = log_key.verifier_for(previous.tree_size)
    number = _link_number(previous.link, verifier) if verifier else None
    if number is not None:
        return number + 1
    rows = await AuditCheckpoint.raw(
        "SELECT count(*) AS below FROM audit_checkpoint WHERE tree_size < {}", previous.tree_size
    )
    return int(rows[0]["below"]) + 1


async def verify(log_key: LogKey, witnesses: Sequence[CosignerKey] = (), *, every_witness: bool = True) -> Verification:
    """Verify every entry and every checkpoint, and that the log agrees with each checkpoint
    the given witnesses cosigned (and, with ``every_witness``, that each cosigned one at
    least); see :mod:`governance.audit.verification`."""
    return await verification.verify(log_key.keys, witnesses=witnesses, every_witness=every_witness)


def entry_view(row: AuditEntryRow) -> AuditEntryView:
    return AuditEntryView(
        seq=row.seq,
        time=normalise_time(row.recorded_at),
        actor=EntryActor(sub=row.actor_sub, roles=msgspec.json.decode(row.actor_roles)),
        action=row.action,
        resource=EntryResource(type=row.resource_type, id=row.resource_id),
        request_id=row.request_id,
        outcome=row.outcome,
        details=msgspec.json.decode(row.details),
        leaf_hash=row.leaf_hash.hex(),
    )


async def search(query: AuditQuery) -> Page[AuditEntryView]:
    """Entries matching every given filter, in log order (or newest first), a page at a time.

    Entries queued before the call are numbered first, so a reader finds what it just did."""
    await sequencer.catch_up()
    where: list[Combinable] = []
    if query.actor is not None:
        where.append(AuditEntry.actor_sub == query.actor)
    if query.action is not None:
        # A literal, case-sensitive prefix on both engines (SQLite's LIKE ignores case, and
        # % or _ in the filter would be wildcards).
        where.append(WhereRaw("substr(action, 1, {}) = {}", len(query.action), query.action))
    if query.resource_type is not None:
        where.append(AuditEntry.resource_type == query.resource_type)
    if query.resource_id is not None:
        where.append(AuditEntry.resource_id == query.resource_id)
    if query.since is not None:
        where.append(AuditEntry.recorded_at >= query.since)
    if query.until is not None:
        where.append(AuditEntry.recorded_at < query.until)
    descending = query.order == "desc"
    if query.cursor is not None:
        position = decode_cursor(query.cursor).get("seq")
        if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position < 2**63:
            raise invalid_parameter("cursor", "not a cursor this service issued")
        where.append(AuditEntry.seq < position if descending else AuditEntry.seq > position)
    select = AuditEntry.select().order_by(AuditEntry.seq, ascending=not descending).limit(query.limit + 1)
    for condition in where:
        select = select.where(condition)
    rows = await select
    items = [entry_view(row) for row in typed_all(rows[: query.limit], AuditEntryRow)]
    next_cursor = encode_cursor({"seq": items[-1].seq}) if len(rows) > query.limit else None
    return Page(items=items, next_cursor=next_cursor)


async def history(resource_type: str, resource_id: str) -> list[AuditEntryView]:
    """Every entry about one resource, in log order: who did what to it (a four-eyes rule
    judges by this, so that nobody can pass as independent by what the log contradicts).

    Entries still queued count too: inside a transaction (where nothing can be numbered)
    they follow the numbered ones, in queue order, with ``seq`` -1."""
    await sequencer.catch_up()
    rows = (
        await AuditEntry.select()
        .where((AuditEntry.resource_type == resource_type) & (AuditEntry.resource_id == resource_id))
        .order_by(AuditEntry.seq)
    )
    queued = await AuditEntry.raw(
        f"SELECT {', '.join(sequencer.FIELDS)} FROM audit_queue "  # noqa: S608
        "WHERE resource_type = {} AND resource_id = {} ORDER BY id",
        resource_type,
        resource_id,
    )
    waiting = [{**row, "seq": -1, "leaf_hash": b""} for row in queued]
    return [entry_view(row) for row in typed_all([*rows, *waiting], AuditEntryRow)]


async def get_entry(seq: int) -> AuditEntryView | None:
    row = await AuditEntry.select().where(AuditEntry.seq == seq).first()
    return entry_view(typed(row, AuditEntryRow)) if row else None


async def _entry_batches(stop: int, after: int = -1) -> AsyncIterator[list[dict[str, Any]]]:
    """The entries after ``after`` and before ``stop``, in batches, as stored: the columns
    :func:`~governance.audit.leaf.stored_leaf_input` re-derives a leaf from."""
    last = after
    while True:
        rows = await AuditEntry.raw(
            f"SELECT {verification.COLUMNS} FROM audit_entry WHERE seq > {{}} AND seq < {{}} "  # noqa: S608
            f"ORDER BY seq LIMIT {verification.BATCH}",
            last,
            stop,
        )
        if not rows:
            return
        last = rows[-1]["seq"]
        yield rows


@dataclass(frozen=True, slots=True)
class Export:
    """An export prepared under a freshly signed checkpoint; :meth:`lines` streams it.

    ``since_seq`` > 0 leaves out entries 0 to ``since_seq`` - 1 (the part the reader
    already holds) and opens with a ``prefix`` line: the roots of the complete subtrees
    covering them (a compact range). From those and the entries that follow, a verifier
    recomputes the checkpoint's root, and the prefix's own root must equal the root of
    the checkpoint the reader verified before: the new part extends the old, provably.
    """

    since_seq: int
    checkpoint: CheckpointRow
    verifier_key: str
    prefix: ExportPrefix | None

    @property
    def tree_size(self) -> int:
        return self.checkpoint.tree_size

    @property
    def root(self) -> str:
        return self.checkpoint.root_hash.hex()

    async def lines(self) -> AsyncIterator[bytes]:
        """The JSON lines, one chunk per batch of entries, so memory stays bounded."""
        encoder = msgspec.json.Encoder()
        if self.prefix is not None:
            yield encoder.encode(self.prefix) + b"\n"
        async for rows in _entry_batches(self.tree_size, after=self.since_seq - 1):
            chunk = bytearray()
            # The leaf input from the columns as stored, by the function verification uses.
            for stored, row in zip(rows, typed_all(rows, AuditEntryRow), strict=True):
                line = ExportEntry(
                    seq=row.seq,
                    entry=entry_view(row),
                    leaf_input=base64.b64encode(stored_leaf_input(stored)).decode(),
                    leaf_hash=row.leaf_hash.hex(),
                )
                chunk += encoder.encode(line) + b"\n"
            yield bytes(chunk)
        closing = ExportCheckpoint(
            tree_size=self.tree_size,
            root=self.root,
            checkpoint=self.checkpoint.note,
            verifier_key=self.verifier_key,
        )
        yield encoder.encode(closing) + b"\n"


async def prepare_export(log_key: LogKey, since_seq: int = 0) -> Export:
    """Sign a checkpoint of the log as it stands and prepare its export from ``since_seq``.

    ValueError when ``since_seq`` lies beyond the signed tree (nothing there to export).
    """
    checkpoint = await sign_checkpoint(log_key)
    size = checkpoint.tree_size
    if not 0 <= since_seq <= size:
        raise ValueError(f"since_seq {since_seq} is beyond the log's {size} entries")
    prefix = None
    if since_seq > 0:
        builder = await _builder_at(since_seq)
        stack = builder.compact_range()
        prefix = ExportPrefix(
            tree_size=since_seq,
            root=builder.root().hex(),
            compact_range=[stack[i : i + merkle.HASH_SIZE].hex() for i in range(0, len(stack), merkle.HASH_SIZE)],
        )
    return Export(since_seq=since_seq, checkpoint=checkpoint, verifier_key=log_key.verifier_key, prefix=prefix)


async def _builder_at(size: int) -> merkle.TreeBuilder:
    """The tree of the first ``size`` entries, from the stored nodes (integrated up to the
    checkpoint just signed, which is at least ``size``)."""
    return merkle.TreeBuilder.from_compact_range(size, b"".join(await tree_store.cover_hashes(0, size)))


async def verify_since(log_key: LogKey, saved_note: str, witnesses: Sequence[CosignerKey] = ()) -> Verification:
    """Verify the log, and that it extends a checkpoint kept outside the database.

    The saved checkpoint must verify under the log key; the entries must still hash to its
    root at its size, it must still be stored, and a consistency proof from its size to the
    latest checkpoint (read from the stored nodes, as any client would get it) must hold.
    Truncating, rewriting, deleting checkpoints or restoring an old backup each fail one.
    ValueError when the file is not a checkpoint signed by this log's key.
    """
    saved = log_key.open_checkpoint(saved_note)
    result = await verification.verify(log_key.keys, saved, witnesses)
    problems = list(result.problems)
    latest = await latest_checkpoint(log_key)
    if latest is None or latest.tree_size < saved.size:
        size = 0 if latest is None else latest.tree_size
        problems.append(
            f"the latest checkpoint (size {size}) is older than the one saved earlier (size {saved.size}): "
            "checkpoints were deleted or an old backup restored"
        )
    elif saved.size > 0:  # every log extends the empty one
        try:
            proof = await tree_store.range_hashes(tree.consistency_ranges(saved.size, latest.tree_size))
        except tree_store.MissingNodes as exc:
            problems.append(f"no consistency proof from size {saved.size}: {exc}")
        else:
            if not tree.verify_consistency(saved.size, latest.tree_size, saved.root, latest.root_hash, proof):
                problems.append(
                    f"the log does not extend the checkpoint saved earlier: the consistency proof from size "
                    f"{saved.size} to {latest.tree_size} fails"
                )
    if len(problems) == len(result.problems):
        return result
    first_bad = result.first_bad_checkpoint if result.first_bad_checkpoint is not None else saved.size
    return msgspec.structs.replace(result, ok=False, problems=problems[:100], first_bad_checkpoint=first_bad)
