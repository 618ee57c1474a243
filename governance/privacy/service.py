"""Mentee privacy: what the deployment configures, and the notices' immutability.

Consent lives in :mod:`governance.privacy.consent`, data subject requests in
:mod:`governance.privacy.requests`, retention in :mod:`governance.privacy.retention`.
Every change runs in one transaction with its audit entry, whose details hold ids and
references only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from governance.audit import service as audit
from governance.core import db
from governance.core.cache import FreshCache, TopicCache
from governance.core.crypto import Keyring
from governance.core.identity import SYSTEM
from governance.core.rows import Row, typed_all
from governance.core.storage import ObjectStore
from governance.core.subjects import SubjectRegistry
from governance.privacy.exports import ExportDocument
from governance.privacy.policy import (
    PRIVACY_FILE,
    RETENTION_FILE,
    PolicyError,
    PrivacyPolicy,
    RetentionCategory,
    load_privacy,
    load_retention,
)
from governance.privacy.schemas import Notices, NoticeView, PurposeView, RetentionCategoryView
from governance.privacy.tables import NoticeVersion
from governance.settings import Settings


def _new_consent_cache() -> FreshCache[Any]:
    from governance.privacy.consent import consent_cache  # consent builds on this module

    return consent_cache()


def _new_summary_cache() -> TopicCache[Any]:
    from governance.privacy.summary import summary_cache  # the summary builds on this module

    return summary_cache()


@dataclass(frozen=True, slots=True)
class Privacy:
    """The privacy policy and retention schedule, keys, object store, and every module's subjects."""

    policy: PrivacyPolicy
    retention: dict[str, RetentionCategory]
    keyring: Keyring
    store: ObjectStore
    subjects: SubjectRegistry
    # Builds the access export from every module's records (governance.wiring knows their types).
    export_document: ExportDocument
    sweep_batch: int = 200
    # The permission check's per-process cache (see privacy.consent).
    consent_cache: FreshCache[Any] = field(default_factory=_new_consent_cache)
    # Period summaries, per process (kept while nothing they count changed; see privacy.summary).
    summaries: TopicCache[Any] = field(default_factory=_new_summary_cache)

    @classmethod
    def configure(
        cls,
        settings: Settings,
        keyring: Keyring,
        store: ObjectStore,
        subjects: SubjectRegistry,
        export_document: ExportDocument,
    ) -> Privacy:
        """Privacy as ``settings`` configure it (both policy files are read and validated here)."""

        policy_dir = settings.effective_policy_dir
        return cls(
            policy=load_privacy(policy_dir / PRIVACY_FILE),
            retention=load_retention(policy_dir / RETENTION_FILE),
            keyring=keyring,
            store=store,
            subjects=subjects,
            export_document=export_document,
            sweep_batch=settings.retention_sweep_batch,
        )


def notices(privacy: Privacy) -> Notices:
    """Every purpose with all its published notice versions, and the retention schedule."""
    purposes = [
        PurposeView(
            name=p.name,
            title=p.title,
            lawful_basis=p.lawful_basis,
            consent_model=p.default,
            default=p.default_state,
            sharing=p.sharing,
            validity=p.validity.isoformat(),
            current_notice_version=p.current_notice.version,
            notices=[
                NoticeView(
                    version=n.version,
                    published=n.published,
                    text=n.text,
                    sha256={language: n.digest(language) for language in n.text},
                )
                for n in p.notices
            ],
        )
        for p in privacy.policy.purposes.values()
    ]
    retention = [
        RetentionCategoryView(
            name=c.name,
            period=c.period.isoformat(),
            starts_from=c.starts_from,
            mentee_may_shorten=c.mentee_may_shorten,
            description=c.description,
        )
        for c in privacy.retention.values()
    ]
    return Notices(
        controller=privacy.policy.controller,
        policy_url=privacy.policy.policy_url,
        purposes=purposes,
        retention=retention,
    )


class _Published(Row):
    """A notice version as first seen: ``purpose:version:language`` and its text's SHA-256."""

    key: str
    sha256: str


async def register_notices(privacy: Privacy, now: datetime) -> int:
    """Remember the hash of every notice version on first sight; refuse a changed published text.

    Called at start-up: a notice a mentee may have been shown is evidence, so its text
    can never change under the same version. Returns how many versions were new.
    """
    wanted: dict[str, tuple[str, int, str, str]] = {}
    for purpose in privacy.policy.purposes.values():
        for notice in purpose.notices:
            for language in notice.text:
                key = f"{purpose.name}:{notice.version}:{language}"
                wanted[key] = (purpose.name, notice.version, language, notice.digest(language))
    async with db.transaction():
        # Instances starting together: one registers, the others then see its rows.
        await db.take_turns("privacy_notice_version")
        published = await NoticeVersion.select(NoticeVersion.key, NoticeVersion.sha256)
        seen = {notice.key: notice.sha256 for notice in typed_all(published, _Published)}
        changed = sorted(key for key, (*_, digest) in wanted.items() if key in seen and seen[key] != digest)
        if changed:
            raise PolicyError(
                f"{PRIVACY_FILE}: the text of published notice version(s) {', '.join(changed)} changed; "
                "publish the new text as a new version instead"
            )
        new = [
            NoticeVersion(key=key, purpose=p, version=v, language=lang, sha256=digest, first_seen_at=now)
            for key, (p, v, lang, digest) in wanted.items()
            if key not in seen
        ]
        if new:
            await NoticeVersion.insert(*new)
            await audit.record_change(
                actor=SYSTEM,
                action="privacy.notice.published",
                resource_type="notice",
                resource_id=PRIVACY_FILE,
                details={"versions": {n.key: n.sha256 for n in new}},
            )
    return len(new)


def jsonable(value: Any) -> Any:
    """Datetimes and UUIDs as text, for JSON documents stored or exported."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
