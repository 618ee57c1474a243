"""The subject providers of every module, in one registry (privacy's view of the whole service).

Add a module here when it starts holding personal data: access exports, erasure and
retention then cover it.
"""

from __future__ import annotations

from governance.complaints.subjects import ComplaintSubjects
from governance.core.crypto import Keyring
from governance.core.storage import ObjectStore
from governance.core.subjects import SubjectRegistry
from governance.privacy.subjects import PrivacySubjects
from governance.vetting.subjects import VettingSubjects


def registry(keyring: Keyring, store: ObjectStore) -> SubjectRegistry:
    """Every module's :class:`~governance.core.subjects.SubjectProvider`."""
    return SubjectRegistry([PrivacySubjects(keyring, store), VettingSubjects(keyring), ComplaintSubjects(keyring)])
