"""Application wiring: what connects the domains, kept outside every one of them.

The domains do not import each other's services to react to one another; each declares
a hook or a provider protocol, and this module plugs them together for the app and the
CLI. Add a module's subject provider here when it starts holding personal data (access
exports, erasure and retention then cover it).
"""

from __future__ import annotations

from typing import Any

from governance.audit import service as audit
from governance.complaints import attestations
from governance.complaints.subjects import ComplaintSubjects
from governance.core.crypto import Keyring
from governance.core.identity import Identity
from governance.core.storage import ObjectStore
from governance.core.subjects import SubjectRegistry
from governance.privacy.subjects import PrivacySubjects
from governance.vetting import service as vetting
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

    A changed attestation moves its mentors' dossiers (their attestation quality).
    """
    attestations.on_attestations_changed(vetting.attestations_changed)
