"""The OpenAPI document, made to tell the truth, and Swagger UI served by the service itself.

Litestar writes the document from the handlers' signatures. :func:`refine` post-processes it
in one place, rather than route by route, so that it says what the service actually does:

- errors are ``application/problem+json`` with one shared component, :data:`PROBLEM_SCHEMA`
  (RFC 9457 plus the ``errors`` list this service adds), documented where they can occur:
  401, 403 and 429 on every authenticated operation; 400 wherever a parameter or a body is
  parsed; 413 and 415 where there is a body; 404 where the path names a record; 412 and 428
  where ``If-Match`` is taken; and what an operation's :class:`Documented` facts add (409,
  422, 429 on a rate-limited public route, ...). Litestar's own 400 ("Validation
  Exception", a shape this service never sends) is dropped;
- public operations (``exclude_from_auth=True``) say ``security: []``, the others name the
  bearer scheme;
- request body schemas are msgspec's own, so they say what the decoder enforces, including
  ``additionalProperties: false`` where a Struct has ``forbid_unknown_fields=True``;
- an operation's summary is the first sentence of its handler's docstring and its
  description the whole docstring;
- generated examples (random values such as a rating of -452492338.88) are removed.

Litestar 2 has no hook that runs after the document is built and still knows the handlers:
the document's own ``to_schema`` does the post-processing, and the handlers are remembered
as Litestar names their operations (``operation_id_creator`` is the one public callback that
sees each handler).
"""

from __future__ import annotations

import copy
import html
import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
from litestar import Router, get
from litestar.datastructures import ResponseHeader
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import OpenAPI
from litestar.params import FromPath
from litestar.response import File

from governance.core import limits
from governance.core.errors import PROBLEM_MEDIA_TYPE

if TYPE_CHECKING:
    from litestar import Request
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import Method
    from litestar.types.internal_types import PathParameterDefinition

PROBLEM: Final = "Problem"
PROBLEM_REF: Final = f"#/components/schemas/{PROBLEM}"
PROBLEM_SCHEMA: Final[Mapping[str, Any]] = {
    "type": "object",
    "title": PROBLEM,
    "description": (
        "RFC 9457 problem details: every error this service answers has this shape. Some problems add "
        "members of their own, e.g. `allowed_next` on an illegal transition."
    ),
    "properties": {
        "type": {
            "type": "string",
            "description": "What kind of problem, e.g. `/problems/validation`; absent means `about:blank`.",
        },
        "title": {"type": "string", "description": "The HTTP status phrase, e.g. `Conflict`."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong with this request, for a person to read."},
        "errors": {
            "type": "array",
            "description": "Each parameter or body field at fault (validation problems).",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"], "description": "The field or parameter name."},
                    "source": {"type": "string", "description": "Where it was: `body`, `query`, `path`, `header`."},
                    "message": {"type": ["string", "null"], "description": "What is wrong with it."},
                },
                "required": ["field", "source", "message"],
            },
        },
    },
    "required": ["status", "title", "detail"],
}

# What each mechanically derived error means; an operation's facts may say more.
GENERIC_ERRORS: Final[Mapping[int, str]] = {
    400: "A parameter or body field is invalid; `errors` names each one.",
    401: "No valid bearer token: missing, malformed, badly signed or expired.",
    403: "The token's role may not do this, or the record is not the caller's; the denial is audited.",
    404: "Nothing has this id.",
    412: "`If-Match` names a version other than the current one: read the record again.",
    413: "The request body is larger than the service accepts.",
    415: "The request body's media type is not one this operation reads.",
    428: "`If-Match` is missing: send the `ETag` of the record as you last read it.",
    429: "Too many requests: try again after `Retry-After` seconds.",
}
_ERROR_HEADERS: Final[Mapping[int, Mapping[str, Any]]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`, as RFC 6750 says.", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}
_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Documented:
    """What one operation does that its handler's signature cannot show."""

    errors: Mapping[int, str] = field(default_factory=dict)
    """More error statuses it can answer (e.g. 409, 422), each with what it means there."""
    responses: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    """Its success and redirect responses (OpenAPI response objects), instead of the generated ones."""
    parameters: Sequence[Mapping[str, Any]] = ()
    """Parameters its handler reads from the request itself (e.g. ``Idempotency-Key``), or that it
    checks more closely than its signature says; each replaces a generated one of the same name."""


_BINARY: Final = {"type": "string", "format": "binary"}


def json_response(description: str, component: str) -> dict[str, Any]:
    """A JSON response whose body is the schema component ``component``."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


def file_response(description: str, media_types: Iterable[str], headers: Mapping[str, str] = {}) -> dict[str, Any]:
    """A response carrying a file in one of ``media_types``, with ``headers`` (name: description)."""
    response: dict[str, Any] = {
        "description": description,
        "content": {
            # A JSON file is still JSON: clients (and checkers) parse it as such.
            media_type: {"schema": {"type": "object"} if media_type.endswith("json") else _BINARY}
            for media_type in media_types
        },
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
        }
    return response


def header_parameter(name: str, description: str, schema: Mapping[str, Any], required: bool = False) -> dict[str, Any]:
    """A header parameter that a handler reads from the request itself."""
    return {"name": name, "in": "header", "required": required, "description": description, "schema": dict(schema)}


def refine(
    document: dict[str, Any],
    handlers: Mapping[str, HTTPRouteHandler],
    facts: Mapping[str, Documented],
) -> dict[str, Any]:
    """Make the generated ``document`` say what the service does (see the module's docstring).

    ``handlers`` maps operation ids to their handlers; ``facts`` maps ``"METHOD /path"`` (the
    document's own path template) to what the signature of that operation cannot show.
    """
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas[PROBLEM] = copy.deepcopy(dict(PROBLEM_SCHEMA))
    for scheme in components.get("securitySchemes", {}).values():
        if scheme.get("type") == "http":
            # Litestar's JWT auth names the header too; OpenAPI allows that on apiKey schemes only.
            scheme.pop("name", None)
            scheme.pop("in", None)
    bearer = document.get("security") or []
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            handler = handlers.get(operation.get("operationId", ""))
            public = handler is not None and bool(handler.opt.get("exclude_from_auth"))
            _describe(operation, handler)
            _parameters(operation, handler)
            operation["security"] = [] if public else copy.deepcopy(bearer)
            _respond(operation, public, handler, facts.get(f"{method.upper()} {path}", Documented()))
    _exact_bodies(schemas, handlers.values())
    _free_form_bodies(document, schemas)
    _drop_examples(document)
    return document


# A body the handler takes as any JSON object (a credential to verify) is still held by the
# edge to its rules: no NUL in any key or string. Said in the schema, so that clients (and
# Schemathesis) know a NUL is refused rather than "schema-valid".
_JSON_OBJECT: Final = "JsonObject"
_JSON_VALUE: Final = "JsonValue"
_FREE_FORM: Final = {"type": "object", "additionalProperties": {}}


def _free_form_bodies(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    found = False
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            content = (item.get(method) or {}).get("requestBody", {}).get("content", {})
            body = content.get("application/json")
            if body is not None and body.get("schema") == _FREE_FORM:
                body["schema"] = {"$ref": f"#/components/schemas/{_JSON_OBJECT}"}
                found = True
    if not found:
        return
    text = {"type": "string", "maxLength": limits.MAX_FREE_FORM_BODY, "pattern": limits.NO_NUL}
    schemas[_JSON_OBJECT] = {
        "type": "object",
        "description": (
            f"Any JSON object without a NUL character, nested at most {limits.MAX_JSON_DEPTH} levels,"
            f" in at most {limits.MAX_FREE_FORM_BODY} bytes."
        ),
        "propertyNames": text,
        "additionalProperties": {"$ref": f"#/components/schemas/{_JSON_VALUE}"},
    }
    schemas[_JSON_VALUE] = {
        "anyOf": [
            text,
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
            {"type": "array", "items": {"$ref": f"#/components/schemas/{_JSON_VALUE}"}},
            {"$ref": f"#/components/schemas/{_JSON_OBJECT}"},
        ]
    }


def summary_of(docstring: str) -> str:
    """One plain-text line for an operation: its docstring's first sentence, up to a colon if it has one."""
    paragraph = " ".join(inspect.cleandoc(docstring).split("\n\n", 1)[0].split())
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9`])", paragraph, maxsplit=1)[0]
    depth = 0
    for index, char in enumerate(sentence):
        depth += {"(": 1, ")": -1}.get(char, 0)
        # "One complaint: state, SLA standing, ..." reads as "One complaint"; "(mentees: their own)" stays.
        if char == ":" and depth == 0 and sentence[index + 1 : index + 2] == " ":
            sentence = sentence[:index]
            break
    # A summary is plain text (only descriptions are CommonMark): no code marks.
    return sentence.replace("`", "").rstrip(".")


def _markdown(text: str) -> str:
    # Docstrings mark code reStructuredText's way; OpenAPI descriptions are CommonMark.
    return re.sub(r"``(.+?)``", r"`\1`", text)


def _describe(operation: dict[str, Any], handler: HTTPRouteHandler | None) -> None:
    docstring = inspect.getdoc(handler.fn) if handler is not None else None
    if docstring:
        operation["summary"] = summary_of(docstring)
        operation["description"] = _markdown(docstring)


_BOUNDS: Final = (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusiveMinimum"), ("lt", "exclusiveMaximum"))
# What encode_cursor in governance.core.pagination produces: unpadded base64url.
_CURSOR: Final = {"minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"}
# The one ETag governance.core.versioning.expected_version accepts; without it a write answers 428.
# (Surrounding spaces are tolerated but not advertised: HTTP clients refuse to send them.)
_IF_MATCH: Final = {"type": "string", "pattern": '^(W/)?"[0-9]{1,18}"$'}


# What governance.core.edge enforces on every path parameter before a handler runs.
_PATH_ID: Final = {"minLength": 1, "maxLength": limits.MAX_IDENTIFIER, "pattern": limits.PRINTABLE}
_SHAPED: Final = frozenset({"maxLength", "format", "enum", "pattern"})


def _parameters(operation: dict[str, Any], handler: HTTPRouteHandler | None) -> None:
    """Exact integer bounds, the shape of a cursor, and ``If-Match`` as writes require it."""
    declared = {}
    if handler is not None:
        for definition in handler.parsed_fn_signature.parameters.values():
            kwarg = definition.kwarg_definition
            alias = getattr(kwarg, "query", None) or getattr(kwarg, "header", None)
            declared[alias or definition.name] = kwarg
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        kwarg = declared.get(parameter["name"])
        for attribute, keyword in _BOUNDS:
            bound = getattr(kwarg, attribute, None)
            # Litestar writes bounds as floats: 2**63 - 1 would read as 2**63.
            if isinstance(bound, int) and not isinstance(bound, bool) and keyword in schema:
                schema[keyword] = bound
        if parameter["name"].lower() == "if-match" and parameter.get("in") == "header":
            parameter["required"] = True
            kept = {key: schema[key] for key in ("description", "maxLength") if key in schema}
            parameter["schema"] = {**_IF_MATCH, **kept}
        if parameter.get("in") == "path" and schema.get("type") == "string" and not schema.keys() & _SHAPED:
            # The edge holds every path parameter to these, declared or read raw by the handler.
            schema.update(_PATH_ID)
        if parameter["name"] == "cursor" and parameter.get("in") == "query":
            for variant in schema.get("oneOf", [schema]):
                if variant.get("type") == "string":
                    variant.update({key: value for key, value in _CURSOR.items() if key not in variant})


def _respond(operation: dict[str, Any], public: bool, handler: HTTPRouteHandler | None, facts: Documented) -> None:
    generated = operation.get("responses", {})
    # Litestar's own 400 ("Validation Exception") is not what the service sends: errors are rebuilt below.
    kept = {} if facts.responses else {status: resp for status, resp in generated.items() if int(status) < 400}
    kept.update({str(status): copy.deepcopy(dict(response)) for status, response in facts.responses.items()})
    if facts.parameters:
        told = {(p["name"], p["in"]) for p in facts.parameters}
        generated_parameters = [p for p in operation.get("parameters", []) if (p["name"], p["in"]) not in told]
        operation["parameters"] = [*generated_parameters, *(copy.deepcopy(dict(p)) for p in facts.parameters)]
    parameters = operation.get("parameters", [])
    body = "requestBody" in operation

    statuses: set[int] = set()
    if not public:
        statuses |= {401, 403, 429}
    if parameters or body:
        statuses.add(400)
    if body:
        statuses |= {413, 415}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if any(p.get("in") == "header" and str(p.get("name", "")).lower() == "if-match" for p in parameters):
        statuses |= {412, 428}
    errors = {status: GENERIC_ERRORS[status] for status in statuses}
    errors.update(facts.errors)
    for status, meaning in errors.items():
        kept[str(status)] = _problem_response(meaning, status)
    operation["responses"] = dict(sorted(kept.items()))


def _problem_response(description: str, status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in _ERROR_HEADERS:
        response["headers"] = copy.deepcopy(dict(_ERROR_HEADERS[status]))
    return response


def _exact_bodies(schemas: dict[str, Any], handlers: Iterable[HTTPRouteHandler]) -> None:
    """Request body components as msgspec itself describes them: what the decoder enforces.

    Litestar's rendering of a Struct drops constraints that msgspec applies (the pattern of a
    dict's keys, the length of a list's items) and never says that unknown fields are refused;
    msgspec's own JSON Schema says all of it (``additionalProperties: false`` for
    ``forbid_unknown_fields=True``).
    """
    bodies: set[type[msgspec.Struct]] = set()
    for handler in handlers:
        data = handler.parsed_fn_signature.parameters.get("data")
        body = data.annotation if data is not None else None
        if isinstance(body, type) and issubclass(body, msgspec.Struct):
            bodies.add(body)
    if not bodies:
        return
    ordered = sorted(bodies, key=lambda cls: (cls.__module__, cls.__qualname__))
    _, components = msgspec.json.schema_components(ordered, ref_template="#/components/schemas/{name}")
    clashes = sorted(
        name for name, schema in components.items() if name in schemas and schemas[name].get("title") != name
    )
    if clashes:
        # A reference to one of these names would land on another type's schema.
        raise ValueError(f"OpenAPI components named after request bodies hold other types: {', '.join(clashes)}")
    for name, schema in components.items():
        if "description" in schema:
            schema["description"] = _markdown(schema["description"])
        schemas[name] = schema


_NESTED: Final = ("items", "additionalProperties", "not", "contains", "propertyNames")
_LISTS: Final = ("oneOf", "anyOf", "allOf", "prefixItems")


def _drop_examples(document: dict[str, Any]) -> None:
    for schema in document.get("components", {}).get("schemas", {}).values():
        _drop_schema_examples(schema)
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for parameter in operation.get("parameters", []):
                _drop_media_examples(parameter)
            carriers = [operation.get("requestBody", {}), *operation.get("responses", {}).values()]
            for carrier in carriers:
                for media in carrier.get("content", {}).values():
                    _drop_media_examples(media)


def _drop_media_examples(media: dict[str, Any]) -> None:
    media.pop("examples", None)
    media.pop("example", None)
    if isinstance(media.get("schema"), dict):
        _drop_schema_examples(media["schema"])


def _drop_schema_examples(schema: dict[str, Any]) -> None:
    schema.pop("examples", None)
    schema.pop("example", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            _drop_schema_examples(prop)
    for key in _NESTED:
        if isinstance(schema.get(key), dict):
            _drop_schema_examples(schema[key])
    for key in _LISTS:
        for sub in schema.get(key, []):
            if isinstance(sub, dict):
                _drop_schema_examples(sub)


class _Document(OpenAPI):
    """The generated document, refined whenever it is turned into a dict."""

    def to_schema(self) -> dict[str, Any]:
        config: _Config = self._config  # type: ignore[attr-defined]
        return refine(super().to_schema(), config.handlers, config.facts)


class _Config(OpenAPIConfig):
    """Litestar's OpenAPI configuration, remembering each operation's handler for :func:`refine`."""

    def __init__(self, *, facts: Mapping[str, Documented], **options: Any) -> None:
        self.facts = facts
        self.handlers: dict[str, HTTPRouteHandler] = {}
        super().__init__(operation_id_creator=self._remember, **options)

    def _remember(
        self,
        handler: HTTPRouteHandler,
        method: Method,
        components: list[str | PathParameterDefinition],
    ) -> str:
        operation_id = OpenAPIConfig.operation_id_creator(handler, method, components)
        self.handlers[operation_id] = handler
        return operation_id

    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        document = _Document(**{name: getattr(base, name) for name in base.__dataclass_fields__})
        document._config = self  # type: ignore[attr-defined]
        return document


# --- Swagger UI, from the service's own files ----------------------------------------

ASSETS: Final = Path(__file__).parent / "swagger_ui"
ASSET_TYPES: Final[Mapping[str, str]] = {
    "swagger-ui-bundle.js": "text/javascript",
    "governance-init.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain",
    "NOTICE": "text/plain",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain",
}
_ASSET_ROUTE: Final = "swagger-ui-asset"
# Everything the page needs comes from here; Swagger UI sets inline styles and draws data: images.
DOCS_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class SwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI whose scripts, styles and icon the service serves itself (no CDN)."""

    def __init__(self, path: str | Sequence[str] = ("/swagger", "/")) -> None:
        super().__init__(path=path, media_type=MediaType.HTML)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page: local assets, and the document fetched from ``openapi.json``."""

        def asset(name: str) -> str:
            return html.escape(request.app.route_reverse(_ASSET_ROUTE, asset=name))

        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        document_url = html.escape(self.get_openapi_json_route(request))
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}: API documentation</title>\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<link rel="icon" type="image/png" href="{asset("favicon-32x32.png")}">\n'
            f'<link rel="stylesheet" href="{asset("swagger-ui.css")}">\n'
            "</head>\n<body>\n"
            f'<div id="swagger-ui" data-openapi-url="{document_url}"></div>\n'
            f'<script src="{asset("swagger-ui-bundle.js")}"></script>\n'
            f'<script src="{asset("governance-init.js")}"></script>\n'
            "</body>\n</html>\n"
        ).encode()

    def receive_router(self, router: Router) -> None:
        """Serve the assets beside the page, at ``<docs path>/assets/<name>``."""

        @get("/assets/{asset:str}", name=_ASSET_ROUTE, include_in_schema=False, sync_to_thread=False)
        def swagger_asset(asset: FromPath[str]) -> File:
            media_type = ASSET_TYPES.get(asset)
            if media_type is None:
                raise NotFoundException(f"No documentation asset {asset!r}")
            return File(
                path=ASSETS / asset,
                media_type=media_type,
                content_disposition_type="inline",
                headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
            )

        router.register(swagger_asset)


def openapi_config(
    *, title: str, version: str, description: str, facts: Mapping[str, Documented], path: str = "/schema"
) -> OpenAPIConfig:
    """The OpenAPI configuration: the refined document at ``<path>/openapi.json`` and Swagger
    UI at ``<path>`` and ``<path>/swagger``, its assets served from this package."""
    return _Config(
        facts=facts,
        title=title,
        version=version,
        description=description,
        path=path,
        render_plugins=[SwaggerUI()],
        openapi_router=Router(
            path,
            route_handlers=[],
            include_in_schema=False,
            response_headers=[ResponseHeader(name="Content-Security-Policy", value=DOCS_CSP)],
        ),
    )
