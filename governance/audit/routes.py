"""Audit routes: read-only. Nobody writes the log through the API.

The verifier key and the latest checkpoint are public: an auditor pins the key through
a channel of their choosing and compares checkpoints over time, with or without a token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_304_NOT_MODIFIED
from litestar.types import ControllerRouterHandler

from governance.audit import proofs, service, tree, tree_store
from governance.audit import witnesses as witnesses_
from governance.audit.schemas import AuditEntryView, AuditQuery, ConsistencyProof, InclusionProof, Verification
from governance.core import limits
from governance.core.errors import Problem, invalid_parameter
from governance.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page

# The checkpoint changes whenever the log grows: caches must ask again every time (a 304
# is cheap). The key changes only when the deployment rotates it: an hour is harmless.
CHECKPOINT_CACHING: Final = "public, no-cache"
PUBLIC_KEY_CACHING: Final = "public, max-age=3600"
EXPORT_MEDIA_TYPE: Final = "application/x-ndjson"
T = TypeVar("T")
# Tree sizes given as text (`from`, `to`): documented for clients, enforced by _tree_size.
TREE_SIZE: Final[dict[str, Any]] = {"schema_extra": {"maxLength": 19, "pattern": "^[0-9]+$"}}


class AuditController(Controller):
    """The log: search, entries, verification, export; the checkpoint and key, public."""

    path = "/audit"
    tags = ("audit",)

    @get("/entries")
    async def search_entries(
        self,
        actor: Annotated[str | None, limits.query_id("Actor subject.")] = None,
        action: Annotated[str | None, limits.query_id("Action prefix: `access.` or `access.denied`.")] = None,
        resource_type: Annotated[str | None, limits.query_id("Resource type, e.g. `complaint`.")] = None,
        resource_id: Annotated[str | None, limits.query_id("Resource id.")] = None,
        since: Annotated[datetime | None, QueryParameter(description="ISO 8601 instant, inclusive.")] = None,
        until: Annotated[datetime | None, QueryParameter(description="ISO 8601 instant, exclusive.")] = None,
        order: Annotated[Literal["asc", "desc"], QueryParameter(description="Log order or newest first.")] = "asc",
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = None,
    ) -> Page[AuditEntryView]:
        """Search the audit log by actor, action prefix, resource, and time window."""
        query = AuditQuery(
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            since=_utc("since", since),
            until=_utc("until", until),
            order=order,
            limit=limit,
            cursor=cursor,
        )
        return await service.search(query)

    @get("/entries/{seq:int}")
    async def get_entry(self, seq: Annotated[int, PathParameter(ge=0, le=2**63 - 1)]) -> AuditEntryView:
        """One audit entry by its sequence number."""
        entry = await service.get_entry(seq)
        if entry is None:
            raise NotFoundException(f"No audit entry with sequence number {seq}")
        return entry

    @get("/entries/{seq:int}/proof", media_type="text/plain")
    async def entry_proof(
        self,
        seq: Annotated[int, PathParameter(ge=0, le=2**63 - 1)],
        log_key: NamedDependency[service.LogKey],
        witnesses: NamedDependency[witnesses_.Witnesses],
    ) -> Response[str]:
        """The entry's inclusion in the latest checkpoint as a `c2sp.org/tlog-proof@v1` file:
        the proof hashes and the signed checkpoint (with the witnesses' cosignatures stored
        for it), verifiable offline with the verifier key."""
        try:
            text = await proofs.entry_proof(log_key, seq, witnesses)
        except tree_store.MissingNodes as exc:
            raise _not_integrated(exc) from None
        if text is None:
            raise NotFoundException(f"No audit entry with sequence number {seq}")
        disposition = f'attachment; filename="audit-entry-{seq}.tlog-proof"'
        return Response(content=text, media_type="text/plain", headers={"Content-Disposition": disposition})

    @get("/proofs/inclusion")
    async def inclusion_proof(
        self,
        log_key: NamedDependency[service.LogKey],
        index: Annotated[int, QueryParameter(ge=0, le=2**63 - 1, description="The entry's sequence number.")],
        tree_size: Annotated[
            int, QueryParameter(ge=1, le=2**63 - 1, description="A tree size up to the latest checkpoint's.")
        ],
    ) -> InclusionProof:
        """RFC 9162 §2.1.3 inclusion proof of entry `index` in the tree of `tree_size` entries
        (hashes base64, leaf side first)."""
        return await _proof(proofs.inclusion(log_key, index, tree_size))

    @get("/proofs/consistency")
    async def consistency_proof(
        self,
        log_key: NamedDependency[service.LogKey],
        first: Annotated[
            str, QueryParameter(name="from", description="The earlier tree size (1 or more).", **TREE_SIZE)
        ],
        second: Annotated[
            str,
            QueryParameter(name="to", description="The later tree size, up to the latest checkpoint's.", **TREE_SIZE),
        ],
    ) -> ConsistencyProof:
        """RFC 9162 §2.1.4 consistency proof that the tree of `from` entries is a prefix of the
        tree of `to` (hashes base64)."""
        # Parsed here, not by Litestar: its refusal would name the Python parameters, and a
        # client sent `from` and `to`.
        return await _proof(proofs.consistency(log_key, _tree_size("from", first), _tree_size("to", second)))

    @get("/verify")
    async def verify(
        self, log_key: NamedDependency[service.LogKey], witnesses: NamedDependency[witnesses_.Witnesses]
    ) -> Verification:
        """Recompute every leaf hash and the root at every signed checkpoint, and check the log
        against every checkpoint the configured witnesses cosigned."""
        # A witness just added has cosigned nothing yet: that is no fault of the log here
        # (`governance audit verify --witness` insists, for an auditor who expects some).
        return await service.verify(log_key, witnesses.keys, every_witness=False)

    @get("/export", media_type=EXPORT_MEDIA_TYPE)
    async def export(
        self,
        request: Request[Any, Any, Any],
        log_key: NamedDependency[service.LogKey],
        since_seq: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=2**63 - 1,
                description="Leave out entries before this sequence number (the part you already hold): "
                "the export then opens with a `prefix` line that binds them to the checkpoint.",
            ),
        ] = 0,
    ) -> Stream:
        """The log as JSON lines under a checkpoint signed now, exactly as `governance audit
        export` writes it, streamed; verify it with `tools/verify_export.py`. Recorded in the
        log (`audit.export.downloaded`)."""
        return await export_response(request, log_key, since_seq)

    @get("/checkpoint", media_type="text/plain", exclude_from_auth=True)
    async def checkpoint(
        self,
        request: Request[Any, Any, Any],
        log_key: NamedDependency[service.LogKey],
        witnesses: NamedDependency[witnesses_.Witnesses],
    ) -> Response[str]:
        """The latest signed checkpoint (C2SP tlog-checkpoint signed note), with the witnesses'
        cosignatures attached. Public, with an ``ETag``: ``If-None-Match`` answers 304 while
        nothing changed."""
        latest = await service.latest_checkpoint(log_key)
        if latest is None:
            raise NotFoundException("No checkpoint has been signed yet")
        return _public_text(request, await witnesses_.attached(latest, witnesses), CHECKPOINT_CACHING)

    @get("/public-key", media_type="text/plain", exclude_from_auth=True)
    async def public_key(
        self, request: Request[Any, Any, Any], log_key: NamedDependency[service.LogKey]
    ) -> Response[str]:
        """The signed-note verifier key: ``<name>+<hex key id>+<base64(0x01 || Ed25519 key)>``.
        Public: it is meant to be published."""
        return _public_text(request, str(log_key.verifier_key) + "\n", PUBLIC_KEY_CACHING)


# A full tile never changes: a year, and no revalidation. A partial one is replaced by a
# wider one as the log grows: a few seconds, like the checkpoint it goes with.
FULL_TILE_CACHING: Final = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHING: Final = "public, max-age=5"
TILE_MEDIA_TYPE: Final = "application/octet-stream"


class TlogController(Controller):
    """The log as c2sp.org/tlog-tiles: the checkpoint and the hash tiles are public (they
    reveal nothing personal); entry bundles are the entries, for auditors and compliance
    officers only. A client such as the transparency-dev tools follows the log from these."""

    path = "/tlog"
    tags = ("audit",)

    @get("/checkpoint", media_type="text/plain; charset=utf-8", exclude_from_auth=True)
    async def checkpoint(
        self,
        request: Request[Any, Any, Any],
        log_key: NamedDependency[service.LogKey],
        witnesses: NamedDependency[witnesses_.Witnesses],
    ) -> Response[str]:
        """The latest signed checkpoint (the one tiles are served for), with the witnesses'
        cosignatures attached. Public."""
        latest = await service.latest_checkpoint(log_key)
        if latest is None:
            raise NotFoundException("No checkpoint has been signed yet")
        return _public_text(request, await witnesses_.attached(latest, witnesses), CHECKPOINT_CACHING)

    @get("/tile/{level:int}/{index:path}", media_type=TILE_MEDIA_TYPE, exclude_from_auth=True)
    async def hash_tile(
        self,
        level: Annotated[int, PathParameter(description="The tile level, 0 to 63.")],
        index: Annotated[str, PathParameter(description="The tile index, `x001/x234/067`, then `.p/<W>` if partial.")],
        log_key: NamedDependency[service.LogKey],
    ) -> Response[bytes]:
        """Tile `index` (`x001/x234/067`, `.p/<W>` for a partial tile) of tile level `level`:
        256 consecutive tree hashes at height 8 × `level`. Public."""
        number, width = _tile_address(index)
        return _tile(await _tile_or_404(proofs.hash_tile(log_key, level, number, width)))

    @get("/tile/entries/{index:path}", media_type=TILE_MEDIA_TYPE)
    async def entry_bundle(
        self,
        index: Annotated[
            str, PathParameter(description="The bundle index, `x001/x234/067`, then `.p/<W>` if partial.")
        ],
        log_key: NamedDependency[service.LogKey],
    ) -> Response[bytes]:
        """Entry bundle `index`: the exact leaf inputs of 256 entries (fewer in a partial
        bundle), each behind its big-endian uint16 length."""
        number, width = _tile_address(index)
        return _tile(await _tile_or_404(proofs.entry_bundle(log_key, number, width)))


ROUTES: list[ControllerRouterHandler] = [AuditController]
TLOG_ROUTES: list[ControllerRouterHandler] = [TlogController]


def _tile_address(path: str) -> tuple[int, int | None]:
    """(index, width) from `x001/x234/067[.p/<W>]`; any other spelling is a 404, like a
    file that does not exist."""
    path = path.lstrip("/")
    main, partial, width = path.partition(".p/")
    try:
        number = tree.parse_tile_index(main)
    except ValueError:
        raise NotFoundException("No such tile") from None
    if not partial:
        return number, None
    if not width.isdigit() or width != str(int(width)) or not 1 <= int(width) <= proofs.TILE_WIDTH - 1:
        raise NotFoundException("No such tile: a partial tile is 1 to 255 wide")
    return number, int(width)


async def _tile_or_404(work: Awaitable[proofs.Tile]) -> proofs.Tile:
    try:
        return await work
    except (proofs.ProofRefused, proofs.NotYetSigned) as exc:
        raise NotFoundException(f"No such tile: {exc}") from None
    except tree_store.MissingNodes as exc:
        raise _not_integrated(exc) from None
    except proofs.EntryTooLong as exc:
        raise Problem(422, "entry-too-long", str(exc)) from None


def _tile(tile: proofs.Tile) -> Response[bytes]:
    caching = FULL_TILE_CACHING if tile.full else PARTIAL_TILE_CACHING
    return Response(content=tile.data, media_type=TILE_MEDIA_TYPE, headers={"Cache-Control": caching})


async def _proof(work: Awaitable[T]) -> T:
    try:
        return await work
    except proofs.ProofRefused as exc:
        raise invalid_parameter(exc.field, str(exc)) from None
    except proofs.NotYetSigned as exc:
        raise NotFoundException(str(exc)) from None
    except tree_store.MissingNodes as exc:
        raise _not_integrated(exc) from None


def _tree_size(field: str, text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > 2**63 - 1:
        raise invalid_parameter(field, f"{field} must be a tree size (a whole number)")
    return int(text)


def _not_integrated(exc: Exception) -> Problem:
    # The nodes come with the next checkpoint (the first one after an upgrade backfills them).
    return Problem(503, "not-integrated", f"The log's tree is not integrated that far yet: {exc}")


async def export_response(request: Request[Any, Any, Any], log_key: service.LogKey, since_seq: int = 0) -> Stream:
    """The export under a checkpoint signed now, streamed as a download and recorded in the
    log (``audit.export.downloaded``); the API and the log page alike."""
    try:
        prepared = await service.prepare_export(log_key, since_seq)
    except ValueError as exc:
        raise invalid_parameter("since_seq", str(exc)) from None
    await service.record_event(
        actor=request.user,
        action="audit.export.downloaded",
        resource_type="audit_log",
        resource_id=log_key.origin,
        details={"since_seq": since_seq, "tree_size": prepared.tree_size, "root": prepared.root},
    )
    filename = f"audit-{since_seq}-{prepared.tree_size}.jsonl"
    return Stream(
        prepared.lines(),
        media_type=EXPORT_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _public_text(request: Request[Any, Any, Any], text: str, caching: str) -> Response[str]:
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": caching}
    if request.headers.get("if-none-match") == etag:
        return Response(content="", status_code=HTTP_304_NOT_MODIFIED, headers=headers, media_type="text/plain")
    return Response(content=text, headers=headers, media_type="text/plain")


def _utc(field: str, instant: datetime | None) -> datetime | None:
    """Instants must say their offset: a bare local time means different things to each database."""
    if instant is None:
        return None
    if instant.tzinfo is None:
        raise invalid_parameter(field, f"{field} needs a UTC offset, e.g. 2026-11-22T10:00:00Z")
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise invalid_parameter(field, f"{field} is out of range") from None
