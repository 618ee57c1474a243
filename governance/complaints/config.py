"""What the complaint, refund and dispute rules need from the deployment, configured once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from governance.complaints.policy import SlaPolicy, load
from governance.core.cache import TopicCache
from governance.core.crypto import Keyring
from governance.settings import Settings


def _new_summary_cache() -> TopicCache[Any]:
    from governance.complaints.summary import summary_cache  # the summary builds on the services

    return summary_cache()


@dataclass(frozen=True, slots=True)
class Complaints:
    """The SLA and escalation policy (``sla.toml``), the keys that seal personal fields,
    and the refund amount from which a second officer must approve."""

    policy: SlaPolicy
    keyring: Keyring
    refund_four_eyes_threshold_minor: int
    # Period summaries, per process (kept while nothing they count changed; see complaints.summary).
    summaries: TopicCache[Any] = field(default_factory=_new_summary_cache)

    @classmethod
    def configure(cls, settings: Settings, keyring: Keyring) -> Complaints:
        """Complaints as ``settings`` configure them (``sla.toml`` is read and validated here)."""
        return cls(
            policy=load_policy(settings),
            keyring=keyring,
            refund_four_eyes_threshold_minor=settings.refund_four_eyes_threshold_minor,
        )


def load_policy(settings: Settings) -> SlaPolicy:
    """``sla.toml`` from the policy directory, with the appeal window from settings."""
    return load(settings.effective_policy_dir / "sla.toml", complaint_appeal_window=settings.complaint_appeal_window)
