"""Application wiring: what connects the domains, kept outside every one of them.

The domains do not import each other's services to react to one another; each declares
a hook or a provider protocol, and this module plugs them together for the app and the
CLI. Add a module's subject provider here when it starts holding personal data (access
exports, erasure and retention then cover it).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from importlib import resources
from typing import Annotated, Any, TypeVar

import msgspec

from governance.audit import service as audit
from governance.audit.schemas import AuditEntryView
from governance.complaints import attestations
from governance.complaints.exports import ComplaintsExport
from governance.complaints.subjects import ComplaintSubjects
from governance.core.crypto import Keyring
from governance.core.idempotency import StoredResponse
from governance.core.identity import Identity
from governance.core.shapes import Document
from governance.core.storage import ObjectStore
from governance.core.subjects import ExportRecord, Instant, SubjectData, SubjectRegistry
from governance.credentials import service as credentials
from governance.privacy import exports
from governance.privacy.subjects import PrivacySubjects
from governance.vetting import dossier
from governance.vetting import service as vetting
from governance.vetting.exports import VettingExport
from governance.vetting.subjects import VettingSubjects


def subject_registry(keyring: Keyring, store: ObjectStore) -> SubjectRegistry:
    """Every module's :class:`~governance.core.subjects.SubjectProvider`."""
    return SubjectRegistry([PrivacySubjects(keyring, store), VettingSubjects(keyring), ComplaintSubjects(keyring)])


async def record_denial(actor: Identity, method: str, route: str, details: dict[str, Any]) -> None:
    """The authorizer's denial callback: a denial is evidence, written to the audit log."""
    await audit.record_event(
        actor=actor,
        action="access.denied",
        resource_type="route",
        resource_id=f"{method} {route}",
        outcome="denied",
        details=details,
    )


def connect_domains() -> None:
    """Plug each domain's reactions into the hooks of the others (idempotent).

    A changed attestation moves its mentors' dossiers (their attestation quality) and its
    credential, and a dossier reads that quality from complaints.
    """
    attestations.on_attestations_changed(vetting.attestations_changed)
    dossier.read_attestation_quality_with(attestations.quality)
    # Each recorded or changed attestation issues or flips its credential, in the same transaction.
    attestations.on_attestation_event(credentials.attestation_changed)


# The access export document names every module's record types: it is put together here.


class ExportModules(ExportRecord):
    """Each module's records about the subject."""

    privacy: exports.PrivacyExport
    vetting: VettingExport
    complaints: ComplaintsExport
    core: exports.CoreExport


class SubjectExport(Document):
    """Everything this service holds about one data subject (GDPR Art. 15 and 20).

    Personal fields are decrypted (null once unreadable); times are RFC 3339 in UTC; lists
    and objects are JSON lists and objects."""

    schema: Annotated[str, msgspec.Meta(description="The `$id` of this document's JSON Schema.")] = msgspec.field(
        name="$schema"
    )
    format: str
    mentee_id: Annotated[str, msgspec.Meta(description="The data subject (the `sub` of their token).")]
    request_id: uuid.UUID
    generated_at: Instant
    modules: ExportModules
    audit_entries: Annotated[
        list[AuditEntryView],
        msgspec.Meta(description="The audit entries about the subject or their records, or by them, in log order."),
    ]


T = TypeVar("T", bound=ExportRecord)


def part(parts: list[SubjectData], module: str, kind: type[T]) -> T:
    """``module``'s records among ``parts``, as the type the document declares for them."""
    for found in parts:
        if found.module == module:
            if not isinstance(found.data, kind):
                raise TypeError(f"module {module!r} exported {type(found.data).__name__}, not {kind.__name__}")
            return found.data
    raise LookupError(f"no subject provider exported module {module!r}")


def schema() -> dict[str, Any]:
    """The export's JSON Schema (draft 2020-12), generated from the Structs above."""
    generated = msgspec.json.schema(SubjectExport)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": exports.SCHEMA_ID,
        "title": "Access export of one data subject",
        "description": (
            "Everything the governance service holds about one data subject, written when an access or "
            "portability request is completed. One property per module under `modules`; personal fields "
            "decrypted (null once unreadable); staff-internal items marked `internal`; times RFC 3339."
        ),
        **generated,
    }


def schema_text() -> str:
    """The schema as committed in the repository and shipped with the package (stable formatting)."""
    return json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def published_schema() -> str:
    """The committed schema file, as shipped with the package."""
    return resources.files("governance.privacy").joinpath(exports.SCHEMA_FILE).read_text(encoding="utf-8")


def export_document(
    *,
    mentee_id: str,
    request_id: uuid.UUID,
    generated_at: datetime,
    parts: list[SubjectData],
    stored_responses: list[StoredResponse],
    audit_entries: list[AuditEntryView],
) -> SubjectExport:
    """The access export document (:class:`governance.privacy.exports.ExportDocument`)."""
    return SubjectExport(
        schema=exports.SCHEMA_ID,
        format=exports.EXPORT_FORMAT,
        mentee_id=mentee_id,
        request_id=request_id,
        generated_at=generated_at,
        modules=ExportModules(
            privacy=part(parts, "privacy", exports.PrivacyExport),
            vetting=part(parts, "vetting", VettingExport),
            complaints=part(parts, "complaints", ComplaintsExport),
            core=exports.CoreExport(stored_responses=stored_responses),
        ),
        audit_entries=audit_entries,
    )
