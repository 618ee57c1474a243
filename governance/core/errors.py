"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from governance.core.crypto import SubjectErased
from governance.core.limits import PATTERN_MESSAGES

log = structlog.get_logger("governance.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(ProblemDetailsException):
    """A domain error with a stable ``type`` slug (``/problems/<slug>``) and extra members."""

    def __init__(self, status: int, slug: str, detail: str, **extra: Any) -> None:
        super().__init__(
            detail=detail,
            status_code=status,
            type_=f"/problems/{slug}",
            title=HTTPStatus(status).phrase,
            extra=extra or None,
        )


def not_found(kind: str, ident: object) -> Problem:
    """A 404 naming what was looked for."""
    return Problem(404, "not-found", f"No {kind} {ident}")


def field_error(field: str, message: str, status: int = 400, source: str = "body") -> Problem:
    """A 400 (or ``status``) naming the one body field at fault."""
    return Problem(
        status,
        "validation",
        f"Invalid {source} field {field!r}",
        errors=[{"field": field, "source": source, "message": message}],
    )


def illegal_transition(kind: str, state: str, target: str, allowed: list[str]) -> Problem:
    """A 409: the workflow has no such move from this state."""
    return Problem(
        409,
        "illegal-transition",
        f"A {kind} in state {state!r} cannot move to {target!r}; allowed next states: {', '.join(allowed) or 'none'}",
        state=state,
        allowed_next=allowed,
    )


def not_permitted(kind: str, state: str, target: str, why: str) -> Problem:
    """A 403: the move exists, but not for this caller."""
    return Problem(403, "transition-not-permitted", f"You may not move this {kind} from {state!r} to {target!r}: {why}")


def invalid_parameter(field: str, message: str, source: str = "query") -> Problem:
    """A 400 naming the one parameter at fault, shaped like Litestar's own validation errors."""
    return Problem(
        400,
        "validation",
        f"Invalid {source} parameter {field!r}",
        errors=[{"field": field, "source": source, "message": message}],
    )


def _from_http_exception(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    title = HTTPStatus(status).phrase
    # Server-side failures keep their internals to themselves.
    detail = exc.detail if exc.detail and exc.detail != title and status < 500 else None
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="governance"')  # RFC 6750
    return ProblemDetailsException(
        status_code=status,
        title=title,
        detail=detail or title,
        headers=headers,
        extra=exc.extra if isinstance(exc.extra, dict) else None,
    )


def _from_validation_exception(exc: ValidationException) -> ProblemDetailsException:
    # Litestar gives a list of {"message", "key", "source"}; name every field at fault.
    raw = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {
            "field": _field_of(item),
            "source": str(getattr(item.get("source"), "value", item.get("source"))),
            "message": _plain_message(item.get("message")),
        }
        for item in raw
        if isinstance(item, dict)
    ]
    named = [f"{e['source']} field {e['field']!r}" for e in errors if e["field"]]
    detail = f"Invalid {', '.join(named)}" if named else (exc.detail or "Invalid request")
    return ProblemDetailsException(
        status_code=400,
        title="Bad Request",
        detail=detail,
        type_="/problems/validation",
        extra={"errors": errors} if errors else None,
    )


_MEMBER = re.compile(r"(?:unknown|missing required) field `([^`]+)`")
_PATTERN_FAILURES = {f"Expected `str` matching regex {pattern!r}": plain for pattern, plain in PATTERN_MESSAGES.items()}


def _plain_message(message: Any) -> Any:
    # A person fixing their request needs the rule in words, not the regular expression.
    return _PATTERN_FAILURES.get(message, message) if isinstance(message, str) else message


def _field_of(item: dict[str, Any]) -> Any:
    # msgspec reports an unexpected or missing member against its object; name the member.
    found = _MEMBER.search(str(item.get("message", "")))
    key = item.get("key")
    if not found:
        return key
    return f"{key}.{found.group(1)}" if key and key != "data" else found.group(1)


def _unhandled(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled_error", route=request.scope.get("path_template"), error_type=type(exc).__name__)
    return ProblemDetailsException(
        status_code=500,
        title="Internal Server Error",
        detail="The server could not complete the request; nothing was changed.",
    ).to_response(request)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map={
                HTTPException: _from_http_exception,
                ValidationException: _from_validation_exception,
            },
        )
    )


def _erased(request: Request[Any, Any, Any], exc: SubjectErased) -> Response[dict[str, Any]]:
    return Problem(410, "erased", str(exc)).to_response(request)


exception_handlers = {Exception: _unhandled, SubjectErased: _erased}
