"""Verified tokens are remembered, but time is checked on every request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from governance.core import identity
from governance.core.identity import issue_token, jwt_secret
from governance.settings import Settings


async def test_a_remembered_token_still_expires(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issue_token(settings, "officer-exp", ["compliance_officer"], timedelta(minutes=5))
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200  # from the cache

    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime.now(UTC) + timedelta(minutes=10)

    monkeypatch.setattr(identity, "datetime", Later)
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_a_token_signed_with_another_key_is_never_taken_from_the_cache(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "x", "roles": ["auditor"], "iat": now, "exp": now + 600, "iss": settings.jwt_issuer}
    good = jwt.encode(claims, jwt_secret(settings), algorithm="HS256")
    forged = jwt.encode(claims, "another-secret-of-enough-length-0123456789", algorithm="HS256")
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})).status_code == 200
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_a_token_that_is_not_yet_valid_is_refused_on_every_request(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "sub": "x",
        "roles": ["auditor"],
        "iat": now,
        "exp": now + 600,
        "nbf": now + 300,
        "iss": settings.jwt_issuer,
    }
    early = jwt.encode(claims, jwt_secret(settings), algorithm="HS256")
    for _ in range(2):
        assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {early}"})).status_code == 401
