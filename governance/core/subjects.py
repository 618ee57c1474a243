"""Data subjects across modules: what each module holds about a person, and how it lets go.

A data subject is anyone whose data this service holds: a mentee, a mentor. Their id is
the ``sub`` of their token. Access requests, erasure and retention must cover every
module, while domain packages never read each other's tables; so each module that holds
personal data implements :class:`SubjectProvider` (in its own ``subjects.py``) and the
privacy service iterates a :class:`SubjectRegistry` of them.

- ``export``: everything the module holds about the subject, personal fields decrypted
  while they are readable, as typed records (an :class:`ExportRecord` per module, so the
  export's JSON Schema is generated from them and cannot drift), and the ids of those
  records (their audit entries join the export).
- ``holds``: open cases that block deleting the subject's data (legal holds). What a
  module writes about such a case is sealed under the case's own key
  (:func:`~governance.core.crypto.case_scope` of the hold's record type and id), so an
  erasure keeps exactly that key readable until the hold ends.
- ``on_erasure``: called inside the erasure transaction, after the subject's keys were
  shredded (but those of held cases); the module marks what it keeps and says why.
- retention: the data categories the module holds (``policies/retention.toml``), the
  records of a category whose retention clock started before a cutoff, and their
  disposal (deletion or anonymisation), called in the sweep's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Protocol

import msgspec

from governance.core.crypto import case_scope
from governance.core.shapes import Document


@dataclass(frozen=True, slots=True)
class Hold:
    """An open case about a subject that blocks deleting their data.

    ``until`` is when the hold ends if that is known in advance; None means when the case
    closes. ``scope`` names the key its personal text is sealed under.
    """

    module: str
    record_type: str
    record_id: str
    reason: str
    until: datetime | None = None

    @property
    def scope(self) -> str:
        return case_scope(self.record_type, self.record_id)


@dataclass(frozen=True, slots=True)
class Kept:
    """Records a module keeps after an erasure, and the legal reason."""

    module: str
    record_type: str
    count: int
    reason: str


@dataclass(frozen=True, slots=True)
class Erased:
    """Personal data a module made unreadable or deleted in an erasure."""

    module: str
    record_type: str
    count: int
    how: str


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    erased: list[Erased] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


# An instant in an export: RFC 3339 with its offset (always UTC here), documented as such in the schema.
Instant = Annotated[datetime, msgspec.Meta(tz=True, extra_json_schema={"format": "date-time"})]


class ExportRecord(Document):
    """Base of the typed records of an access export: every field a JSON value of its own
    type (lists and objects nested, never JSON inside a string; times as RFC 3339)."""


@dataclass(frozen=True, slots=True)
class SubjectData:
    """One module's part of an access export."""

    module: str
    data: ExportRecord
    # Ids of the records exported: the audit entries about them join the export.
    resource_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RetentionRecord:
    """One record of a retention category; its retention period runs from ``since``."""

    module: str
    category: str
    record_type: str
    record_id: str
    subject: str
    since: datetime


class SubjectProvider(Protocol):
    """What a module tells the privacy service about the data subjects it holds data of."""

    @property
    def module(self) -> str: ...

    @property
    def retention_categories(self) -> Sequence[str]: ...

    async def export(self, subject: str) -> SubjectData: ...

    async def holds(self, subject: str) -> list[Hold]: ...

    async def on_erasure(self, subject: str, now: datetime) -> ErasureOutcome: ...

    async def retention_records(self, category: str, since_before: datetime, limit: int) -> list[RetentionRecord]:
        """Records of ``category`` whose retention clock started before ``since_before``, oldest first."""
        ...

    async def dispose(self, records: Sequence[RetentionRecord], now: datetime) -> int:
        """Delete or anonymise ``records`` (in the caller's transaction); returns how many."""
        ...


class SubjectRegistry:
    """The providers of every module, in a stable order."""

    def __init__(self, providers: Iterable[SubjectProvider] = ()) -> None:
        self._providers: list[SubjectProvider] = []
        for provider in providers:
            self.register(provider)

    def register(self, provider: SubjectProvider) -> None:
        if any(existing.module == provider.module for existing in self._providers):
            raise ValueError(f"a subject provider for module {provider.module!r} is already registered")
        self._providers.append(provider)

    @property
    def providers(self) -> list[SubjectProvider]:
        return list(self._providers)

    def for_category(self, category: str) -> list[SubjectProvider]:
        return [p for p in self._providers if category in p.retention_categories]

    async def export(self, subject: str) -> list[SubjectData]:
        return [await provider.export(subject) for provider in self._providers]

    async def holds(self, subject: str) -> list[Hold]:
        found: list[Hold] = []
        for provider in self._providers:
            found.extend(await provider.holds(subject))
        return found

    async def on_erasure(self, subject: str, now: datetime) -> ErasureOutcome:
        erased: list[Erased] = []
        kept: list[Kept] = []
        for provider in self._providers:
            outcome = await provider.on_erasure(subject, now)
            erased.extend(outcome.erased)
            kept.extend(outcome.kept)
        return ErasureOutcome(erased=erased, kept=kept)
