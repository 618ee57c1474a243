"""Every route x every role against the expected matrix kept beside the policy."""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from governance.app import create_app
from governance.core.authz import Authorizer
from governance.core.identity import ROLES
from governance.settings import Settings

from ..conftest import AuthHeaders

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MATRIX = list(csv.DictReader((POLICIES / "matrix.csv").open()))
OWNER_PARAM = re.compile(r"\{(\w+)\}")


def api_routes(app: Litestar) -> set[tuple[str, str]]:
    """(method, template) of every /api/v1 route the application serves."""
    found = set()
    for route in app.routes:
        if not route.path.startswith("/api/v1"):
            continue
        for method in route.methods - {"OPTIONS", "HEAD"}:  # type: ignore[attr-defined]
            found.add((method, re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)))
    return found


def test_the_matrix_covers_exactly_the_served_routes(settings: Settings) -> None:
    served = api_routes(create_app(settings))
    listed = {(row["method"], row["route"]) for row in MATRIX}
    assert served == listed, "policies/matrix.csv must list every /api/v1 route, and only those"


def test_the_matrix_names_every_role() -> None:
    assert set(MATRIX[0]) - {"method", "route"} == set(ROLES)


def _sample_path(template: str, sub: str) -> str:
    # Numeric placeholders where the route expects numbers; the caller's sub for owner params.
    return OWNER_PARAM.sub(lambda m: "1" if m.group(1) in {"seq", "id"} else sub, template)


@pytest.mark.parametrize(("row", "role"), list(itertools.product(MATRIX, ROLES)))
async def test_route_role_matrix(
    client: httpx.AsyncClient,
    auth: AuthHeaders,
    row: dict[str, str],
    role: str,
) -> None:
    expected = row[role]
    response = await client.request(
        row["method"], _sample_path(row["route"], "someone-else"), headers=auth(role, sub="caller-1")
    )
    if expected == "allow":
        assert response.status_code != 403, f"{role} should reach {row['method']} {row['route']}"
    else:
        assert response.status_code == 403, f"{role} must not reach {row['method']} {row['route']}"
        assert response.headers["content-type"].startswith("application/problem+json")
    if expected == "own":
        own = await client.request(
            row["method"], _sample_path(row["route"], "caller-1"), headers=auth(role, sub="caller-1")
        )
        assert own.status_code != 403, f"{role} should reach its own {row['route']}"


def test_cached_and_uncached_decisions_agree_everywhere(settings: Settings) -> None:
    authorizer = Authorizer(settings.effective_policy_dir)
    routes = {row["route"] for row in MATRIX} | {"/api/v1/unknown"}
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
    for _ in range(2):  # second pass answers from the cache
        for role, route, method, owner in itertools.product((*ROLES, "system"), routes, methods, ("self", "other")):
            assert authorizer.decide(role, route, method, owner) == authorizer.decide_uncached(
                role, route, method, owner
            )
    authorizer.reload()
    assert authorizer.decide("auditor", "/api/v1/audit/entries", "GET", "other")


def test_no_rule_lets_anyone_write_audit_history(settings: Settings) -> None:
    rules = Authorizer(settings.effective_policy_dir).policy_rules()
    assert rules, "the policy must load"
    for role, route, method, _scope in rules:
        if "/audit" in route:
            assert method == "GET", f"{role} may {method} {route}: audit history is read-only"


async def test_a_denial_is_audited_and_auditors_find_it(
    client: httpx.AsyncClient,
    auth: AuthHeaders,
) -> None:
    denied = await client.get("/api/v1/audit/entries", headers=auth("mentee", sub="mentee-denied-1"))
    assert denied.status_code == 403
    assert denied.json()["status"] == 403
    found = await client.get(
        "/api/v1/audit/entries",
        params={"action": "access.denied", "actor": "mentee-denied-1"},
        headers=auth("auditor"),
    )
    assert found.status_code == 200
    [entry] = found.json()["items"]
    assert entry["outcome"] == "denied"
    assert entry["resource"] == {"type": "route", "id": "GET /api/v1/audit/entries"}
    assert entry["request_id"] == denied.headers["x-request-id"]
