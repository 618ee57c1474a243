"""HTTP basics: health, readiness, OpenAPI, metrics, problem details, body limit, identity."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest

from governance.core import db
from governance.core.identity import ROLES
from governance.settings import Settings

from .conftest import AuthHeaders


async def test_health_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_answers_when_the_database_does(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ready")).status_code == 200


async def test_ready_is_503_when_the_database_is_unreachable(
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unreachable() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(db, "ping", unreachable)
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in ("/api/v1/me", "/api/v1/audit/entries", "/api/v1/audit/verify", "/api/v1/audit/checkpoint"):
        assert path in paths


async def test_me_returns_subject_and_roles(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    response = await client.get("/api/v1/me", headers=auth("mentor", "platform", sub="mentor-7"))
    assert response.status_code == 200
    assert response.json() == {"sub": "mentor-7", "roles": ["mentor", "platform"]}


def _token(settings: Settings, **claims: object) -> str:
    payload = {"sub": "someone", "roles": ["auditor"], "exp": 4_000_000_000, "iss": settings.jwt_issuer}
    payload.update(claims)
    from governance.core.identity import jwt_secret

    return jwt.encode({k: v for k, v in payload.items() if v is not None}, jwt_secret(settings), algorithm="HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer garbage",
        "Basic dXNlcjpwYXNz",
        "Bearer " + jwt.encode({"sub": "x", "roles": ["admin"], "exp": 4_000_000_000}, "a" * 40),
    ],
    ids=["missing", "malformed", "not-bearer", "badly-signed"],
)
async def test_requests_without_a_valid_token_are_401(
    client: httpx.AsyncClient,
    authorization: str | None,
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "claims",
    [{"exp": 1_000_000_000}, {"roles": None}, {"roles": []}, {"roles": ["superuser"]}, {"roles": "admin"}],
    ids=["expired", "no-roles", "empty-roles", "unknown-role", "roles-not-a-list"],
)
async def test_tokens_with_bad_claims_are_401(
    client: httpx.AsyncClient,
    settings: Settings,
    claims: dict[str, object],
) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {_token(settings, **claims)}"})
    assert response.status_code == 401


async def test_validation_errors_name_the_field(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    response = await client.get("/api/v1/audit/entries?limit=0&since=yesterday", headers=auth("auditor"))
    assert response.status_code == 400
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {error["field"] for error in body["errors"]} == {"limit", "since"}
    assert "limit" in body["detail"]


async def test_bodies_over_the_limit_answer_413(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post("/api/v1/me", content=b"x" * (settings.max_request_body_bytes + 1))
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unknown_routes_are_problem_json(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    response = await client.get("/api/v1/nothing-here", headers=auth("admin"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_metrics_label_routes_by_template_without_identifiers(
    client: httpx.AsyncClient,
    auth: AuthHeaders,
) -> None:
    await client.get("/api/v1/audit/entries/987654", headers=auth("auditor"))
    text = (await client.get("/metrics")).text
    assert 'path="/api/v1/audit/entries/{seq}"' in text
    # Metric values are numbers whose digits may contain any id by chance; a label may not.
    assert "entries/987654" not in text
    labels = [line[line.index("{") : line.index("}")] for line in text.splitlines() if "{" in line]
    assert labels and not [label for label in labels if "987654" in label]


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    fresh = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert fresh.headers["x-request-id"] != "bad id with spaces"


def test_every_role_can_get_a_token(settings: Settings) -> None:
    from governance.core.identity import issue_token

    for role in ROLES:
        claims = jwt.decode(
            issue_token(settings, "s", [role], timedelta(minutes=1)),
            options={"verify_signature": False},
        )
        assert claims["roles"] == [role]
        assert claims["exp"] > claims["iat"]
