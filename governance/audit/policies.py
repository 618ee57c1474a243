"""Which version of each policy file the service ran on, and since when.

The rules a decision was taken under are evidence like the decision itself: an
accreditor reading a bundle must see the vetting requirements, SLA, privacy and
retention policies in force during its period, byte for byte. Every process that runs
on the policy files records the bytes it loaded (:func:`record_in_force`, at start-up
and before a bundle is gathered); a file whose bytes differ from the version last
recorded becomes a new version, in force from then on, with an audit entry binding its
SHA-256 into the log.
"""

from __future__ import annotations

import hashlib
import tomllib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import msgspec

from governance.audit.service import record_change
from governance.audit.tables import PolicyVersion
from governance.core import db
from governance.core.identity import SYSTEM
from governance.core.rows import Row, typed_all

# The policy files whose rules decisions are taken under (the access policy is not one:
# it decides who may reach a route, and every denial is in the log already).
POLICY_FILES: Final = ("vetting-requirements.toml", "sla.toml", "privacy.toml", "retention.toml")


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A policy file's exact bytes, as a process read them."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def label(self) -> str | None:
        """The file's own top-level ``version``, when it declares one."""
        try:
            value = tomllib.loads(self.data.decode("utf-8")).get("version")
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        return None if value is None or isinstance(value, dict | list) else str(value)[:100]


def read_policies(policy_dir: Path) -> list[LoadedPolicy]:
    """The bytes of every policy file present in ``policy_dir`` (read once, at configuration)."""
    return [
        LoadedPolicy(name, (policy_dir / name).read_bytes()) for name in POLICY_FILES if (policy_dir / name).exists()
    ]


async def record_in_force(policies: list[LoadedPolicy], now: datetime) -> list[str]:
    """Record each policy whose bytes differ from its version last in force; the names recorded.

    Each new version and its ``policy.version_in_force`` entry commit together. Processes
    starting at once take turns (a transaction lock), so a version is recorded once.
    """
    changed: list[str] = []
    async with db.transaction():
        await db.take_turns("audit_policy_version")
        last = await _latest_digests()
        for policy in policies:
            if last.get(policy.name) == policy.sha256:
                continue
            entry = await record_change(
                actor=SYSTEM,
                action="policy.version_in_force",
                resource_type="policy",
                resource_id=policy.name,
                details={"sha256": policy.sha256, "size": len(policy.data), "label": policy.label},
            )
            await PolicyVersion.insert(
                PolicyVersion(
                    id=uuid.uuid4(),
                    name=policy.name,
                    label=policy.label,
                    sha256=policy.sha256,
                    size=len(policy.data),
                    text=policy.data.decode("utf-8"),
                    in_force_from=now,
                    recorded_entry_id=entry.entry_id,
                )
            )
            changed.append(policy.name)
    return changed


class _Digest(Row):
    name: str
    sha256: str


async def _latest_digests() -> dict[str, str]:
    rows = await PolicyVersion.select(PolicyVersion.name, PolicyVersion.sha256, PolicyVersion.in_force_from).order_by(
        PolicyVersion.in_force_from
    )
    return {row.name: row.sha256 for row in typed_all(rows, _Digest)}


class VersionInForce(Row):
    """A policy version (see :class:`PolicyVersion`) and until when it was in force: the next
    version's start, or None while it is current."""

    name: str
    label: str | None
    sha256: str
    size: int
    text: str
    in_force_from: datetime
    in_force_until: datetime | None = None


async def in_force(start: datetime, end: datetime) -> list[VersionInForce]:
    """Every policy version in force at some time in ``[start, end)``, by file then time.

    A version that came into force before ``start`` counts when it was still in force then.
    """
    rows = await PolicyVersion.select().order_by(PolicyVersion.name).order_by(PolicyVersion.in_force_from)
    grouped: dict[str, list[VersionInForce]] = {}
    for row in typed_all(rows, VersionInForce):
        grouped.setdefault(row.name, []).append(row)
    found: list[VersionInForce] = []
    for versions in grouped.values():
        for index, row in enumerate(versions):
            until = versions[index + 1].in_force_from if index + 1 < len(versions) else None
            if row.in_force_from < end and (until is None or until > start):
                found.append(msgspec.structs.replace(row, in_force_until=until))
    return found
