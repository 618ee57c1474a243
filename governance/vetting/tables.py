"""Vetting tables. Personal fields hold ciphertext under the mentor's own data key.

Foreign keys restrict deletion: vetting history is evidence and never disappears with
the mentor it describes.

Each row that states a fact keeps the id of the audit entry that recorded it
(``*_entry_id``, the id it was queued under: the change commits without waiting for the
sequencer), so every line of a dossier points at its entry in the verifiable log; its
sequence number is looked up when read (``audit.entry_sequences``). Rows recorded before
the queue hold the sequence number given at once instead (``*_seq``, null since).

Beside each table, its row as the services read it (a :class:`~governance.core.rows.Row`):
the columns they read, typed, so that mypy checks every use.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from piccolo.columns import (
    UUID,
    BigInt,
    ForeignKey,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from governance.core.rows import Row
from governance.vetting.states import CheckState, DecisionAction, DecisionState, MentorStatus, Standing


class Mentor(Table, tablename="vetting_mentor"):
    """A mentor as registered by the platform. ``id`` is also the sub of the mentor's token."""

    id = UUID(primary_key=True)
    external_id = Varchar(length=200, unique=True, index=True)
    display_name = Text()  # ciphertext
    email = Text()  # ciphertext
    jurisdiction = Varchar(length=2, index=True)
    specialties = Text()  # JSON array of text
    engagement_type = Varchar(length=20)
    # The last confirmed decision's effect; status is derived from it and the checks.
    standing = Varchar(length=20, default="onboarding")
    status = Varchar(length=20, default="onboarding", index=True)
    status_since = Timestamptz()
    registered_at = Timestamptz()
    registered_by = Varchar(length=200)
    first_approved_at = Timestamptz(null=True, default=None)
    # Bumped by every change to the mentor or anything in their dossier (ETag, caching).
    version = BigInt(default=1)
    registered_seq = BigInt(null=True, default=None)
    registered_entry_id = BigInt(null=True, default=None)


class MentorProfile(Row):
    """What a mentor's requirements and status turn on: who they are, where, and how engaged."""

    id: uuid.UUID
    status: MentorStatus
    jurisdiction: str
    engagement_type: str


class MentorRow(MentorProfile):
    """A ``vetting_mentor`` row (see :class:`Mentor`)."""

    external_id: str
    display_name: str  # ciphertext
    email: str  # ciphertext
    specialties: str  # ciphertext, or a JSON array written in clear before specialties were sealed
    standing: Standing
    status_since: datetime
    registered_at: datetime
    registered_by: str
    first_approved_at: datetime | None
    version: int


class Check(Table, tablename="vetting_check"):
    """One vetting check of one mentor (a renewal is a new check)."""

    id = UUID(primary_key=True)
    mentor = ForeignKey(references=Mentor, index=True, on_delete=OnDelete.restrict)
    check_type = Varchar(length=60)
    state = Varchar(length=20, index=True)
    requirements_version = Varchar(length=40)
    details = Text()  # ciphertext of a JSON object (certificate numbers are personal)
    notes = Text(null=True, default=None)  # ciphertext; internal, never shown to the mentor
    justification = Text(null=True, default=None)  # ciphertext; why a waiver was asked for
    recorded_by = Varchar(length=200)
    recorded_at = Timestamptz()
    reviewed_by = Varchar(length=200, null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    # A waiver needs a second officer: who asked for it, until someone else grants it.
    waiver_requested_by = Varchar(length=200, null=True, default=None)
    valid_from = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None, index=True)
    # Reminder marks (days before expiry) already announced, as a JSON array.
    reminders_sent = Text(default="[]")
    state_since = Timestamptz()
    recorded_seq = BigInt(null=True, default=None)
    last_seq = BigInt(null=True, default=None)
    recorded_entry_id = BigInt(null=True, default=None)
    last_entry_id = BigInt(null=True, default=None)
    # Bumped by every change of the check (its ETag); checks recorded before it existed
    # started from their latest entry's sequence number, the ETag they were served with.
    version = BigInt(default=1)


class CheckRow(Row):
    """A ``vetting_check`` row (see :class:`Check`)."""

    id: uuid.UUID
    mentor: uuid.UUID
    check_type: str
    state: CheckState
    requirements_version: str
    details: str  # ciphertext of a JSON object
    notes: str | None  # ciphertext
    justification: str | None  # ciphertext
    recorded_by: str
    recorded_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    waiver_requested_by: str | None
    valid_from: datetime | None
    expires_at: datetime | None
    reminders_sent: str  # JSON array of days before expiry
    state_since: datetime
    recorded_seq: int | None
    last_seq: int | None
    recorded_entry_id: int | None
    last_entry_id: int | None
    version: int


class Document(Table, tablename="vetting_document"):
    """Evidence for a check: stored encrypted under a content-addressed key."""

    id = UUID(primary_key=True)
    check = ForeignKey(references=Check, index=True, on_delete=OnDelete.restrict)
    mentor = ForeignKey(references=Mentor, index=True, on_delete=OnDelete.restrict)
    object_key = Varchar(length=300)
    sha256 = Varchar(length=64, index=True)
    size = BigInt()
    media_type = Varchar(length=40)
    filename = Text()  # ciphertext: file names often carry a person's name
    uploaded_by = Varchar(length=200)
    uploaded_at = Timestamptz()
    uploaded_seq = BigInt(null=True, default=None)
    uploaded_entry_id = BigInt(null=True, default=None)


class DocumentRow(Row):
    """A ``vetting_document`` row (see :class:`Document`)."""

    id: uuid.UUID
    check: uuid.UUID
    mentor: uuid.UUID
    object_key: str
    sha256: str
    size: int
    media_type: str
    filename: str  # ciphertext
    uploaded_by: str
    uploaded_at: datetime
    uploaded_seq: int | None
    uploaded_entry_id: int | None


class Decision(Table, tablename="vetting_decision"):
    """A proposed decision about a mentor; effective once a second officer confirms it.

    A second officer may instead reject it (``closing_reasons``, ciphertext under the
    mentor), or its proposer withdraw it: ``closed_*`` say who, when and under which entry.
    """

    id = UUID(primary_key=True)
    mentor = ForeignKey(references=Mentor, index=True, on_delete=OnDelete.restrict)
    action = Varchar(length=20)
    rationale = Text()  # ciphertext
    state = Varchar(length=20, index=True)  # proposed, confirmed, rejected, withdrawn, superseded
    requirements_version = Varchar(length=40)
    proposed_by = Varchar(length=200)
    proposed_at = Timestamptz()
    proposed_seq = BigInt(null=True, default=None)
    proposed_entry_id = BigInt(null=True, default=None)
    confirmed_by = Varchar(length=200, null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    confirmed_seq = BigInt(null=True, default=None)
    closed_by = Varchar(length=200, null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    closed_seq = BigInt(null=True, default=None)
    closing_reasons = Text(null=True, default=None)
    confirmed_entry_id = BigInt(null=True, default=None)
    closed_entry_id = BigInt(null=True, default=None)


class DecisionRow(Row):
    """A ``vetting_decision`` row (see :class:`Decision`)."""

    id: uuid.UUID
    mentor: uuid.UUID
    action: DecisionAction
    rationale: str  # ciphertext
    state: DecisionState
    requirements_version: str
    proposed_by: str
    proposed_at: datetime
    proposed_seq: int | None
    proposed_entry_id: int | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    confirmed_seq: int | None
    closed_by: str | None
    closed_at: datetime | None
    closed_seq: int | None
    closing_reasons: str | None  # ciphertext
    confirmed_entry_id: int | None
    closed_entry_id: int | None


class Rating(Table, tablename="vetting_rating"):
    """One session rating as reported by the platform (one per session)."""

    id = UUID(primary_key=True)
    mentor = ForeignKey(references=Mentor, index=True, on_delete=OnDelete.restrict)
    session_id = Varchar(length=200, unique=True)
    mentee_id = Varchar(length=200)
    score = SmallInt()
    session_at = Timestamptz()
    recorded_at = Timestamptz()
    recorded_seq = BigInt(null=True, default=None)
    recorded_entry_id = BigInt(null=True, default=None)


class RatingRow(Row):
    """A ``vetting_rating`` row (see :class:`Rating`), without the rater's id."""

    id: uuid.UUID
    mentor: uuid.UUID
    session_id: str
    score: int
    session_at: datetime
    recorded_at: datetime
