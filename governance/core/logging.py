"""Structured logging: JSON in production, readable in development.

One line per request (request id, route template, status, duration). Paths are logged
as route templates, never raw paths, and headers are never logged: no tokens or
personal data reach the logs.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from governance.core.context import request_id_var
from governance.settings import Settings

# fullmatch: ``$`` would let a trailing newline through into audit entries and log lines.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
access_log = structlog.get_logger("governance.access")


def configure_logging(settings: Settings) -> None:
    """Configure structlog and route the standard library's logging through it."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if settings.json_logs else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(settings.log_level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=shared))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # pycasbin logs the whole model and policy at INFO on every load; aiosqlite logs every
    # statement with its parameters at DEBUG (subjects, ciphertexts, wrapped keys).
    logging.getLogger("casbin").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    # Piccolo announces the database version at INFO on every first query.
    logging.getLogger("piccolo").setLevel(logging.WARNING)
    # uvicorn's own access log would print raw paths; ours prints route templates.
    logging.getLogger("uvicorn.access").disabled = True


def request_id_from(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


def body_size_limit(max_bytes: int) -> Callable[[ASGIApp], ASGIApp]:
    """Answer 413 before routing when ``Content-Length`` exceeds the configured size.

    Litestar also enforces the limit while reading a body (chunked uploads); this makes
    the answer the same on every route, whether or not it reads a body.
    """

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP and _content_length(scope) > max_bytes:
                body = msgspec.json.encode(
                    {
                        "status": 413,
                        "title": "Content Too Large",
                        "detail": f"The request body exceeds the limit of {max_bytes} bytes",
                    }
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [
                            (b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await app(scope, receive, send)

        return middleware

    return factory


def _content_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def request_logging_middleware(app: ASGIApp) -> ASGIApp:
    """Assign a request id (echoed in ``X-Request-ID``) and log one line per request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                request_id=request_id,
                method=scope.get("method"),
                route=scope.get("path_template", "<unmatched>"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            request_id_var.reset(token)

    return middleware
