"""What every request passes at the edge: bad input answers a clear 4xx and changes nothing.

Each test here stands for a defect found by probing the service (issue 11): it failed
before the edge rules existed, on one engine or both.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.app import create_app
from governance.audit import service
from governance.audit.tables import AuditEntry
from governance.complaints.tables import Complaint
from governance.core.edge import client_address, json_depth
from governance.core.identity import ROLES, jwt_secret
from governance.core.limits import MAX_IDENTIFIER, MAX_JSON_DEPTH
from governance.settings import Settings

from .conftest import AuthHeaders

JSON = {"content-type": "application/json"}
EVERY_ROLE = ROLES  # a token allowed everywhere, so the edge is what answers


@asynccontextmanager
async def client_with(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(msgspec.structs.replace(settings, **changes))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def audit_size() -> int:
    await service.number_queued()  # entries committed so far, numbered as the sequencer would
    return int(await AuditEntry.count())


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if field is not None:
        assert field in [error["field"] for error in body.get("errors", [])], body
    return body


async def json_operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """(method, concrete path) of every operation that takes a JSON body, ids filled in."""
    document = (await client.get("/schema/openapi.json")).json()
    found = []
    for template, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            if "application/json" in content:
                path = template
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        path = path.replace("{" + parameter["name"] + "}", str(uuid.uuid4()))
                found.append((method.upper(), path))
    assert len(found) >= 15  # the API's JSON routes, not an empty walk
    return found


# --- 3. no-store ----------------------------------------------------------------------


async def test_authenticated_answers_are_never_cached(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    officer = auth("compliance_officer", sub="officer-1")
    for response in (
        await client.get("/api/v1/me", headers=officer),
        await client.get("/api/v1/audit/entries", headers=officer),
        await client.get("/api/v1/complaints", headers=auth("mentee", sub="mentee-1")),
        await client.get("/api/v1/me"),  # 401
        await client.get("/api/v1/evidence/bundles", headers=auth("mentee", sub="mentee-1")),  # 403
    ):
        assert response.headers.get("cache-control") == "no-store", (response.request.url, response.status_code)


async def test_public_routes_keep_their_own_caching(client: httpx.AsyncClient) -> None:
    for path in ("/health", "/api/v1/escalation-policy", "/api/v1/privacy/notices", "/api/v1/vetting/ratings/method"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers.get("cache-control") != "no-store", path


# --- 4. NUL and control characters ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "field", "source"),
    [
        ("GET", "/api/v1/audit/entries?actor=a%00b", "actor", "query"),
        ("GET", "/api/v1/complaints?assignee=%00", "assignee", "query"),
        ("GET", "/api/v1/refunds?session_id=s%01", "session_id", "query"),
        ("GET", "/api/v1/privacy/requests?mentee_id=m%00", "mentee_id", "query"),
        ("GET", "/api/v1/privacy/mentees/m%00e/preferences", "mentee_id", "path"),
        ("GET", "/api/v1/privacy/mentees/m%00e/permissions?purpose=marketing", "mentee_id", "path"),
        ("GET", "/api/v1/privacy/mentees/me/permissions?purpose=a%00", "purpose", "query"),
        ("GET", "/api/v1/mentors/m%0A/attestation-quality", "mentor_id", "path"),
    ],
)
async def test_control_characters_in_the_url_answer_400_naming_the_parameter(
    client: httpx.AsyncClient, auth: AuthHeaders, method: str, path: str, field: str, source: str
) -> None:
    before = await audit_size()
    response = await client.request(method, path, headers=auth(*EVERY_ROLE, sub="someone"))
    body = assert_problem(response, 400, field)
    assert body["errors"][0]["source"] == source
    assert await audit_size() == before  # refused before any lookup, denial or write


async def test_a_nul_in_a_path_id_changes_nothing(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    platform = auth("platform", sub="platform-1")
    before = await audit_size()
    response = await client.put(
        "/api/v1/sessions/s%00-1/payment",
        json={"mentee_id": "mentee-1", "amount_minor": 100, "currency": "EUR"},
        headers=platform,
    )
    assert_problem(response, 400, "session_id")
    assert await audit_size() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "other", "description": "late\u0000session"}, "description"),
        ({"category": "other", "description": "fine", "desired_remedy": "\u0000"}, "desired_remedy"),
        ({"category": "other", "description": "fine", "complainant_id": "mentee\u0000-1"}, "complainant_id"),
        ({"category": "other", "description": "fine", "complainant_id": "mentee-1\n"}, "complainant_id"),
        ({"category": "other", "description": "fine", "complainant_id": "mentee\u001b[31m"}, "complainant_id"),
        ({"category": "other", "description": "fine", "session_id": "\u007f"}, "session_id"),
    ],
)
async def test_nul_anywhere_and_control_characters_in_identifiers_are_refused(
    client: httpx.AsyncClient, auth: AuthHeaders, body: dict[str, str], field: str
) -> None:
    before = (await audit_size(), await Complaint.count())
    response = await client.post("/api/v1/complaints", json=body, headers=auth("support_agent", sub="agent-1"))
    assert_problem(response, 400, field)
    assert (await audit_size(), await Complaint.count()) == before


async def test_free_text_keeps_its_line_breaks(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    description = "First line.\n\tSecond, indented.\r\nThird."
    response = await client.post(
        "/api/v1/complaints",
        json={"category": "other", "description": description, "complainant_id": "mentee-1"},
        headers=auth("support_agent", sub="agent-1"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["description"] == description


async def test_a_nul_deep_inside_a_body_is_named(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    response = await client.put(
        "/api/v1/privacy/mentees/mentee-1/preferences",
        content=b'{"preferences": {}, "retention": {"session_notes": "P1Y\\u0000"}}',
        headers={**auth("platform", sub="platform-1"), **JSON},
    )
    assert_problem(response, 400, "retention.session_notes")


# --- 5. over-long identifiers ---------------------------------------------------------


@pytest.mark.parametrize("length", [MAX_IDENTIFIER + 1, 40_000])
async def test_over_long_path_ids_answer_400_on_both_engines(
    client: httpx.AsyncClient, auth: AuthHeaders, length: int
) -> None:
    platform = auth("platform", sub="platform-1")
    long_id = "s" * length
    before = await audit_size()
    payment = await client.put(
        f"/api/v1/sessions/{long_id}/payment",
        json={"mentee_id": "mentee-1", "amount_minor": 100, "currency": "EUR"},
        headers=platform,
    )
    assert_problem(payment, 400, "session_id")
    preferences = await client.put(
        f"/api/v1/privacy/mentees/{long_id}/preferences", json={"preferences": {}}, headers=platform
    )
    assert_problem(preferences, 400, "mentee_id")
    permission = await client.get(f"/api/v1/privacy/mentees/{long_id}/permissions?purpose=x", headers=platform)
    assert_problem(permission, 400, "mentee_id")
    assert await audit_size() == before


async def test_a_path_valued_parameter_is_measured_without_its_leading_slash(client: httpx.AsyncClient) -> None:
    """The documented maxLength of a tile index is of the value the client sends: exactly at
    the limit is read (a 404: no such tile), one more is a 400 naming it."""
    at_limit = await client.get("/tlog/tile/0/" + "0" * MAX_IDENTIFIER)
    assert at_limit.status_code == 404, at_limit.text
    assert_problem(await client.get("/tlog/tile/0/" + "0" * (MAX_IDENTIFIER + 1)), 400, "index")


async def test_an_id_of_the_declared_maximum_is_accepted(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    session = "s" * MAX_IDENTIFIER
    response = await client.put(
        f"/api/v1/sessions/{session}/payment",
        json={"mentee_id": "m" * MAX_IDENTIFIER, "amount_minor": 100, "currency": "EUR"},
        headers=auth("platform", sub="platform-1"),
    )
    assert response.status_code in (200, 201), response.text
    assert response.json()["session_id"] == session


async def test_over_long_query_filters_answer_400(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    officer = auth("compliance_officer", "support_agent", sub="officer-1")
    for path, field in (
        (f"/api/v1/audit/entries?actor={'a' * 201}", "actor"),
        (f"/api/v1/complaints?assignee={'a' * 201}", "assignee"),
        (f"/api/v1/complaints?cursor={'a' * 501}", "cursor"),
    ):
        assert_problem(await client.get(path, headers=officer), 400, field)


async def test_the_openapi_document_declares_every_identifier_limit(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    unbounded = []
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                # Headers are advisory here (If-None-Match, Sec-GPC); the server bounds their size.
                if parameter["in"] in ("path", "query") and _is_free_string(schema):
                    unbounded.append(f"{method.upper()} {template} {parameter['in']} {parameter['name']}")
    assert unbounded == []


async def test_every_string_a_body_may_carry_has_a_declared_maximum(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    components = document["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], name, seen | {name})
            return
        kind = schema.get("type")
        kinds = set(kind) if isinstance(kind, list) else {kind}
        if "string" in kinds and not schema.keys() & {"maxLength", "enum", "const", "format"}:
            unbounded.append(where)
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in schema.get(key, []):
                walk(branch, where, seen)
        for name, inner in schema.get("properties", {}).items():
            walk(inner, f"{where}.{name}", seen)
        for key, suffix in (("items", "[]"), ("additionalProperties", "{}"), ("propertyNames", "{key}")):
            if isinstance(schema.get(key), dict):
                walk(schema[key], where + suffix, seen)

    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    walk(media.get("schema", {}), "body", frozenset())
    assert unbounded == []


def _is_free_string(schema: dict[str, Any]) -> bool:
    branches = [schema, *schema.get("oneOf", [])]
    kinds: set[str] = set()
    for branch in branches:
        kind = branch.get("type")
        kinds |= set(kind) if isinstance(kind, list) else {kind} if kind else set()
    constrained = any("maxLength" in branch or "enum" in branch or "format" in branch for branch in branches)
    return "string" in kinds and not constrained


# --- 6. deep nesting, 12. content types, 13. duplicate keys ---------------------------


async def test_every_json_route_refuses_deep_nesting(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    headers = {**auth(*EVERY_ROLE, sub="someone"), **JSON, "If-Match": '"1"', "Idempotency-Key": "k-1"}
    deep = b"[" * 1000 + b"]" * 1000
    before = await audit_size()
    for method, path in await json_operations(client):
        response = await client.request(method, path, content=deep, headers=headers)
        body = assert_problem(response, 400)
        assert "nests deeper" in body["detail"], (method, path)
    assert await audit_size() == before


async def test_nesting_up_to_the_limit_is_decoded(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    nested = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    response = await client.post(
        "/api/v1/complaints", content=nested, headers={**auth("support_agent", sub="agent-1"), **JSON}
    )
    body = assert_problem(response, 400)
    assert "nests deeper" not in body["detail"]  # a wrong shape, judged by the schema


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
async def test_every_json_route_answers_415_to_other_content_types(
    client: httpx.AsyncClient, auth: AuthHeaders, content_type: str | None
) -> None:
    headers = {**auth(*EVERY_ROLE, sub="someone"), "If-Match": '"1"', "Idempotency-Key": "k-1"}
    if content_type:
        headers["content-type"] = content_type
    for method, path in await json_operations(client):
        response = await client.request(method, path, content=b'{"to": "closed"}', headers=headers)
        assert_problem(response, 415)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/problem+json", "APPLICATION/JSON"]
)
async def test_json_media_types_are_accepted(client: httpx.AsyncClient, auth: AuthHeaders, content_type: str) -> None:
    response = await client.post(
        "/api/v1/complaints",
        content=b'{"category": "other", "description": "ok", "complainant_id": "mentee-1"}',
        headers={**auth("support_agent", sub="agent-1"), "content-type": content_type},
    )
    assert response.status_code == 201, response.text


async def test_duplicate_keys_are_refused_not_resolved(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    platform = auth("platform", sub="platform-1")
    response = await client.put(
        "/api/v1/sessions/session-dup/payment",
        content=b'{"mentee_id": "mentee-1", "amount_minor": 100, "currency": "EUR", "amount_minor": 100000}',
        headers={**platform, **JSON},
    )
    body = assert_problem(response, 400, "amount_minor")
    assert "more than once" in body["detail"]
    nested = await client.put(
        "/api/v1/privacy/mentees/mentee-1/preferences",
        content=b'{"preferences": {"marketing": "granted", "marketing": "withdrawn"}}',
        headers={**platform, **JSON},
    )
    assert_problem(nested, 400, "marketing")
    # Nothing was stored: the session has no payment.
    refund = await client.post(
        "/api/v1/refunds",
        json={"amount_minor": 100, "currency": "EUR", "reason": "r", "session_id": "session-dup"},
        headers={**auth("support_agent", sub="agent-1"), "Idempotency-Key": "dup-1"},
    )
    assert refund.status_code in (404, 409, 422), refund.text


async def test_every_json_route_refuses_duplicate_keys(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    headers = {**auth(*EVERY_ROLE, sub="someone"), **JSON, "If-Match": '"1"', "Idempotency-Key": "k-1"}
    for method, path in await json_operations(client):
        response = await client.request(method, path, content=b'{"to": "a", "to": "b"}', headers=headers)
        assert_problem(response, 400, "to")


@given(st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)))
def test_json_depth_counts_brackets_outside_strings(value: Any) -> None:
    def depth(item: Any) -> int:
        return 1 + max((depth(child) for child in item), default=0) if isinstance(item, list) else 0

    encoded = msgspec.json.encode(value)
    decoy = msgspec.json.encode({"s": "[[[[" * 20 + '\\"{{'})
    expected = depth(value)
    measured = json_depth(encoded)
    assert measured == expected or (expected <= MAX_JSON_DEPTH and measured == 0)
    assert json_depth(decoy) == 1  # 82 brackets, all inside one string


# --- 7. token claims, 11. only Bearer -------------------------------------------------


def _signed(settings: Settings, **claims: Any) -> str:
    payload = {
        "sub": "someone",
        "roles": ["mentee"],
        "iat": 1_700_000_000,
        "exp": 4_000_000_000,
        "iss": settings.jwt_issuer,
        **claims,
    }
    return jwt.encode(payload, jwt_secret(settings), algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "mentee\u00001"},
        {"sub": "mentee\n"},
        {"sub": "x" * (MAX_IDENTIFIER + 1)},
        {"sub": ""},
        {"roles": ["mentee"] * 50},
        {"roles": "mentee"},
        {"roles": ["mentee", "root"]},
    ],
)
async def test_tokens_with_unusable_claims_answer_401(
    client: httpx.AsyncClient, settings: Settings, claims: dict[str, Any]
) -> None:
    before = await audit_size()
    token = _signed(settings, **claims)
    response = await client.get("/api/v1/evidence/bundles", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)
    assert await audit_size() == before


async def test_a_valid_token_denied_a_route_is_still_audited(client: httpx.AsyncClient, settings: Settings) -> None:
    before = await audit_size()
    token = _signed(settings, sub="mentee-ü")
    response = await client.get("/api/v1/evidence/bundles", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 403)
    assert await audit_size() == before + 1


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT", ""])
async def test_only_the_bearer_scheme_authenticates(client: httpx.AsyncClient, settings: Settings, scheme: str) -> None:
    token = _signed(settings, roles=["auditor"])
    response = await client.get("/api/v1/me", headers={"Authorization": f"{scheme} {token}".strip()})
    assert_problem(response, 401)
    lower = await client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"})
    assert lower.status_code == 200


# --- 8. bounded denials and per-subject rate limits -----------------------------------


async def test_a_flood_of_denied_long_paths_leaves_bounded_entries(database: Settings, auth: AuthHeaders) -> None:
    mentee = auth("mentee", sub="mentee-flood")
    first = await audit_size()
    # Every denial leaves one entry of bounded size, whatever the path: 250 show it as well as
    # more would (parsing each 40 KB URL in the client costs more than the application's answer).
    flood = 250
    async with client_with(database, rate_limit=0) as client:
        for index in range(flood):
            path = f"/api/v1/privacy/mentees/{index:05d}{'x' * 40_960}/preferences"
            # Built whole: the client's base-URL merge would parse the long URL twice more.
            response = await client.send(httpx.Request("GET", f"http://testserver{path}", headers=mentee))
            assert response.status_code == 403
    await service.number_queued()
    rows = await AuditEntry.select().where(AuditEntry.seq >= first).order_by(AuditEntry.seq)
    assert len(rows) == flood
    assert all(row["action"] == "access.denied" for row in rows)
    sizes = [sum(len(str(value).encode()) for value in row.values()) for row in rows]
    assert max(sizes) <= 1024
    assert sum(sizes) < flood * 2 * 1024
    details = msgspec.json.decode(rows[0]["details"])
    assert details["route"] == "/api/v1/privacy/mentees/{mentee_id}/preferences"
    assert len(details["path_sha256"]) == 64
    assert details["path_params"]["mentee_id"].endswith("more characters]")
    assert len({msgspec.json.decode(row["details"])["path_sha256"] for row in rows}) == flood


async def test_each_subject_is_rate_limited_on_its_own(database: Settings, auth: AuthHeaders) -> None:
    async with client_with(database, rate_limit=5) as client:
        for _ in range(5):
            assert (await client.get("/api/v1/me", headers=auth("auditor", sub="busy"))).status_code == 200
        refused = await client.get("/api/v1/me", headers=auth("auditor", sub="busy"))
        body = assert_problem(refused, 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "retry after" in body["detail"]
        assert (await client.get("/api/v1/me", headers=auth("auditor", sub="calm"))).status_code == 200
        # Public routes are not counted against anybody.
        assert (await client.get("/api/v1/escalation-policy")).status_code == 200


# --- 9. forwarded addresses -----------------------------------------------------------


async def _status_checks(client: httpx.AsyncClient, count: int) -> list[int]:
    attestation = uuid.uuid4()
    return [
        (
            await client.get(
                f"/api/v1/attestations/{attestation}/status", headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
        ).status_code
        for n in range(count)
    ]


async def test_a_rotating_forwarded_for_does_not_bypass_the_public_limit(database: Settings) -> None:
    async with client_with(database, attestation_status_rate_limit=3) as client:
        statuses = await _status_checks(client, 5)
    assert statuses[:3] == [404, 404, 404]
    assert statuses[3:] == [429, 429]


async def test_forwarded_for_counts_only_from_a_trusted_proxy(database: Settings) -> None:
    async with client_with(database, attestation_status_rate_limit=3, trusted_proxies=("203.0.113.0/24",)) as client:
        statuses = await _status_checks(client, 5)
    assert statuses == [404] * 5  # five different clients behind our proxy


def test_client_address_walks_the_chain_back_to_the_first_untrusted_hop() -> None:
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)

    def scope(peer: str, forwarded: str | None) -> dict[str, Any]:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
        return {"client": (peer, 1), "headers": headers}

    assert client_address(scope("198.51.100.1", "1.2.3.4"), trusted) == "198.51.100.1"  # untrusted peer
    assert client_address(scope("10.0.0.2", "1.2.3.4, 10.0.0.9"), trusted) == "1.2.3.4"
    assert client_address(scope("10.0.0.2", "6.6.6.6, 1.2.3.4"), trusted) == "1.2.3.4"  # spoofed head ignored
    assert client_address(scope("10.0.0.2", None), trusted) == "10.0.0.2"
    assert client_address(scope("10.0.0.2", "not-an-ip"), trusted) == "not-an-ip"
    assert client_address(scope("10.0.0.2", "1.2.3.4"), ()) == "10.0.0.2"


def test_serve_leaves_forwarded_headers_to_the_application(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    from governance.cli import main

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(main, ["serve", "--no-migrate"])
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is False


def test_trusted_proxies_are_validated() -> None:
    from governance.settings import SettingsError

    settings = Settings.from_env({"GOVERNANCE_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"})
    assert settings.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")
    with pytest.raises(SettingsError, match="GOVERNANCE_TRUSTED_PROXIES"):
        Settings.from_env({"GOVERNANCE_TRUSTED_PROXIES": "10.0.0.1,proxy.example"})


# --- 10. request ids ------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["a" * 65, "<script>", "id with spaces", "ü-umlaut", "a/b", ""])
async def test_an_unsafe_request_id_is_replaced_before_it_reaches_the_log(
    client: httpx.AsyncClient, auth: AuthHeaders, request_id: str
) -> None:
    before = await audit_size()
    response = await client.get(
        "/api/v1/evidence/bundles",
        headers={**auth("mentee", sub="mentee-1"), "X-Request-ID": request_id.encode()},
    )
    assert response.status_code == 403
    issued = response.headers["x-request-id"]
    assert issued != request_id
    await service.number_queued()
    [entry] = await AuditEntry.select(AuditEntry.request_id).where(AuditEntry.seq >= before)
    assert entry["request_id"] == issued


async def test_a_safe_request_id_is_kept(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    before = await audit_size()
    response = await client.get(
        "/api/v1/evidence/bundles", headers={**auth("mentee", sub="mentee-1"), "X-Request-ID": "req-42.a_b"}
    )
    assert response.headers["x-request-id"] == "req-42.a_b"
    await service.number_queued()
    [entry] = await AuditEntry.select(AuditEntry.request_id).where(AuditEntry.seq >= before)
    assert entry["request_id"] == "req-42.a_b"


@pytest.mark.parametrize("raw", [b"req-1\n", b"req-1\r\n", b"req\x00", b"a" * 65])
def test_request_ids_are_matched_whole(raw: bytes) -> None:
    from governance.core.logging import request_id_from

    issued = request_id_from({"headers": [(b"x-request-id", raw)]})
    assert issued != raw.decode("latin-1")
    assert len(issued) == 32  # a fresh uuid4 hex


@pytest.mark.parametrize("key", ["key-1\n", "key 1", "", "k" * 201])
async def test_idempotency_keys_are_matched_whole(client: httpx.AsyncClient, auth: AuthHeaders, key: str) -> None:
    response = await client.post(
        "/api/v1/refunds",
        json={"amount_minor": 100, "currency": "EUR", "reason": "r", "session_id": "s-1"},
        headers={**auth("support_agent", sub="agent-1"), "Idempotency-Key": key.encode()},
    )
    assert_problem(response, 400, "Idempotency-Key")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"score": 4.0}, "score"),  # an integer in the schema
        ({"session_at": 0}, "session_at"),  # a date-time string in the schema
        ({"session_at": "2026-01-01T10:00:00"}, "session_at"),  # no offset: no moment
        ({"mentee_id": 7}, "mentee_id"),
    ],
)
async def test_bodies_are_decoded_as_strictly_as_the_schema_reads(
    client: httpx.AsyncClient, auth: AuthHeaders, body: dict[str, Any], field: str
) -> None:
    rating = {"session_id": "s-1", "mentee_id": "mentee-1", "score": 4, "session_at": "2026-01-01T10:00:00Z"}
    response = await client.post(
        f"/api/v1/mentors/{uuid.uuid4()}/ratings", json={**rating, **body}, headers=auth("platform", sub="platform-1")
    )
    assert_problem(response, 400, field)


@pytest.mark.parametrize("email", ["ada\ufeff@example.org", "ada\x85@example.org", "ada@example.org\n", "a da@x.org"])
async def test_addresses_either_dialect_refuses_are_refused(
    client: httpx.AsyncClient, auth: AuthHeaders, email: str
) -> None:
    response = await client.post(
        "/api/v1/mentors",
        json={
            "external_id": f"m-{uuid.uuid4().hex[:8]}",
            "display_name": "Ada",
            "email": email,
            "jurisdiction": "GB",
            "engagement_type": "contractor",
        },
        headers=auth("platform", sub="platform-1"),
    )
    assert_problem(response, 400, "email")


async def test_options_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    for template, item in document["paths"].items():
        documented = {method.upper() for method in item if method in {"get", "post", "put", "patch", "delete"}}
        kinds = {
            parameter["name"]: parameter["schema"].get("type")
            for operation in item.values()
            if isinstance(operation, dict)
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "path"
        }
        path = template
        for name, kind in kinds.items():
            path = path.replace("{" + name + "}", "1" if kind == "integer" else str(uuid.uuid4()))
        response = await client.options(path)
        allowed = {method.strip() for method in response.headers.get("allow", "").split(",")}
        assert documented <= allowed, (template, allowed)
