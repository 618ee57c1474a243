"""Notes on a complaint: staff's internal notes, their responses to the complainant, and
the complainant's own words.

A note can move the case: a staff response meets the first-response target, and the
complainant answering while the case awaits them restarts the clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from governance.audit import service as audit
from governance.complaints import states
from governance.complaints.config import Complaints
from governance.complaints.moves import RESOURCE, Move, changed, due_columns, locked, move
from governance.complaints.schemas import NoteCreate, NoteView
from governance.complaints.tables import Complaint, ComplaintNote
from governance.core import db
from governance.core.crypto import case_scope
from governance.core.identity import Identity
from governance.core.versioning import update_versioned


async def add_note(
    complaints: Complaints, complaint_id: uuid.UUID, *, actor: Identity, data: NoteCreate, now: datetime
) -> NoteView:
    """Add a note. A staff note ``to_complainant`` is a response (meets the first-response
    target); a note from the complainant while the case awaits them restarts the clock."""
    note_id = uuid.uuid4()
    async with db.transaction():
        row = await locked(complaint_id)
        body = await complaints.keyring.encrypt(row.complainant_id, data.body, scope=case_scope(RESOURCE, complaint_id))
        kinds = states.complaint_actor_kinds(actor, row.complainant_id)
        to_complainant = data.to_complainant and "staff" in kinds
        await ComplaintNote.insert(
            ComplaintNote(
                id=note_id,
                complaint_id=complaint_id,
                author=actor.sub,
                author_role=author_role(actor),
                to_complainant=to_complainant,
                body=body,
                created_at=now,
            )
        )
        await audit.record_change(
            actor=actor,
            action="complaint.note_added",
            resource_type=RESOURCE,
            resource_id=str(complaint_id),
            details={"note_id": str(note_id), "to_complainant": to_complainant},
        )
        if to_complainant and row.first_response_at is None and row.state in states.OPEN_COMPLAINT_STATES:
            changes: dict[str, Any] = {"first_response_at": now, "updated_at": now}
            changes.update(due_columns(complaints.policy, changed(row, changes)))
            await update_versioned(Complaint, complaint_id, row.version, changes)
        elif "complainant" in kinds and "staff" not in kinds and row.state == "awaiting_complainant":
            await move(row, Move("investigating", actor, now, reason="the complainant answered"), complaints.policy)
    return NoteView(
        id=note_id,
        author=actor.sub,
        author_role=author_role(actor),
        to_complainant=to_complainant,
        body=data.body,
        created_at=now,
    )


def author_role(actor: Identity) -> str:
    """The role a note's author (or a complaint's filer) acted in, as the record keeps it."""
    return actor.roles[0] if actor.roles else "unknown"
