"""Tables of the pages' shell: signed-in sessions and one-time sign-in links.

Neither table holds a secret: the cookie's and the link's secrets are known only to the
browser that holds them; the service keeps their SHA-256, enough to recognise them and
useless to anyone who reads the database.
"""

from __future__ import annotations

from piccolo.columns import UUID, Timestamptz, Varchar
from piccolo.table import Table


class WebSession(Table, tablename="web_session"):
    """A signed-in browser: who (``subject``, ``roles``), how (``kind``: ``staff`` or
    ``portal``), until when, and whether it was signed out (``revoked_at``).

    A portal session (a mentee sent by the platform) keeps the ``return_url`` its "back"
    link leads to. Expired and revoked rows are deleted by the session sweep.
    """

    id = UUID(primary_key=True)
    secret_sha256 = Varchar(length=64, unique=True, index=True)
    subject = Varchar(length=200)
    roles = Varchar(length=200)  # comma-separated, from the identity's known roles
    kind = Varchar(length=10)
    return_url = Varchar(length=2000, null=True, default=None)
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)
    revoked_at = Timestamptz(null=True, default=None)


class SignInLink(Table, tablename="web_sign_in_link"):
    """A single-use link that opens a session: printed by ``governance token link`` for staff,
    or issued to the platform for one mentee (a portal link, with its ``return_url``).

    ``used_at`` is set by the one redemption that succeeds; used and expired rows are
    deleted by the session sweep.
    """

    id = UUID(primary_key=True)
    secret_sha256 = Varchar(length=64, unique=True, index=True)
    subject = Varchar(length=200)
    roles = Varchar(length=200)
    kind = Varchar(length=10)
    return_url = Varchar(length=2000, null=True, default=None)
    issued_by = Varchar(length=200)
    created_at = Timestamptz()
    expires_at = Timestamptz(index=True)
    used_at = Timestamptz(null=True, default=None)
