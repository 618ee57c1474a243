"""Rate limits: per authenticated subject on the API, per client address on public checks.

A fixed window per key, counted in this process (each instance limits on its own), answering
429 as problem+json with ``Retry-After``. Litestar ships a limiter, but it keeps every
request's timestamp and re-encodes that list on each request, so its cost grows with the
limit; a platform's service account may rightly send thousands of requests a minute.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from typing import Final

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from governance.core.edge import client_address

Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
WINDOW_SECONDS: Final = 60.0
# A public handler marked ``opt={LIMITED_PER_CLIENT: True}`` is counted by :func:`per_client`;
# the router's other public routes pass through it uncounted.
LIMITED_PER_CLIENT: Final = "limited_per_client"
# Past this many keys, windows that have ended are forgotten (addresses are unbounded).
_PRUNE_AT: Final = 100_000


class FixedWindow:
    """At most ``limit`` admissions per key in each window of :data:`WINDOW_SECONDS`."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def admit(self, key: str) -> tuple[bool, int, float]:
        """Whether this request is admitted, how many more the key has, and seconds until its window ends."""
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= WINDOW_SECONDS:
            start, count = now, 0
        reset = WINDOW_SECONDS - (now - start)
        if count >= self.limit:
            return False, 0, reset
        self._windows[key] = (start, count + 1)
        if len(self._windows) > _PRUNE_AT:
            self._windows = {k: w for k, w in self._windows.items() if now - w[0] < WINDOW_SECONDS}
        return True, self.limit - count - 1, reset


def _limited(window: FixedWindow, key_of: Callable[[Scope], str | None]) -> Callable[[ASGIApp], ASGIApp]:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            key = key_of(scope) if scope["type"] == ScopeType.HTTP else None
            if key is None:
                await app(scope, receive, send)
                return
            admitted, remaining, reset = window.admit(key)
            # The IETF RateLimit fields, so that well-behaved clients can pace themselves.
            fields = {
                "RateLimit-Limit": str(window.limit),
                "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(max(1, math.ceil(reset))),
            }
            if not admitted:
                raise TooManyRequestsException(
                    detail=f"More than {window.limit} requests a minute; retry after {fields['RateLimit-Reset']} s",
                    headers={**fields, "Retry-After": fields["RateLimit-Reset"]},
                )
            encoded = [(name.lower().encode(), value.encode()) for name, value in fields.items()]

            async def send_with_fields(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), *encoded]
                await send(message)

            await app(scope, receive, send_with_fields)

        return middleware

    return factory


def per_subject(requests_per_minute: int) -> Callable[[ASGIApp], ASGIApp]:
    """The limit on every authenticated route, counted per token subject (public routes are not counted)."""

    def subject(scope: Scope) -> str | None:
        handler = scope.get("route_handler")
        user = scope.get("user")
        if user is None or (handler is not None and handler.opt.get("exclude_from_auth")):
            return None
        return str(user.sub)

    return _limited(FixedWindow(requests_per_minute), subject)


def per_client(requests_per_minute: int, trusted_proxies: Networks) -> Callable[[ASGIApp], ASGIApp]:
    """A limit on the public routes marked :data:`LIMITED_PER_CLIENT`, counted per client
    address (forwarded only by trusted proxies)."""

    def client(scope: Scope) -> str | None:
        handler = scope.get("route_handler")
        if handler is None or not handler.opt.get(LIMITED_PER_CLIENT):
            return None
        return client_address(scope, trusted_proxies)

    return _limited(FixedWindow(requests_per_minute), client)
