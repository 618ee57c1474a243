"""What keeps the pages safe: CSRF tokens, the headers every page carries, local redirects.

CSRF: a session-bound token, not Litestar's ``CSRFConfig``. Litestar's double-submit
cookie is signed but bound to nothing: a token and cookie taken from one browser pass in
another, and the pair survives signing in and out. Here the token is an HMAC keyed by the
secret of the browser's session cookie (before sign-in, of a pre-session cookie), so it is
worth something only beside the cookie it was derived from, changes at every sign-in, dies
with the session, and needs no key of its own nor any storage: the server recomputes it
from the cookie on every request. A form carries it in a hidden field, HTMX in an
``X-CSRF-Token`` header (``hx-headers`` on the body); a state-changing request without the
right one is answered 403 before any handler runs. The JSON API (``/api``) takes bearer
tokens, which browsers never attach on their own, so it needs none.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Final
from urllib.parse import urlsplit

from litestar import Request
from litestar.exceptions import PermissionDeniedException

CSRF_FIELD: Final = "_csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_CSRF_PURPOSE: Final = b"governance pages csrf v1"

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Sign-in links carry their secret in the path: no page tells another site where it was.
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def csrf_token(binding: str) -> str:
    """The CSRF token of the browser whose session (or pre-session) cookie holds ``binding``."""
    return hmac.new(binding.encode(), _CSRF_PURPOSE, hashlib.sha256).hexdigest()


async def check_csrf(request: Request[Any, Any, Any], binding: str) -> None:
    """403 unless a state-changing request carries the token of its own browser's cookie."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if sent is None or not hmac.compare_digest(sent.encode(), csrf_token(binding).encode()):
        raise PermissionDeniedException(
            "This form has expired or did not come from this service. Reload the page and try again."
        )


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this service, else ``default``: never another site.

    Refused: anything with a scheme or host (``https://evil``, ``//evil``), a backslash
    (browsers read ``/\\evil`` as ``//evil``), control characters, and relative paths.
    """
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
