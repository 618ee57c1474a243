"""The log's side of witnessing: send each new checkpoint to the witnesses, keep their cosignatures.

After a checkpoint is signed (the checkpoint job, outside any change's transaction, so a
slow or absent witness never holds up a write) the latest one goes to every witness in
``GOVERNANCE_WITNESSES`` with the consistency proof from the size that witness last
cosigned (known from the stored cosignatures; on 409 the witness says its size, and the
request is made again from there). Cosignatures are stored append-only and served
attached to the checkpoint. A witness that cannot be reached is retried with backoff;
one that refuses a proof (422), or holds a tree the log no longer extends, is a fork
alarm: on ``/ready`` and in the metrics, and never cleared by retrying.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import httpx
import structlog
from prometheus_client import Counter, Gauge

from governance.audit import note, service, tree, tree_store
from governance.audit.cosignature import CosignerKey, parse_cosigner_key
from governance.audit.tables import AuditCosignature, CheckpointRow, CosignatureRow
from governance.core.rows import typed_all

log = structlog.get_logger("governance.audit.witnesses")

TIMEOUT: Final = 10.0
MAX_BACKOFF: Final = 300.0
MAX_ANSWER: Final = 64 * 1024

WITNESS_UP = Gauge(
    "governance_witness_up", "1 while the witness answers and cosigns, 0 while it fails or refuses.", ["witness"]
)
WITNESS_SIZE = Gauge("governance_witness_cosigned_size", "The tree size the witness last cosigned.", ["witness"])
WITNESS_FAILURES = Counter(
    "governance_witness_failures", "Failed attempts to get a witness's cosignature.", ["witness", "reason"]
)
WITNESS_FORK = Gauge(
    "governance_witness_fork",
    "1 when a witness refused the log's history (a forked, truncated or restored log).",
    ["witness"],
)


class WitnessConfigError(ValueError):
    """GOVERNANCE_WITNESSES or GOVERNANCE_WITNESS_QUORUM cannot be used."""


@dataclass(slots=True)
class WitnessStatus:
    """What this instance knows of one witness: for /ready and the metrics."""

    url: str
    key: CosignerKey
    cosigned_size: int = 0
    failures: int = 0
    next_attempt: float = 0.0
    problem: str = ""
    fork: str = ""
    since: datetime | None = None

    @property
    def name(self) -> str:
        return self.key.name

    def describe(self) -> str:
        if self.fork:
            return f"refuses the log's history: {self.fork}"
        if self.problem:
            since = self.since.isoformat() if self.since else "?"
            return f"unreachable since {since} ({self.problem}); retrying"
        if not self.cosigned_size:
            return "not asked yet by this instance"
        return f"cosigned size {self.cosigned_size}"


@dataclass(slots=True)
class Witnesses:
    """The configured witnesses, the quorum, and each one's status in this instance."""

    statuses: list[WitnessStatus]
    quorum: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def keys(self) -> list[CosignerKey]:
        return [status.key for status in self.statuses]

    def ready_details(self) -> dict[str, str]:
        return {status.name: status.describe() for status in self.statuses}


def parse(witnesses: Sequence[str], quorum: int) -> Witnesses:
    """``URL=VKEY`` pairs (the URL is the witness's base) and the quorum; WitnessConfigError otherwise."""
    statuses: list[WitnessStatus] = []
    for given in witnesses:
        url, equals, vkey = given.partition("=")
        if not equals or not url.startswith(("http://", "https://")):
            raise WitnessConfigError(f"GOVERNANCE_WITNESSES: {given!r} is not URL=VKEY")
        try:
            key = parse_cosigner_key(vkey)
        except note.NoteError as exc:
            raise WitnessConfigError(f"GOVERNANCE_WITNESSES: {given!r}: {exc}") from None
        if any(status.key == key for status in statuses):
            raise WitnessConfigError(f"GOVERNANCE_WITNESSES: {key.name} is listed twice")
        statuses.append(WitnessStatus(url=url.rstrip("/"), key=key))
    if statuses and not 1 <= quorum <= len(statuses):
        raise WitnessConfigError(f"GOVERNANCE_WITNESS_QUORUM: {quorum} is not between 1 and {len(statuses)}")
    return Witnesses(statuses=statuses, quorum=quorum)


async def cosignatures(tree_size: int, keys: Sequence[CosignerKey] | None = None) -> list[CosignatureRow]:
    """The stored cosignatures of the checkpoint at ``tree_size`` (by ``keys`` when given)."""
    rows = typed_all(await AuditCosignature.select().where(AuditCosignature.tree_size == tree_size), CosignatureRow)
    if keys is None:
        return rows
    wanted = {key.encode() for key in keys}
    return [row for row in rows if row.witness in wanted]


async def attached(checkpoint: CheckpointRow, witnesses: Witnesses) -> str:
    """The checkpoint's note with the configured witnesses' cosignatures appended (signed-note
    lets a note carry signatures its reader does not know; each reader checks those it trusts)."""
    if not witnesses.statuses:
        return checkpoint.note
    text = note._split_note(checkpoint.note)[0]
    lines: dict[str, str] = {}
    for row in await cosignatures(checkpoint.tree_size, witnesses.keys):
        if row.checkpoint == text:
            lines.setdefault(row.witness, row.cosignature)
    return checkpoint.note + "".join(lines.values())


async def witnessed(checkpoint: CheckpointRow, witnesses: Witnesses) -> bool:
    """Whether a quorum of the configured witnesses cosigned this checkpoint."""
    if not witnesses.statuses:
        return False
    text = note._split_note(checkpoint.note)[0]
    signers = {
        row.witness for row in await cosignatures(checkpoint.tree_size, witnesses.keys) if row.checkpoint == text
    }
    return len(signers) >= witnesses.quorum


async def _last_cosigned(key: CosignerKey) -> int:
    rows = await AuditCosignature.raw(
        "SELECT max(tree_size) AS size FROM audit_cosignature WHERE witness = {}", key.encode()
    )
    return int(rows[0]["size"] or 0) if rows else 0


async def _request_body(old: int, checkpoint: CheckpointRow) -> bytes:
    proof = await tree_store.range_hashes(tree.consistency_ranges(old, checkpoint.tree_size)) if old else []
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint.note).encode()


class _Refused(Exception):
    def __init__(self, reason: str, message: str, *, fork: bool = False) -> None:
        super().__init__(message)
        self.reason, self.fork = reason, fork


async def _ask(client: httpx.AsyncClient, status: WitnessStatus, checkpoint: CheckpointRow) -> str:
    """The witness's cosignature line for ``checkpoint``, from the size it holds."""
    old = min(await _last_cosigned(status.key), checkpoint.tree_size)
    for _ in range(3):
        answer = await client.post(
            status.url + "/add-checkpoint",
            content=await _request_body(old, checkpoint),
            headers={"content-type": "text/plain; charset=utf-8"},
        )
        if answer.status_code == 200:
            return answer.text[:MAX_ANSWER]
        if answer.status_code == 409 and answer.headers.get("content-type", "").startswith("text/x.tlog.size"):
            held = answer.text.strip()
            if not held.isdigit() or len(held) > 20:
                raise _Refused("protocol", f"409 with a size that is not one: {held[:40]!r}")
            if int(held) == old:
                raise _Refused(
                    "fork", f"it holds another tree at size {old} than checkpoint {old} of this log", fork=True
                )
            if int(held) > checkpoint.tree_size:
                raise _Refused(
                    "fork",
                    f"it cosigned size {held}, more than the log's {checkpoint.tree_size}: "
                    "the log was truncated or restored from an old backup",
                    fork=True,
                )
            old = int(held)
            continue
        if answer.status_code == 422:
            raise _Refused(
                "fork",
                f"the consistency proof from size {old} to {checkpoint.tree_size} does not hold for the tree it "
                "cosigned: the log's history changed",
                fork=True,
            )
        raise _Refused("http", f"HTTP {answer.status_code}: {answer.text[:200].strip()}")
    raise _Refused("protocol", "the witness kept changing its size")


def _ours(key: CosignerKey, text: str, answer: str) -> tuple[str, int]:
    """The line of the answer that is this witness's valid cosignature, and its timestamp
    (a witness may answer several, under keys this log does not know)."""
    for candidate in answer.splitlines()[:16]:
        try:
            return candidate + "\n", key.open(text, candidate + "\n")
        except note.NoteError:
            continue
    raise note.NoteError(f"no valid cosignature by {key.name} in the witness's answer")


async def submit(log_key: service.LogKey, witnesses: Witnesses, checkpoint: CheckpointRow | None = None) -> int:
    """Send the latest checkpoint to every witness due (not backing off, not yet cosigned);
    store the cosignatures. Returns how many cosignatures were stored. Never raises for a
    witness's failure: that is its status."""
    if not witnesses.statuses:
        return 0
    checkpoint = checkpoint or await service.latest_checkpoint(log_key)
    if checkpoint is None or checkpoint.tree_size == 0:
        return 0
    text = note._split_note(checkpoint.note)[0]
    stored = 0
    async with witnesses.lock, httpx.AsyncClient(timeout=TIMEOUT) as client:
        for status in witnesses.statuses:
            if status.fork or time.monotonic() < status.next_attempt:
                continue
            if any(row.checkpoint == text for row in await cosignatures(checkpoint.tree_size, [status.key])):
                continue
            stored += await _cosign(client, status, checkpoint, text)
    return stored


async def _cosign(client: httpx.AsyncClient, status: WitnessStatus, checkpoint: CheckpointRow, text: str) -> int:
    label = status.key.encode()
    try:
        line, timestamp = _ours(status.key, text, await _ask(client, status, checkpoint))
    except (httpx.HTTPError, OSError, _Refused, note.NoteError, tree_store.MissingNodes) as exc:
        if isinstance(exc, _Refused):
            reason = exc.reason
        elif isinstance(exc, note.NoteError):
            reason = "invalid"  # an answer that is no cosignature by this witness
        elif isinstance(exc, tree_store.MissingNodes):
            reason = "proof"  # the stored tree cannot give the proof: `governance audit verify`
        else:
            reason = "network"
        WITNESS_FAILURES.labels(label, reason).inc()
        WITNESS_UP.labels(label).set(0)
        if isinstance(exc, _Refused) and exc.fork:
            status.fork = str(exc)
            WITNESS_FORK.labels(label).set(1)
            log.error("witness_refuses_history", witness=status.name, problem=str(exc))
            return 0
        status.failures += 1
        status.problem = str(exc) or type(exc).__name__
        status.since = status.since or datetime.now(UTC)
        status.next_attempt = time.monotonic() + min(MAX_BACKOFF, 2.0**status.failures)
        log.warning("witness_unreachable", witness=status.name, problem=status.problem, failures=status.failures)
        return 0
    await AuditCosignature.insert(
        AuditCosignature(
            tree_size=checkpoint.tree_size,
            witness=label,
            checkpoint=text,
            cosignature=line,
            cosigned_at=datetime.fromtimestamp(timestamp, UTC),
        )
    )
    status.cosigned_size, status.failures, status.problem, status.since = checkpoint.tree_size, 0, "", None
    WITNESS_UP.labels(label).set(1)
    WITNESS_SIZE.labels(label).set(checkpoint.tree_size)
    return 1


async def sign_and_submit(log_key: service.LogKey, witnesses: Witnesses) -> CheckpointRow:
    """The checkpoint job: sign a checkpoint of the log as it stands, then ask the witnesses."""
    checkpoint = await service.sign_checkpoint(log_key)
    await submit(log_key, witnesses, checkpoint)
    return checkpoint
