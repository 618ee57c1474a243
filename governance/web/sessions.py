"""Server-side sessions and one-time sign-in links: open, find, sign out, issue, redeem, purge.

A session is a random secret in an HttpOnly cookie; the database keeps only its SHA-256,
with who it signs in (subject and roles), its kind (``staff``: signed in with a bearer
token or a link; ``portal``: a mentee sent by the platform, scoped to that one mentee),
and when it expires or was signed out. A sign-in link is the same kind of secret in a URL,
good for one redemption within minutes.

Sign-ins, sign-outs and link issues are changes: each writes its audit entry in the
transaction that changes the sessions or links table. A failed sign-in changes nothing
and is recorded on its own. No entry holds a secret or its hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from governance.audit import service as audit
from governance.core import db
from governance.core.cache import FreshCache, Loaded, announce
from governance.core.errors import field_error
from governance.core.identity import ROLES, SYSTEM, Identity, valid_subject
from governance.core.rows import Row, typed
from governance.web.config import Web
from governance.web.tables import SignInLink, WebSession

Kind = Literal["staff", "portal"]
STAFF: Final = "staff"
PORTAL: Final = "portal"
# Who failed to sign in is, by definition, not known.
ANONYMOUS: Final = Identity(sub="anonymous", roles=())
# 32 random bytes, base64url: what the cookie and the link carry, and nothing else looks like.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def well_formed(secret: str | None) -> bool:
    """Whether ``secret`` could be one of ours (anything else is not looked up)."""
    return secret is not None and _SECRET.match(secret) is not None


def digest(secret: str) -> str:
    """What the database keeps of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser, as the request that presented its cookie sees it."""

    id: uuid.UUID
    identity: Identity
    kind: Kind
    expires_at: datetime
    return_url: str | None
    # The cookie's secret, held for this request only: CSRF tokens are derived from it.
    secret: str

    @property
    def is_portal(self) -> bool:
        return self.kind == PORTAL


class _Grant(Row):
    """What a session row and a link row both say: whom they sign in, how, until when."""

    id: uuid.UUID
    subject: str
    roles: str
    kind: Kind
    return_url: str | None
    expires_at: datetime


class _SessionRow(_Grant):
    revoked_at: datetime | None


_FIND: Final = (
    "SELECT id, subject, roles, kind, return_url, expires_at, revoked_at FROM web_session WHERE secret_sha256 = {}"
)
# The sessions' topic in the per-process caches (governance.core.cache), keyed by the secret's digest.
TOPIC: Final = "web-session"
_STANDING: Final = "SELECT revoked_at IS NOT NULL AS revoked FROM web_session WHERE secret_sha256 = {}"
# Absent, live, signed out: a session row moves only forward through these.
_ABSENT, _LIVE, _REVOKED = -1, 0, 1


async def _standing(key: str) -> int:
    found = await db.fetch_row(_STANDING, key)
    if found is None:
        return _ABSENT
    return _REVOKED if found["revoked"] else _LIVE


def session_cache(capacity: int = 4096) -> FreshCache[_SessionRow | None]:
    """Session rows by the digest of their secret, kept in this process.

    Every page request looks its cookie up; a row changes only when it is opened or signed
    out, and both announce it in their transaction (:func:`governance.core.cache.announce`):
    the instance that signs a session out forgets it at once, the others when the change
    reaches them (a PostgreSQL notice, or SQLite's commit counter on the next lookup).
    Expiry is judged on every request, against the row's ``expires_at``."""
    return FreshCache(TOPIC, _standing, capacity)


async def find(secret: str | None, now: datetime, kept: FreshCache[_SessionRow | None] | None = None) -> Session | None:
    """The live session whose cookie holds ``secret``: None when there is none, or it expired,
    or it was signed out (a forged, tampered or replayed cookie finds nothing). ``kept``: the
    rows this process keeps (:func:`session_cache`), consulted before the database."""
    if not well_formed(secret):
        return None
    assert secret is not None
    key = digest(secret)

    async def load() -> Loaded[_SessionRow | None]:
        found = await db.fetch_row(_FIND, key)
        if found is None:
            return Loaded(None, version=_ABSENT)
        row = _session_row(found)
        version = _LIVE if row.revoked_at is None else _REVOKED
        return Loaded(row, version=version, stale_at=row.expires_at)

    row = (await load()).value if kept is None else await kept.get_or_load(key, now, load)
    if row is None:
        return None
    identity = _identity(row.subject, row.roles)
    if row.revoked_at is not None or row.expires_at <= now or identity is None:
        return None
    return Session(row.id, identity, row.kind, row.expires_at, row.return_url, secret)


def _session_row(found: dict[str, Any]) -> _SessionRow:
    # SQLite's fast path answers instants and ids as text.
    return typed(
        {
            **found,
            "id": str(found["id"]),
            "expires_at": _instant(found["expires_at"]),
            "revoked_at": _instant(found["revoked_at"]),
        },
        _SessionRow,
    )


def _instant(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _identity(subject: str, roles: str) -> Identity | None:
    names = tuple(role for role in roles.split(",") if role)
    if not valid_subject(subject) or not names or any(role not in ROLES for role in names):
        return None
    return Identity(sub=subject, roles=names)


def _roles(identity: Identity) -> str:
    return ",".join(identity.roles)


def _columns(
    secret: str, identity: Identity, kind: Kind, return_url: str | None, now: datetime, expires_at: datetime
) -> dict[str, Any]:
    """What a session and a link both keep: the secret's hash, whom it signs in, how, until when."""
    return {
        "secret_sha256": digest(secret),
        "subject": identity.sub,
        "roles": _roles(identity),
        "kind": kind,
        "return_url": return_url,
        "created_at": now,
        "expires_at": expires_at,
    }


def _terms(identity: Identity, kind: Kind, expires_at: datetime, return_url: str | None) -> dict[str, Any]:
    """What their audit entries say of them (no secret, and of the return URL its origin only)."""
    return {
        "kind": kind,
        "roles": list(identity.roles),
        "expires_at": expires_at.isoformat(),
        "return_origin": _origin(return_url),
    }


def _origin(url: str | None) -> str | None:
    # Audit entries name where a mentee goes back to by origin only: a path may hold their ids.
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def open_session(
    web: Web,
    identity: Identity,
    now: datetime,
    *,
    kind: Kind,
    method: str,
    return_url: str | None = None,
    not_after: datetime | None = None,
    replacing: Session | None = None,
) -> Session:
    """Open a session for ``identity`` (signed in by ``method``) and audit it; a session the
    browser already had (``replacing``) is signed out in the same transaction.

    A session lasts the configured lifetime of its kind, and never past ``not_after`` (the
    expiry of the token it was opened with).
    """
    async with db.transaction():
        session = await _open(web, identity, now, kind=kind, method=method, return_url=return_url, not_after=not_after)
        if replacing is not None:
            await _revoke(replacing, now, reason="replaced")
    return session


async def _open(
    web: Web,
    identity: Identity,
    now: datetime,
    *,
    kind: Kind,
    method: str,
    return_url: str | None,
    not_after: datetime | None,
) -> Session:
    lifetime = web.portal_session_lifetime if kind == PORTAL else web.session_lifetime
    expires_at = now + lifetime if not_after is None else min(now + lifetime, not_after)
    secret = new_secret()
    session_id = uuid.uuid4()
    columns = _columns(secret, identity, kind, return_url, now, expires_at)
    await WebSession.insert(WebSession(id=session_id, **columns))
    # A lookup of this secret kept before it existed (only a guess could have made one) ends here.
    await announce(TOPIC, columns["secret_sha256"])
    await audit.record_change(
        actor=identity,
        action="web.session.signed_in",
        resource_type="web_session",
        resource_id=str(session_id),
        details={**_terms(identity, kind, expires_at, return_url), "method": method},
    )
    return Session(session_id, identity, kind, expires_at, return_url, secret)


async def sign_out(session: Session, now: datetime) -> None:
    """Revoke ``session`` server-side (its cookie opens nothing from now on) and audit it."""
    async with db.transaction():
        await _revoke(session, now, reason="signed_out")


async def _revoke(session: Session, now: datetime, *, reason: str) -> None:
    revoked = await (
        WebSession.update({WebSession.revoked_at: now})
        .where((WebSession.id == session.id) & WebSession.revoked_at.is_null())
        .returning(WebSession.id)
    )
    if revoked:
        await announce(TOPIC, digest(session.secret))
        await audit.record_change(
            actor=session.identity,
            action="web.session.signed_out",
            resource_type="web_session",
            resource_id=str(session.id),
            details={"kind": session.kind, "reason": reason},
        )


async def sign_in_failed(reason: str, **details: Any) -> None:
    """Record a refused sign-in (a bad token, a used, expired or unknown link): who tried is
    unknown, and nothing changed."""
    await audit.record_event(
        actor=ANONYMOUS,
        action="web.sign_in.failed",
        resource_type="web_sign_in",
        outcome="failure",
        details={"reason": reason, **details},
    )


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A sign-in link as handed out: the URL (holding the secret) and when it expires."""

    id: uuid.UUID
    url: str
    expires_at: datetime


async def issue_link(
    web: Web,
    identity: Identity,
    now: datetime,
    *,
    kind: Kind,
    issued_by: Identity,
    return_url: str | None = None,
) -> IssuedLink:
    """A single-use link that signs ``identity`` in, valid for the configured minutes; audited."""
    secret = new_secret()
    link_id = uuid.uuid4()
    expires_at = now + web.link_lifetime
    async with db.transaction():
        await SignInLink.insert(
            SignInLink(
                id=link_id, issued_by=issued_by.sub, **_columns(secret, identity, kind, return_url, now, expires_at)
            )
        )
        await audit.record_change(
            actor=issued_by,
            action="web.sign_in_link.issued",
            resource_type="web_sign_in_link",
            resource_id=str(link_id),
            details={**_terms(identity, kind, expires_at, return_url), "subject": identity.sub},
        )
    return IssuedLink(link_id, f"{web.public_url}/sign-in/link/{secret}", expires_at)


LinkState = Literal["valid", "used", "expired", "unknown"]


class _LinkRow(_Grant):
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class LinkLook:
    """What a link is, as its page shows it before anything is redeemed."""

    state: LinkState
    kind: Kind | None = None
    return_url: str | None = None
    id: uuid.UUID | None = None


async def look_up_link(secret: str, now: datetime) -> LinkLook:
    """Whether a link may still be redeemed (changes nothing: prefetchers and scanners GET it)."""
    row = await _link_row(secret)
    if row is None:
        return LinkLook("unknown")
    state: LinkState = "used" if row.used_at is not None else "expired" if row.expires_at <= now else "valid"
    return LinkLook(state, row.kind, row.return_url, row.id)


async def _link_row(secret: str) -> _LinkRow | None:
    if not well_formed(secret):
        return None
    rows = await SignInLink.select(
        SignInLink.id,
        SignInLink.subject,
        SignInLink.roles,
        SignInLink.kind,
        SignInLink.return_url,
        SignInLink.expires_at,
        SignInLink.used_at,
    ).where(SignInLink.secret_sha256 == digest(secret))
    return typed(rows[0], _LinkRow) if rows else None


class LinkRefused(Exception):
    """A link that opens nothing: unknown, used or expired (recorded as a failed sign-in)."""

    def __init__(self, look: LinkLook) -> None:
        super().__init__(look.state)
        self.look = look


async def redeem_link(web: Web, secret: str, now: datetime, *, replacing: Session | None = None) -> Session:
    """Use a link once: mark it used and open its session in one transaction (audited).

    Raises :class:`LinkRefused` for a link that is unknown, used or expired, after recording
    the failure; of two redemptions racing, exactly one opens a session.
    """
    look = LinkLook("unknown")
    async with db.transaction():
        row = await _link_row(secret)
        if row is not None:
            look = LinkLook("used" if row.used_at is not None else "expired", row.kind, row.return_url, row.id)
        if row is not None and row.used_at is None and row.expires_at > now:
            claimed = await (
                SignInLink.update({SignInLink.used_at: now})
                .where((SignInLink.id == row.id) & SignInLink.used_at.is_null())
                .returning(SignInLink.id)
            )
            identity = _identity(row.subject, row.roles)
            if claimed and identity is not None:
                method = "portal_link" if row.kind == PORTAL else "link"
                session = await _open(
                    web, identity, now, kind=row.kind, method=method, return_url=row.return_url, not_after=None
                )
                if replacing is not None:
                    await _revoke(replacing, now, reason="replaced")
                return session
    await sign_in_failed(f"link_{look.state}", link_id=str(look.id) if look.id else None)
    raise LinkRefused(look)


@dataclass(frozen=True, slots=True)
class Purge:
    """What one sweep deleted."""

    sessions: int
    links: int


async def purge(now: datetime) -> Purge:
    """Delete sessions that expired or were signed out, and links used or expired (audited
    when anything was deleted). Run by the service's session sweep job."""
    cutoff = now
    async with db.transaction():
        sessions = await (
            WebSession.delete()
            .where((WebSession.expires_at <= cutoff) | WebSession.revoked_at.is_not_null())
            .returning(WebSession.id)
        )
        links = await (
            SignInLink.delete()
            .where((SignInLink.expires_at <= cutoff) | SignInLink.used_at.is_not_null())
            .returning(SignInLink.id)
        )
        if sessions or links:
            await audit.record_change(
                actor=SYSTEM,
                action="web.sessions.purged",
                resource_type="web_session",
                details={"sessions": len(sessions), "links": len(links)},
            )
    return Purge(len(sessions), len(links))


async def issue_portal_link(web: Web, mentee_id: str, return_url: str, platform: Identity, now: datetime) -> IssuedLink:
    """A portal link for one mentee, asked for by the platform (Stripe's customer portal):
    it opens a session as that mentee only, whose "back" link leads to ``return_url``.

    ``return_url`` must fall under ``GOVERNANCE_PORTAL_RETURN_URLS`` (422 otherwise, naming
    the field): a link the service hands out never sends anyone to a site nobody chose.
    """
    if not web.return_urls:
        raise field_error(
            "return_url",
            "no return URL is allowed: the deployment lists none in GOVERNANCE_PORTAL_RETURN_URLS",
            status=422,
        )
    if not web.admits_return_url(return_url):
        raise field_error(
            "return_url",
            "must start with one of the URL prefixes in GOVERNANCE_PORTAL_RETURN_URLS "
            "(the same scheme, host and port, and a path under the prefix)",
            status=422,
        )
    mentee = Identity(sub=mentee_id, roles=("mentee",))
    return await issue_link(web, mentee, now, kind=PORTAL, issued_by=platform, return_url=return_url)
