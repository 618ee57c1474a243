"""Evidence documents: PDF, PNG or JPEG, judged by their content, never by their name.

A document is stored encrypted under the mentor's own data key (erasing the mentor makes
it unreadable like every other personal field), at a content-addressed key
``vetting/documents/<mentor id>/<sha256>``, where the SHA-256 is of the content as
uploaded. That hash is recorded in the database and in the audit entry. The encryption
is segmented and bound to the hash, so a download streams segment by segment and every
segment proves it belongs to exactly that document, in that place.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import structlog

from governance.audit import service as audit
from governance.core import db
from governance.core.crypto import CiphertextInvalid
from governance.core.errors import Problem, not_found
from governance.core.identity import Identity
from governance.core.rows import typed
from governance.core.storage import ObjectMissing
from governance.vetting.checks import check_row
from governance.vetting.registry import touch
from governance.vetting.schemas import AuditTrail, DocumentView
from governance.vetting.service import Vetting
from governance.vetting.tables import CheckRow, Document, DocumentRow

log = structlog.get_logger("governance.vetting")

# Leading bytes of each accepted format (PDF 1.x/2.0, PNG, JPEG/JFIF/EXIF).
SIGNATURES: Final = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
# Evidence can be added while the check is still being assessed.
OPEN_STATES: Final = frozenset({"pending", "in_review"})


def sniff_media_type(content: bytes) -> str | None:
    """The media type the content really has, among those accepted; None otherwise."""
    for signature, media_type in SIGNATURES:
        if content.startswith(signature):
            return media_type
    return None


def object_key(mentor_id: uuid.UUID, sha256: str) -> str:
    return f"vetting/documents/{mentor_id}/{sha256}"


@dataclass(frozen=True, slots=True)
class Download:
    content: AsyncIterator[bytes]
    size: int
    media_type: str
    filename: str
    sha256: str


async def upload(
    vetting: Vetting,
    check_id: uuid.UUID,
    filename: str,
    content: bytes,
    actor: Identity,
    now: datetime,
) -> DocumentView:
    """Attach a document to a check. A refused upload (413, 415, 409) stores nothing."""
    if len(content) > vetting.max_document_bytes:
        raise Problem(
            413,
            "document-too-large",
            f"A document may be at most {vetting.max_document_bytes} bytes; this one has {len(content)}",
            max_bytes=vetting.max_document_bytes,
        )
    media_type = sniff_media_type(content)
    if media_type is None:
        raise Problem(
            415,
            "unsupported-document",
            "Only PDF, PNG and JPEG documents are accepted (judged by content, not by file name)",
            accepted=[media for _, media in SIGNATURES],
        )
    check = await check_row(check_id)
    _require_open(check)
    mentor_id = check.mentor
    sha256 = hashlib.sha256(content).hexdigest()
    existing = (
        await Document.select(Document.id)
        .where((Document.check == check_id) & (Document.sha256 == sha256))
        .output(as_list=True)
    )
    if existing:
        raise Problem(
            409, "duplicate-document", "This document is attached to the check already", document_id=str(existing[0])
        )
    cipher = await vetting.keyring.cipher(str(mentor_id), create=True)
    key = object_key(mentor_id, sha256)
    # Stored before the transaction: a failed commit leaves an unreferenced object under
    # its content address, which the next upload of the same bytes simply overwrites.
    await vetting.store.put(key, cipher.seal_segments(content, sha256.encode()), media_type="application/octet-stream")
    document_id = uuid.uuid4()
    async with db.transaction():
        # Again inside the transaction: the check may have been decided, or the same
        # document attached, while the file was being stored.
        _require_open(await check_row(check_id))
        if await Document.exists().where((Document.check == check_id) & (Document.sha256 == sha256)):
            raise Problem(409, "duplicate-document", "This document is attached to the check already")
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.document.uploaded",
            resource_type="document",
            resource_id=str(document_id),
            details={
                "check_id": str(check_id),
                "mentor_id": str(mentor_id),
                "sha256": sha256,
                "size": len(content),
                "media_type": media_type,
            },
        )
        await Document.insert(
            Document(
                id=document_id,
                check=check_id,
                mentor=mentor_id,
                object_key=key,
                sha256=sha256,
                size=len(content),
                media_type=media_type,
                filename=cipher.encrypt(filename or "document"),
                uploaded_by=actor.sub,
                uploaded_at=now,
                uploaded_entry_id=recorded.entry_id,
            )
        )
        await touch(mentor_id)
    return DocumentView(
        id=document_id,
        check_id=check_id,
        sha256=sha256,
        size=len(content),
        media_type=media_type,
        filename=filename or "document",
        uploaded_by=actor.sub,
        uploaded_at=now,
        audit=AuditTrail(recorded=None, recorded_entry_id=recorded.entry_id),
    )


def _require_open(check: CheckRow) -> None:
    if check.state not in OPEN_STATES:
        raise Problem(
            409, "check-closed", f"Evidence can be added to a pending or in_review check, not to a {check.state} one"
        )


async def document_owner(document_id: uuid.UUID) -> str | None:
    """The mentor (token subject) a document belongs to."""
    mentors = await Document.select(Document.mentor).where(Document.id == document_id).output(as_list=True)
    return str(mentors[0]) if mentors else None


async def download(vetting: Vetting, document_id: uuid.UUID, actor: Identity) -> Download:
    """The document as uploaded, streamed; the download is audited before the first byte.

    Each segment is authenticated as it is decrypted: one that was altered, moved or cut
    ends the stream and leaves a ``vetting.document.corrupted`` entry.
    """
    found = await Document.select().where(Document.id == document_id).first()
    if found is None:
        raise not_found("document", document_id)
    row = typed(found, DocumentRow)
    cipher = await vetting.keyring.cipher(str(row.mentor))
    details = {"mentor_id": str(row.mentor), "sha256": row.sha256}
    await audit.record_event(
        actor=actor,
        action="vetting.document.downloaded",
        resource_type="document",
        resource_id=str(document_id),
        details=details,
    )

    async def content() -> AsyncIterator[bytes]:
        try:
            async for plaintext in cipher.open_segments(vetting.store.stream(row.object_key), row.sha256.encode()):
                yield plaintext
        except (CiphertextInvalid, ObjectMissing) as exc:
            log.error("document_corrupted", document_id=str(document_id), error=str(exc))
            await audit.record_event(
                actor=actor,
                action="vetting.document.corrupted",
                resource_type="document",
                resource_id=str(document_id),
                outcome="failure",
                details={**details, "problem": type(exc).__name__},
            )
            raise

    return Download(
        content=content(),
        size=row.size,
        media_type=row.media_type,
        filename=cipher.decrypt(row.filename),
        sha256=row.sha256,
    )
