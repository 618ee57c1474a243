"""Mentor vetting: the service object, and the rules a route or job calls.

:class:`Vetting` is what the rules need from the deployment. The rules live in rooms
named for their job, re-exported here so that callers name one service:
:mod:`~governance.vetting.registry` (mentors and their derived status),
:mod:`~governance.vetting.checks`, :mod:`~governance.vetting.decisions` (four eyes) and
:mod:`~governance.vetting.ratings`. Documents, the dossier, expiry and reports live
beside them. Every change runs in one transaction with its audit entry, and bumps the
mentor's ``version`` (the dossier's ETag and cache key).
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.core.crypto import Keyring
from governance.core.storage import ObjectStore
from governance.settings import Settings
from governance.vetting.checks import check_owner, check_row, record_check, transition_check
from governance.vetting.decisions import (
    close_decision,
    confirm_decision,
    decision_replays,
    decision_view,
    get_decision,
    list_decisions,
    propose_decision,
    refuse_out_of_turn,
    refuse_own_confirmation,
)
from governance.vetting.ratings import record_rating
from governance.vetting.registry import (
    DOSSIER_TOPIC,
    attestations_changed,
    check_facts,
    facts_by_mentor,
    gaps_of,
    get_mentor,
    list_mentors,
    mentor_row,
    mentor_view,
    next_lapses,
    refresh_status,
    register_mentor,
    requirements_of,
    specialties_of,
    touch,
    unknown_mentors,
)
from governance.vetting.requirements import FILE_NAME as REQUIREMENTS_FILE
from governance.vetting.requirements import Requirements
from governance.vetting.requirements import load as load_requirements

__all__ = [
    "DOSSIER_TOPIC",
    "Vetting",
    "attestations_changed",
    "check_facts",
    "check_owner",
    "check_row",
    "close_decision",
    "confirm_decision",
    "decision_replays",
    "decision_view",
    "facts_by_mentor",
    "gaps_of",
    "get_decision",
    "get_mentor",
    "list_decisions",
    "list_mentors",
    "mentor_row",
    "mentor_view",
    "next_lapses",
    "propose_decision",
    "record_check",
    "record_rating",
    "refresh_status",
    "refuse_out_of_turn",
    "refuse_own_confirmation",
    "register_mentor",
    "requirements_of",
    "specialties_of",
    "touch",
    "transition_check",
    "unknown_mentors",
]


@dataclass(frozen=True, slots=True)
class Vetting:
    """What the vetting rules need from the deployment: requirements, keys, object store."""

    requirements: Requirements
    keyring: Keyring
    store: ObjectStore
    max_document_bytes: int

    @classmethod
    def configure(cls, settings: Settings, keyring: Keyring, store: ObjectStore) -> Vetting:
        """Vetting as ``settings`` configure it (the requirements file is read and validated here)."""
        return cls(
            requirements=load_requirements(settings.effective_policy_dir / REQUIREMENTS_FILE),
            keyring=keyring,
            store=store,
            max_document_bytes=settings.max_document_bytes,
        )
