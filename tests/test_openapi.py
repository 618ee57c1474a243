"""The OpenAPI document tells the truth about every operation, and its docs work offline.

Every check runs across every operation of the real application's served document, and
reports all the operations that break it at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from openapi_spec_validator import validate

from governance.api_docs import FACTS
from governance.core.openapi import ASSETS, PROBLEM_REF
from tests.conftest import AuthHeaders

METHODS = ("get", "put", "post", "delete", "patch")
PROBLEM_JSON = "application/problem+json"
PUBLIC = {
    "GET /health",
    "GET /ready",
    "GET /api/v1/escalation-policy",
    "GET /api/v1/attestations/{attestation_id}/status",
    "GET /api/v1/vetting/ratings/method",
    "GET /api/v1/privacy/notices",
    "GET /api/v1/audit/public-key",
    "GET /api/v1/audit/checkpoint",
    "GET /tlog/checkpoint",
    "GET /tlog/tile/{level}/{index}",
    "POST /api/v1/credentials/verify",
    "GET /.well-known/did.json",
    "GET /credentials/status/{purpose}/{number}",
}


@pytest.fixture(scope="module")
def document(app: Litestar) -> dict[str, Any]:
    """The document as a client gets it, from /schema/openapi.json."""

    async def fetch() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            response = await client.get("/schema/openapi.json")
            assert response.status_code == 200
            served: dict[str, Any] = response.json()
            return served

    return asyncio.run(fetch())


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``("METHOD /path", operation)`` for every operation."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def has_body(operation: dict[str, Any]) -> bool:
    return "requestBody" in operation


def parameters(operation: dict[str, Any], where: str) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == where]


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert len(list(operations(document))) > 50


def test_every_operation_has_a_one_line_summary_and_its_docstring_as_description(document: dict[str, Any]) -> None:
    wrong = []
    for key, operation in operations(document):
        summary, description = operation.get("summary", ""), operation.get("description", "")
        flat = " ".join(description.replace("`", "").split())
        if not summary or "\n" in summary or len(summary) > 200 or not description or summary not in flat:
            wrong.append(f"{key}: summary {summary!r}")
    assert wrong == []
    complaint = document["paths"]["/api/v1/complaints/{complaint_id}"]["get"]
    assert complaint["summary"] == "One complaint"
    assert complaint["description"].startswith("One complaint: state, SLA standing, history and notes; `ETag`")


def test_every_error_is_problem_json_with_the_shared_schema(document: dict[str, Any]) -> None:
    wrong = []
    for key, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and response.get("content") != {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}:
                wrong.append(f"{key} {status}: {response}")
    assert wrong == []
    assert "Validation Exception" not in str(document)  # Litestar's own 400, which the service never sends

    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])
    assert set(problem["properties"]["errors"]["items"]["properties"]) == {"field", "source", "message"}


def test_errors_are_documented_where_they_can_occur(document: dict[str, Any]) -> None:
    missing = []
    for key, operation in operations(document):
        expected: set[int] = set()
        if key not in PUBLIC:
            expected |= {401, 403, 429}
        if operation.get("parameters") or has_body(operation):
            expected.add(400)
        if has_body(operation):
            expected |= {413, 415}
        if parameters(operation, "path"):
            expected.add(404)
        if "If-Match" in parameters(operation, "header"):
            expected |= {412, 428}
        documented = {int(status) for status in operation["responses"]}
        if expected - documented:
            missing.append(f"{key}: {sorted(expected - documented)}")
    assert missing == []
    statuses = document["paths"]["/api/v1/attestations/{attestation_id}/status"]["get"]["responses"]
    assert "429" in statuses  # public, but rate-limited
    transition = document["paths"]["/api/v1/complaints/{complaint_id}/transitions"]["post"]["responses"]
    assert {"409", "412", "428"} <= set(transition)


def test_public_operations_need_no_token_and_the_others_name_the_bearer_scheme(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert [s["scheme"].lower() for s in schemes.values()] == ["bearer"]
    bearer = [{name: []} for name in schemes]
    public = {key for key, operation in operations(document) if operation["security"] == []}
    assert public == PUBLIC
    assert all(op["security"] == bearer for key, op in operations(document) if key not in PUBLIC)


def _concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter filled with a value of its type."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            kind = parameter["schema"].get("type")
            value = "1" if kind == "integer" else str(uuid.uuid4())
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


async def test_what_the_document_says_about_tokens_is_what_the_service_does(
    client: httpx.AsyncClient, app: Litestar, document: dict[str, Any]
) -> None:
    wrong = []
    for key, operation in operations(document):
        method, path = key.split(" ", 1)
        response = await client.request(method, _concrete(path, operation))
        if (response.status_code == 401) != (key not in PUBLIC):
            wrong.append(f"{key} without a token: {response.status_code}")
    assert wrong == []


def _request_structs(app: Litestar) -> dict[str, type[msgspec.Struct]]:
    """The Struct each operation's request body decodes into, by "METHOD /path"."""
    found = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                data = handler.parsed_fn_signature.parameters.get("data")
                body = data.annotation if data is not None else None
                if isinstance(body, type) and issubclass(body, msgspec.Struct):
                    found[f"{method} {route.path_format}"] = body
    return found


def test_request_schemas_that_refuse_unknown_fields_say_so(app: Litestar, document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    structs = _request_structs(app)
    assert len(structs) > 15
    wrong = []
    for key, operation in operations(document):
        if key not in structs:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = schemas[ref.rsplit("/", 1)[1]]
        closed = structs[key].__struct_config__.forbid_unknown_fields
        if (schema.get("additionalProperties") is False) != closed:
            wrong.append(f"{key}: {ref} additionalProperties={schema.get('additionalProperties')}")
    assert wrong == []
    assert schemas["RefundCreate"]["additionalProperties"] is False
    assert "additionalProperties" not in schemas["ComplaintView"]  # a response: nothing refused


def test_request_schemas_say_what_the_decoder_enforces(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["DisputeCreate"]["properties"]["evidence"]["items"]["minLength"] == 1
    assert "pattern" in schemas["PreferencesUpdate"]["properties"]["retention"]["propertyNames"]
    assert "pattern" in schemas["CheckRecord"]["properties"]["details"]["propertyNames"]


async def test_if_match_is_documented_as_the_service_requires_it(
    client: httpx.AsyncClient, auth: AuthHeaders, document: dict[str, Any]
) -> None:
    versioned = [
        (key, p) for key, op in operations(document) for p in op.get("parameters", []) if p["name"] == "If-Match"
    ]
    # Every write of a versioned record, and nothing else.
    assert sorted(key for key, _ in versioned) == [
        "POST /api/v1/checks/{check_id}/transitions",
        "POST /api/v1/complaints/{complaint_id}/transitions",
        "POST /api/v1/disputes/{dispute_id}/transitions",
        "POST /api/v1/privacy/requests/{request_id}/transitions",
        "POST /api/v1/refunds/{refund_id}/transitions",
    ]
    assert all(p["required"] for _, p in versioned)
    pattern = versioned[0][1]["schema"]["pattern"]
    assert re.search(pattern, '"3"') and re.search(pattern, 'W/"3"')
    assert not re.search(pattern, "null") and not re.search(pattern, "*")
    url = f"/api/v1/complaints/{uuid.uuid4()}/transitions"
    staff = auth("support_agent")
    assert (await client.post(url, json={"to": "acknowledged"}, headers=staff)).status_code == 428
    malformed = {**staff, "If-Match": "null"}
    assert (await client.post(url, json={"to": "acknowledged"}, headers=malformed)).status_code == 400


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_no_generated_examples(document: dict[str, Any]) -> None:
    assert [value for key, value in _walk(document) if key in ("example", "examples")] == []
    rating = document["components"]["schemas"]["RatingView"]["properties"]["rating"]
    assert "-452492338" not in str(rating)


def test_every_documented_fact_names_a_real_operation(document: dict[str, Any]) -> None:
    assert set(FACTS) - {key for key, _ in operations(document)} == set()


def test_headers_handlers_read_themselves_are_documented(document: dict[str, Any]) -> None:
    refund = document["paths"]["/api/v1/refunds"]["post"]
    assert [p["required"] for p in refund["parameters"] if p["name"] == "Idempotency-Key"] == [True]
    assert refund["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/RefundView")
    permissions = document["paths"]["/api/v1/privacy/mentees/{mentee_id}/permissions"]["get"]
    assert "purpose" in parameters(permissions, "query")


async def test_parameter_bounds_and_cursors_say_what_the_service_accepts(
    client: httpx.AsyncClient, auth: AuthHeaders, document: dict[str, Any]
) -> None:
    seq = document["paths"]["/api/v1/audit/entries/{seq}"]["get"]["parameters"][0]["schema"]
    assert seq["maximum"] == 2**63 - 1  # not 2**63, as a float would say
    over = await client.get(f"/api/v1/audit/entries/{seq['maximum'] + 1}", headers=auth("auditor"))
    assert over.status_code == 400
    cursors = [p["schema"] for _, op in operations(document) for p in op.get("parameters", []) if p["name"] == "cursor"]
    assert len(cursors) > 5
    assert all(re.fullmatch(v["pattern"], "") is None for c in cursors for v in c["oneOf"] if v["type"] == "string")
    refused = await client.get("/api/v1/audit/entries", params={"cursor": ""}, headers=auth("auditor"))
    assert refused.status_code == 400


# --- Swagger UI, offline -----------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.document_url: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.urls.append(str(attributes["src"]))
        if tag == "link" and attributes.get("href"):
            self.urls.append(str(attributes["href"]))
        if attributes.get("data-openapi-url"):
            self.document_url = attributes["data-openapi-url"]


CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/schema/swagger", "/schema"])
async def test_the_docs_page_loads_everything_from_the_service(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # The browser enforces it: nothing may come from elsewhere, even if the page tried.
    assert "default-src 'self'" in response.headers["content-security-policy"]
    found = _Assets()
    found.feed(response.text)
    assert len(found.urls) >= 3
    assert not re.search(r"https?://", response.text)
    for url in found.urls:
        absolute = urljoin(f"http://testserver{page}", url)
        assert urlsplit(absolute).netloc == "testserver", url
        asset = await client.get(absolute)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[Path(urlsplit(url).path).suffix]), url
        assert len(asset.content) > 100, url
    assert found.document_url is not None
    spec = await client.get(urljoin(f"http://testserver{page}", found.document_url))
    assert spec.status_code == 200
    assert spec.json()["openapi"].startswith("3.1")


async def test_scalar_is_gone_and_unknown_assets_are_not_found(client: httpx.AsyncClient) -> None:
    assert (await client.get("/schema/scalar")).status_code == 404
    assert (await client.get("/schema/assets/..%2F..%2Fsettings.py")).status_code == 404
    assert (await client.get("/schema/assets/README.md")).status_code == 404


def test_vendored_swagger_ui_is_the_published_one() -> None:
    listed = (ASSETS / "SHA256SUMS").read_text().split("\n")
    for line in filter(None, listed):
        digest, name = line.split()
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (ASSETS / "LICENSE").read_text()


async def test_an_authenticated_route_without_a_token_answers_problem_json(
    client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert {"status", "title", "detail"} <= set(response.json())
    assert (await client.get("/api/v1/me", headers=auth("auditor"))).status_code == 200
