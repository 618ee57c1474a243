"""Tables of the shared kernel."""

from piccolo.columns import Bytea, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class SubjectKey(Table, tablename="subject_key"):
    """A data key of a data subject, for one scope and generation, stored only wrapped by the master key.

    ``scope`` is empty for the subject's data that belongs to no case, or names a case
    (``refund:<id>``) whose text a legal hold can keep readable; ``generation`` counts the
    subject's lives here (an erased subject who comes back starts a new one). One key per
    (subject, scope, generation): a unique index made by the migration.

    Crypto-shredding empties ``wrapped_key``: every ciphertext under that key becomes
    unreadable while the audit log that references it keeps verifying. ``held_since`` marks
    a key an erasure kept because its case was under a legal hold; the retention sweep
    empties it once the hold ends.
    """

    subject = Varchar(length=200, index=True)
    scope = Varchar(length=200, default="")
    generation = Integer(default=1)
    wrapped_key = Bytea(null=True, default=None)
    master_key_id = Varchar(length=64)
    created_at = Timestamptz()
    shredded_at = Timestamptz(null=True, default=None)
    held_since = Timestamptz(null=True, default=None)


class IdempotencyKey(Table, tablename="idempotency_key"):
    """A claimed ``Idempotency-Key`` and the response it produced (see :mod:`governance.core.idempotency`).

    ``key_hash`` (SHA-256 of scope, actor and key) is the one unique column the claim
    conflicts on, so keys are scoped per operation and per caller. A response holding
    personal data is stored sealed under ``subject``'s key; ``record_id`` names the record
    a replay reads again once that key is shredded.
    """

    key_hash = Varchar(length=64, unique=True, index=True)
    scope = Varchar(length=100)
    actor = Varchar(length=200)
    idempotency_key = Varchar(length=200)
    fingerprint = Varchar(length=64)
    status_code = Integer(null=True, default=None)
    response_body = Text(null=True, default=None)
    created_at = Timestamptz()
    subject = Varchar(length=200, null=True, default=None)
    record_id = Varchar(length=200, null=True, default=None)
