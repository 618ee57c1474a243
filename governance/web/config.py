"""The shell's configuration object, built once by the bootstrap from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from litestar.security.jwt import JWTAuth, Token

from governance.core.edge import trusted_networks
from governance.core.identity import Identity, jwt_auth, verify_bearer_token
from governance.settings import Settings
from governance.web.i18n import Catalogs


@dataclass(frozen=True, slots=True)
class ReturnUrlPrefix:
    """One entry of ``GOVERNANCE_PORTAL_RETURN_URLS``: an exact origin and a path prefix."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> ReturnUrlPrefix:
        parts = urlsplit(url)
        return cls(parts.scheme, (parts.hostname or "").lower(), _port(parts.scheme, parts.port), parts.path or "/")

    def admits(self, url: str) -> bool:
        """Whether ``url`` has this origin exactly and a path under this prefix (whole segments)."""
        try:
            parts = urlsplit(url)
            port = _port(parts.scheme, parts.port)
        except ValueError:
            return False
        if (parts.scheme, (parts.hostname or "").lower(), port) != (self.scheme, self.host, self.port):
            return False
        if parts.username is not None or parts.password is not None:
            return False
        path = parts.path or "/"
        if self.path.endswith("/"):
            return path.startswith(self.path)
        return path == self.path or path.startswith(self.path + "/")


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme, -1)


class BearerVerifier:
    """Verifies a pasted bearer token exactly as the API does (:mod:`governance.core.identity`)."""

    def __init__(self, auth: JWTAuth[Identity, Token]) -> None:
        self._auth = auth

    def __call__(self, token: str) -> tuple[Identity, datetime] | None:
        """Who the token names and when it expires, or None when the API would refuse it."""
        return verify_bearer_token(self._auth, token)


@dataclass(frozen=True, slots=True)
class Web:
    """What the pages run on: where the service is reached, how long sessions and links
    last, where portal sessions may send a mentee back to, and the languages."""

    public_url: str
    session_lifetime: timedelta
    portal_session_lifetime: timedelta
    link_lifetime: timedelta
    return_urls: tuple[ReturnUrlPrefix, ...]
    bearer: BearerVerifier
    # Requests per minute per signed-in subject (0: no limit), as on the API.
    rate_limit: int
    # Sign-in attempts per minute per client address, and whose X-Forwarded-For says which.
    sign_in_rate_limit: int
    # IPv4Network | IPv6Network each: declared Any, as Litestar validates an injected
    # dataclass with msgspec, which cannot check a union of two such classes.
    trusted_proxies: tuple[Any, ...]
    catalogs: Catalogs = field(default_factory=Catalogs)

    @classmethod
    def configure(cls, settings: Settings) -> Web:
        return cls(
            public_url=settings.effective_public_url,
            session_lifetime=settings.session_lifetime,
            portal_session_lifetime=settings.portal_session_lifetime,
            link_lifetime=settings.sign_in_link_lifetime,
            return_urls=tuple(ReturnUrlPrefix.parse(url) for url in settings.portal_return_urls),
            bearer=BearerVerifier(jwt_auth(settings)),
            rate_limit=settings.rate_limit,
            sign_in_rate_limit=settings.sign_in_rate_limit,
            trusted_proxies=trusted_networks(settings.trusted_proxies),
        )

    @property
    def secure(self) -> bool:
        """Whether people reach the service over HTTPS (its cookies are then ``Secure``)."""
        return self.public_url.startswith("https://")

    def admits_return_url(self, url: str) -> bool:
        """Whether a portal session may send the mentee back to ``url``."""
        return any(prefix.admits(url) for prefix in self.return_urls)
