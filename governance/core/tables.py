"""Tables of the shared kernel."""

from piccolo.columns import Bytea, Timestamptz, Varchar
from piccolo.table import Table


class SubjectKey(Table, tablename="subject_key"):
    """One data key per data subject, stored only wrapped by the master key.

    Crypto-shredding empties ``wrapped_key``: every ciphertext of that subject becomes
    unreadable while the audit log that references it keeps verifying.
    """

    subject = Varchar(length=200, unique=True, index=True)
    wrapped_key = Bytea(null=True, default=None)
    master_key_id = Varchar(length=64)
    created_at = Timestamptz()
    shredded_at = Timestamptz(null=True, default=None)
