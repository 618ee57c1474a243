"""What every request passes before any service sees it: one set of rules for both engines.

- JSON bodies: only ``application/json`` (or a ``+json`` type) is parsed (415 otherwise);
  nesting deeper than :data:`~governance.core.limits.MAX_JSON_DEPTH`, a key given twice, or
  a NUL character anywhere answers 400 naming what is wrong, before decoding recursion or
  a database can fail on it.
- Path and query parameters: control characters answer 400 naming the parameter, before
  authorization; a value longer than any identifier answers 400 too, after authorization
  (so that a caller who may not use the route is denied, and the denial recorded, first).
- Authenticated answers are ``Cache-Control: no-store``; public routes keep their own caching.
- The client's address is the socket's, unless the socket is a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ValidationException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.empty import value_or_default

from governance.core.errors import Problem, invalid_parameter
from governance.core.limits import MAX_CURSOR, MAX_IDENTIFIER, MAX_JSON_DEPTH

_JSON_MEDIA_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NO_STORE: Final = (b"cache-control", b"no-store")


class JSONBodyRequest(Request[Any, Any, Any]):
    """Litestar's request, with the body rules above applied before JSON is decoded.

    The body is decoded strictly into the type the handler declares: Litestar converts
    leniently (``4.0`` for an integer, ``0`` for a date-time), which would accept what the
    published schema refuses.
    """

    async def json(self) -> Any:
        if value_or_default(self._json, None) is None and value_or_default(self._connection_state.json, None) is None:
            check_json_media_type(self.headers.get("content-type"))
            body = await self.body()
            check_json_body(body)
            data = self.route_handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                self._json = self._connection_state.json = decode_strictly(body, data.annotation)
        return await super().json()


def decode_strictly(body: bytes, target: Any) -> Any:
    """``body`` as ``target``, types exactly as the schema says; 400 naming the field otherwise."""
    try:
        return msgspec.json.decode(body, type=target, strict=True)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).rpartition(" - at `")
        field = where.rstrip("`").removeprefix("$").removeprefix(".") if message else ""
        raise ValidationException(
            detail="Validation failed", extra=[{"message": message or str(exc), "key": field, "source": "body"}]
        ) from None
    except msgspec.DecodeError as exc:
        raise Problem(400, "malformed-body", f"The request body is not JSON: {exc}") from None


def check_json_media_type(content_type: str | None) -> None:
    """415 unless the body is declared as JSON."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if not _JSON_MEDIA_TYPE.fullmatch(media_type):
        raise Problem(
            415,
            "unsupported-media-type",
            f"This route takes application/json, not {media_type or 'an undeclared body'}",
            header="Content-Type",
        )


def check_json_body(body: bytes) -> None:
    """400 for a body nested too deeply, with a repeated key, or holding a NUL character."""
    if json_depth(body) > MAX_JSON_DEPTH:
        raise _body_problem(f"nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        decoded = json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        raise _body_problem(f"gives the key {exc.key!r} more than once", field=exc.key) from None
    except (ValueError, RecursionError):
        return  # malformed: msgspec's decoder gives the precise answer next
    if b"\\u" in body:  # a NUL can only arrive escaped; JSON refuses raw control characters
        where = _first_nul(decoded, "")
        if where is not None:
            raise _body_problem("holds a NUL character", field=where or "$")


def json_depth(body: bytes) -> int:
    """How deeply a JSON document nests arrays and objects (brackets inside strings ignored)."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep; most bodies stop here
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b'""', body)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _first_nul(value: Any, path: str) -> str | None:
    # Depth is already bounded, so recursion is too.
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            if "\x00" in key:
                return inner
            found = _first_nul(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_nul(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _body_problem(what: str, field: str | None = None) -> Problem:
    errors = [{"field": field, "source": "body", "message": f"the request body {what}"}] if field else []
    return Problem(400, "malformed-body", f"The request body {what}", errors=errors)


def refuse_control_characters(app: ASGIApp) -> ASGIApp:
    """400 naming the path or query parameter that holds a control character.

    Runs after routing (so the path parameter can be named) and before authorization, so
    no lookup, denial entry or database call ever sees such a value.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            for name, value in scope.get("path_params", {}).items():
                if isinstance(value, str) and _CONTROL.search(value):
                    raise invalid_parameter(name, "must not contain control characters", source="path")
            query = scope.get("query_string", b"")
            if query:
                for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8"):
                    if _CONTROL.search(name) or _CONTROL.search(value):
                        raise invalid_parameter(name, "must not contain control characters")
        await app(scope, receive, send)

    return middleware


def refuse_overlong_parameters(app: ASGIApp) -> ASGIApp:
    """400 naming a path parameter longer than an identifier, or a query value longer than a cursor.

    Every route declares tighter limits of its own (and documents them); this is the floor
    under routes that read parameters without Litestar's parsing, and it holds for both
    database engines alike.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            for name, value in scope.get("path_params", {}).items():
                # A ``:path`` parameter arrives with its leading slash, which the client did not
                # send as part of the value (the documented maxLength is of the value).
                if isinstance(value, str) and len(value.removeprefix("/")) > MAX_IDENTIFIER:
                    raise invalid_parameter(name, f"at most {MAX_IDENTIFIER} characters", source="path")
            query = scope.get("query_string", b"")
            if len(query) > MAX_CURSOR:
                for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8"):
                    if len(value) > MAX_CURSOR:
                        raise invalid_parameter(name, f"at most {MAX_CURSOR} characters")
        await app(scope, receive, send)

    return middleware


def no_store_unless_public(app: ASGIApp) -> ASGIApp:
    """``Cache-Control: no-store`` on every answer except those of public routes.

    Wraps the whole application, so 401s from authentication and 404s are covered too;
    a route is public when it declares ``exclude_from_auth``.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start" and not _is_public(scope):
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message["headers"] = [*headers, NO_STORE]
            await send(message)

        await app(scope, receive, send_no_store)

    return middleware


def complete_allow_header(app: ASGIApp, methods: Mapping[str, Iterable[str]]) -> ASGIApp:
    """``Allow`` on automatic OPTIONS answers lists every method of the path (``methods`` by
    route template): Litestar 2 lists only those of the first handler registered on it."""
    allow = {template: ", ".join(sorted(names)).encode() for template, names in methods.items()}

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "OPTIONS":
            await app(scope, receive, send)
            return

        async def send_complete(message: Message) -> None:
            full = allow.get(str(scope.get("path_template")))
            if message["type"] == "http.response.start" and full is not None:
                message["headers"] = [
                    (name, full if name.lower() == b"allow" else value) for name, value in message.get("headers", [])
                ]
            await send(message)

        await app(scope, receive, send_complete)

    return middleware


def _is_public(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return handler is not None and bool(handler.opt.get("exclude_from_auth"))


def trusted_networks(entries: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse proxy addresses or CIDR ranges (``10.0.0.1``, ``10.0.0.0/8``); ValueError names a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry.strip()!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def client_address(scope: Scope, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """The address a request came from.

    ``X-Forwarded-For`` is believed only when the socket peer is a trusted proxy, and then
    only as far back as the chain stays inside trusted proxies: the first untrusted hop,
    counting from the right, is the client. Anyone else can write anything in that header.
    """
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = [
        hop.strip()
        for name, value in scope.get("headers", [])
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    address = peer
    for hop in reversed(forwarded):
        if not hop:
            continue
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address


def _is_trusted(address: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
