"""Identity: bearer JWTs carrying ``sub``, ``roles`` and ``exp``."""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from governance.core.crypto import read_or_create_secret
from governance.core.limits import MAX_IDENTIFIER, PRINTABLE
from governance.settings import Settings

ROLES: Final = (
    "mentee",
    "mentor",
    "support_agent",
    "compliance_officer",
    "auditor",
    "platform",
    "admin",
)
ALGORITHM: Final = "HS256"
# Subjects are stored (audit actors, data-key owners) in columns of this size.
MAX_SUBJECT_LENGTH: Final = MAX_IDENTIFIER
_SUBJECT = re.compile(PRINTABLE)

# Paths outside the API that answer without a token. The pages (every other path outside
# ``/api/``) authenticate with a session cookie instead (governance.web), never a bearer token.
PUBLIC_PATHS: Final = ["^/health$", "^/ready$", "^/schema", "^/metrics$"]
PAGE_PATHS: Final = "^/(?:$|(?!api/|tlog/)[a-z])"  # every page path starts with a lowercase word


class Identity(msgspec.Struct, frozen=True):
    """Who is calling: the token's subject and roles."""

    sub: str
    roles: tuple[str, ...]


# Actors that are not people holding a token.
SYSTEM: Final = Identity(sub="system", roles=("system",))


def jwt_secret(settings: Settings) -> str:
    """The HS256 key: from settings, or generated once under the data dir."""
    if settings.jwt_secret:
        return settings.jwt_secret
    raw = read_or_create_secret(settings.jwt_secret_file, lambda: secrets.token_urlsafe(48).encode(), min_length=32)
    return raw.decode().strip()


def issue_token(settings: Settings, sub: str, roles: list[str], ttl: timedelta) -> str:
    """A signed bearer token for ``sub`` with ``roles``, valid for ``ttl``."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; known roles: {', '.join(ROLES)}")
    if not roles:
        raise ValueError("a token needs a subject and at least one role")
    if not valid_subject(sub):
        raise ValueError(f"a subject is 1 to {MAX_SUBJECT_LENGTH} printable characters")
    now = datetime.now(UTC)
    payload = {
        "sub": sub,
        "roles": roles,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "iss": settings.jwt_issuer,
    }
    return jwt.encode(payload, jwt_secret(settings), algorithm=ALGORITHM)


def valid_subject(sub: object) -> bool:
    """A subject this service can store and show: 1 to 200 printable characters."""
    return isinstance(sub, str) and len(sub) <= MAX_SUBJECT_LENGTH and _SUBJECT.search(sub) is not None


async def _identity_from_token(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    return _identity_of(token)


def _identity_of(token: Token) -> Identity | None:
    # Answered 401: a token whose claims we could not store, show or authorize identifies nobody.
    if not valid_subject(token.sub):
        return None
    roles = token.extras.get("roles")
    if not isinstance(roles, list) or not 0 < len(roles) <= len(ROLES) or not all(r in ROLES for r in roles):
        return None
    return Identity(sub=token.sub, roles=tuple(dict.fromkeys(roles)))


class BearerAuthenticationMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware, accepting the token only under the ``Bearer`` scheme (RFC 6750).

    Litestar takes whatever follows the first space, so ``Basic <jwt>`` would authenticate.
    """

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        scheme, _, token = (connection.headers.get(self.auth_header) or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("Send the token as Authorization: Bearer <token>")
        return await self.authenticate_token(encoded_token=token.strip(), connection=connection)


class VerifiedToken(Token):
    """A token whose verification is remembered per encoded token.

    Checking an HS256 signature and building the token costs about a third of a whole
    request here, and clients send the same token again and again. A token string that
    verified once under a key and the same rules verifies again, so the decoded token is
    kept (bounded). What changes with time is still checked on every request: ``exp``
    against the current time.
    """

    _verified: ClassVar[OrderedDict[tuple[Any, ...], VerifiedToken]] = OrderedDict()
    _capacity: ClassVar[int] = 10_000

    @classmethod
    def decode(
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        require_claims: Sequence[str] | None = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> VerifiedToken:
        key = (
            encoded_token,
            secret,
            algorithm,
            _hashable(audience),
            _hashable(issuer),
            _hashable(require_claims),
            verify_exp,
            verify_nbf,
            strict_audience,
        )
        token = cls._verified.get(key)
        if token is None:
            token = super().decode(
                encoded_token,
                secret,
                algorithm,
                audience,
                issuer,
                require_claims,
                verify_exp,
                verify_nbf,
                strict_audience,
            )
            cls._verified[key] = token
            if len(cls._verified) > cls._capacity:
                cls._verified.popitem(last=False)
            return token
        # ``nbf`` needs no second look: it had passed when the token was first verified.
        if verify_exp and token.exp <= datetime.now(UTC):
            cls._verified.pop(key, None)
            raise NotAuthorizedException("Invalid token")
        return token


def _hashable(value: str | Sequence[str] | None) -> str | tuple[str, ...] | None:
    return value if value is None or isinstance(value, str) else tuple(value)


def verify_bearer_token(auth: JWTAuth[Identity, Token], encoded_token: str) -> tuple[Identity, datetime] | None:
    """``encoded_token`` verified exactly as the API verifies a bearer token (``auth`` is
    :func:`jwt_auth`'s: the same key, algorithm, issuer, required claims, and the same
    checks of ``sub`` and ``roles``): who it names and when it expires, or None."""
    try:
        token = auth.token_cls.decode(
            encoded_token=encoded_token,
            secret=auth.token_secret,
            algorithm=auth.algorithm,
            audience=auth.accepted_audiences,
            issuer=auth.accepted_issuers,
            require_claims=auth.require_claims,
            verify_exp=auth.verify_expiry,
            verify_nbf=auth.verify_not_before,
            strict_audience=auth.strict_audience,
        )
    except NotAuthorizedException:
        return None
    identity = _identity_of(token)
    return (identity, token.exp) if identity is not None else None


def jwt_auth(settings: Settings) -> JWTAuth[Identity, Token]:
    """Litestar's JWT middleware, configured for this deployment."""
    return JWTAuth[Identity, Token](
        authentication_middleware_class=BearerAuthenticationMiddleware,
        token_cls=VerifiedToken,
        retrieve_user_handler=_identity_from_token,
        token_secret=jwt_secret(settings),
        algorithm=ALGORITHM,
        accepted_issuers=[settings.jwt_issuer],
        require_claims=["exp", "sub"],
        exclude=[*PUBLIC_PATHS, PAGE_PATHS],
        description="Bearer JWT with claims sub, roles (list) and exp; see `governance token issue`.",
    )
