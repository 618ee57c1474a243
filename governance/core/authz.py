"""Authorization: one Casbin enforcer, applied by one guard on every ``/api/v1`` route.

A decision depends only on (role, route template, method, ownership), so decisions are
cached per that key; the cache is cleared whenever the policy is reloaded. Ownership is
a matcher input, declared by the route in one of three ways:

- ``opt={"owner": "mentee_id"}``: the path parameter that names the data subject; the
  caller owns the record when it equals their ``sub``;
- ``opt={"owner_of": resolver}``: ``async def resolver(connection) -> str | None`` looks
  up the subject the addressed record belongs to (None: no such record, so not the
  caller's). It runs only when the caller's roles are allowed on their ``own`` records
  but not on ``any``, so staff never pay for the lookup;
- ``opt={"own_list": True}``: a list whose handler narrows the items to the caller's own
  when :func:`restricted_to` says so (handlers ask for it as the ``restricted_to`` dependency).

Denials answer 403 and are handed to the authorizer's ``on_denied`` callback, which the
application wires to the audit log (core knows nothing of audit: the dependency points
one way, from audit to core).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import casbin
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from governance.core.identity import Identity
from governance.core.limits import MAX_IDENTIFIER

# Told of every denial: who, the method, the route template and :func:`denial_details`.
DenialRecorder = Callable[[Identity, str, str, dict[str, Any]], Awaitable[None]]


class Authorizer:
    """The Casbin enforcer with a decision cache.

    ``on_denied`` is awaited for each denial before the 403 is raised; the application
    records it in the audit log (a denial is evidence).
    """

    def __init__(self, policy_dir: Path, *, on_denied: DenialRecorder) -> None:
        self._enforcer = _enforcer(policy_dir)
        self._decisions: dict[tuple[str, str, str, str], bool] = {}
        self.on_denied: Final = on_denied
        # Moves with every reload: what was derived from earlier decisions is stale then.
        self.generation = 0

    def reload(self) -> None:
        """Re-read the policy file and forget every cached decision."""
        self._enforcer.load_policy()
        self._decisions.clear()
        self.generation += 1

    def decide(self, role: str, route: str, method: str, owner: str) -> bool:
        """One role's decision; ``owner`` is ``"self"`` or ``"other"``."""
        key = (role, route, method, owner)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self.decide_uncached(role, route, method, owner)
            self._decisions[key] = decision
        return decision

    def decide_uncached(self, role: str, route: str, method: str, owner: str) -> bool:
        return bool(self._enforcer.enforce(role, route, method, owner))

    def allows(self, roles: Iterable[str], route: str, method: str, owner: str) -> bool:
        """Allowed when any of the caller's roles is allowed."""
        return any(self.decide(role, route, method, owner) for role in roles)

    def policy_rules(self) -> list[list[str]]:
        return [list(rule) for rule in self._enforcer.get_policy()]


# What a matcher must require, as its first conditions, for rules filed by role and route to
# be the only ones it can match (Casbin writes the model's "r.x" as "r_x").
_FILED_BY_ROLE_AND_ROUTE = re.compile(r"\s*r_role\s*==\s*p_role\s*&&\s*r_route\s*==\s*p_route\s*&&")


def _enforcer(policy_dir: Path) -> casbin.Enforcer:
    """Casbin's fast enforcer when the model allows it, its plain one otherwise.

    The shipped matcher requires the rule's role and route, so the fast enforcer, which files
    the rules by those two, weighs a handful of rules per cache miss instead of all of them
    (every key misses again after a reload). A deployment's own model that matches routes
    otherwise (a keyMatch, say) would be judged wrongly by it, so it gets the plain enforcer.
    Not three keys: pycasbin 2.8 then lists the policy (``policy_rules``) wrongly. The filter
    is state of the enforcer: decisions are made on the event loop's thread, one at a time.
    """
    model, policy = str(policy_dir / "model.conf"), str(policy_dir / "policy.csv")
    fast = casbin.FastEnforcer(model, policy, cache_key_order=[0, 1])
    if _FILED_BY_ROLE_AND_ROUTE.match(fast.model["m"]["m"].value):
        return fast
    return casbin.Enforcer(model, policy)


OwnerResolver = Callable[[ASGIConnection[Any, Any, Any, Any]], Awaitable[str | None]]


async def ownership(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, sub: str) -> str:
    """``"self"`` when the record the route addresses belongs to the caller (see module docstring)."""
    if handler.opt.get("own_list"):
        return "self"
    param = handler.opt.get("owner")
    if param is not None:
        return "self" if str(connection.path_params.get(param)) == sub else "other"
    resolver: OwnerResolver | None = handler.opt.get("owner_of")
    if resolver is not None and not _oversized(connection.path_params):
        return "self" if await resolver(connection) == sub else "other"
    return "other"


def _oversized(params: Mapping[str, Any]) -> bool:
    # No identifier is longer; such a value names nobody's record, so it is not looked up.
    return any(isinstance(value, str) and len(value) > MAX_IDENTIFIER for value in params.values())


def _route_and_method(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str]:
    # Litestar's template without parameter types (``/audit/entries/{seq}``): the form policies use.
    return str(connection.scope.get("path_template")), str(connection.scope.get("method", "GET"))


def restricted_to(authorizer: Authorizer, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """For ``own_list`` routes: the caller's subject when they may list only their own records."""
    route, method = _route_and_method(connection)
    if authorizer.allows(connection.user.roles, route, method, "other"):
        return None
    return str(connection.user.sub)


def casbin_middleware(authorizer: Authorizer) -> Callable[[ASGIApp], ASGIApp]:
    """Apply :func:`casbin_guard` with ``authorizer`` to every request of a router, after routing.

    The same check as a Litestar guard, run as route middleware instead: Litestar copies
    the route handler for every guard call (about 13 µs, a tenth of a cached dossier read).
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                await casbin_guard(authorizer, ASGIConnection(scope, receive, send), scope["route_handler"])
            await app(scope, receive, send)

        return middleware

    return wrap


async def casbin_guard(
    authorizer: Authorizer, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The one check on every ``/api/v1`` route: deny unless the policy allows; audit denials."""
    if connection.scope.get("method") == "OPTIONS":
        return  # Litestar's automatic answer lists the allowed methods; it reaches no record.
    if handler.opt.get("exclude_from_auth"):
        return  # a route that declares itself public (no token, so no role to check)
    identity: Identity = connection.user
    route, method = _route_and_method(connection)
    # Allowed on any record: no need to find out whose record it is.
    if authorizer.allows(identity.roles, route, method, "other"):
        return
    if authorizer.allows(identity.roles, route, method, "self") and (
        await ownership(connection, handler, identity.sub) == "self"
    ):
        return
    await authorizer.on_denied(
        identity,
        method,
        route,
        denial_details(method, route, str(connection.scope.get("path", "")), connection.path_params),
    )
    raise PermissionDeniedException(f"Your role(s) {', '.join(identity.roles)} may not {method} {route}")


# A denial is evidence, and also the cheapest thing an attacker can make us write: its
# entry names what was attempted in bounded space, whatever the request's size.
PARAM_PREVIEW: Final = 64
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def denial_details(method: str, route: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What an ``access.denied`` entry records: the route template, a SHA-256 of the concrete
    path, and each path parameter cut to :data:`PARAM_PREVIEW` characters with a marker."""
    return {
        "method": method,
        "route": route,
        "path_sha256": hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest(),
        "path_params": {key: _preview(str(value)) for key, value in params.items()},
    }


def _preview(value: str) -> str:
    shown = _UNPRINTABLE.sub("\ufffd", value[:PARAM_PREVIEW])
    cut = len(value) - PARAM_PREVIEW
    return f"{shown}…[{cut} more characters]" if cut > 0 else shown
