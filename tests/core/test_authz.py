"""Every route x every role against the expected matrix kept beside the policy."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from governance.core.authz import Authorizer
from governance.core.clock import ManualClock
from governance.core.identity import ROLES, Identity
from governance.settings import Settings
from governance.web import sessions
from governance.web.config import Web
from governance.web.security import csrf_token
from governance.wiring import record_denial

from ..conftest import AuthHeaders, app_client

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MATRIX = list(csv.DictReader((POLICIES / "matrix.csv").open()))
PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
# A well-formed value for each typed path parameter (the guard runs after routing), naming no record.
SAMPLE_BY_TYPE = {"int": "999999999", "uuid": "00000000-0000-4000-8000-000000000001"}


def guarded_routes(app: Litestar) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(method, template) -> (typed path, handler opt) of every guarded route served: the
    /api/v1 routes and the pages (public routes and static files have no matrix row)."""
    found = {}
    for route in app.routes:
        for method, handler in route.route_handler_map.items():  # type: ignore[attr-defined]
            if method in {"OPTIONS", "HEAD"} or handler[0].opt.get("exclude_from_auth"):
                continue  # public routes answer without a token; they have no matrix row
            if route.path.startswith(("/schema", "/metrics", "/health", "/ready")):
                continue  # operations and docs, outside the guard
            template = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
            found[(method, template)] = (route.path, handler[0].opt)
    return found


def is_page(route: str) -> bool:
    return not route.startswith(("/api/", "/tlog/"))


@pytest.fixture(scope="module")
def served(app: Litestar) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    return guarded_routes(app)


@pytest.fixture(scope="module")
def operations(app: Litestar) -> dict[str, Any]:
    """The OpenAPI paths object, built once (rendering it is most of a case's cost)."""
    paths: dict[str, Any] = app.openapi_schema.to_schema()["paths"]
    return paths


@pytest.fixture(scope="module")
def web(settings: Settings) -> Web:
    return Web.configure(settings)


# Records that exist for every subject from the start, so their owner reads them (200), never 404.
EXIST_FOR_EVERY_SUBJECT = {
    "/api/v1/privacy/mentees/{mentee_id}/preferences",  # defaults until the mentee chooses
    "/api/v1/privacy/mentees/{mentee_id}/preferences/history",  # empty until the first change
    "/api/v1/mentors/{mentor_id}/attestation-quality",  # figures over that id's attestations: none yet
}


def expected_when_reached(operations: dict[str, Any], method: str, template: str) -> int:
    """The status a caller who passes the guard gets for the matrix's bare request.

    The request has no body, no query and ids of records that do not exist, so the answer
    follows from the route's OpenAPI operation: a missing body or a missing required query
    parameter is 400, an unknown record 404, anything else 200. Any other status (a 500
    above all) is a failure of the matrix, not a pass.
    """
    operation = operations[template][method.lower()]
    parameters = operation.get("parameters", [])
    if operation.get("requestBody", {}).get("required"):
        return 400
    if any(p["in"] == "query" and p.get("required") for p in parameters):
        return 400
    if any(p["in"] == "path" for p in parameters) and template not in EXIST_FOR_EVERY_SUBJECT:
        return 404
    return 200


def test_the_matrix_covers_exactly_the_served_routes(served: dict[tuple[str, str], Any]) -> None:
    listed = {(row["method"], row["route"]) for row in MATRIX}
    assert set(served) == listed, "policies/matrix.csv must list every guarded route (API and pages), and only those"


def test_the_matrix_names_every_role() -> None:
    assert set(MATRIX[0]) - {"method", "route"} == set(ROLES)


def _sample_path(typed_path: str, owner_param: str | None, owner_value: str) -> str:
    """A well-formed value for every parameter; ``owner_value`` for the route's owner parameter."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == owner_param:
            return owner_value
        return SAMPLE_BY_TYPE.get(match.group(2) or "", "sample")

    return PARAM.sub(fill, typed_path)


def _subjects(typed_path: str, owner_param: str | None) -> tuple[str, str]:
    """(the caller's sub, someone else's): UUIDs where the owner parameter is a UUID."""
    for name, kind in PARAM.findall(typed_path):
        if name == owner_param and kind == "uuid":
            return "00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000bb"
    return "caller-1", "someone-else"


API_MATRIX = [row for row in MATRIX if not is_page(row["route"])]
PAGE_MATRIX = [row for row in MATRIX if is_page(row["route"])]


def _row_id(row: dict[str, str]) -> str:
    return f"{row['method']} {row['route']}"


async def _every_role(app: Litestar, check: Callable[[httpx.AsyncClient, str], Awaitable[None]]) -> None:
    """``check`` for every role, each on a client of its own (its own cookies and address, as
    the ``client`` fixture gives each test); every role that fails is reported.

    One test per row rather than per (row, role): a test's set-up (the database opened and
    closed, the clock reset) costs more than its requests do.
    """
    failures = []
    for role in ROLES:
        async with app_client(app) as client:
            try:
                await check(client, role)
            except AssertionError as failure:
                failures.append(f"{role}: {failure}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("row", API_MATRIX, ids=_row_id)
async def test_route_role_matrix(
    database: Settings,
    clock: ManualClock,
    app: Litestar,
    served: dict[tuple[str, str], tuple[str, dict[str, Any]]],
    operations: dict[str, Any],
    auth: AuthHeaders,
    row: dict[str, str],
) -> None:
    """Allowed roles get exactly the answer the route gives a bare request, denied ones 403.

    ``own`` is checked both ways. Routes whose ownership is looked up (``owner_of``) are
    checked here only as someone else's record; their modules' tests show that owners get
    through.
    """
    await _every_role(app, lambda client, role: _route_role(client, served, operations, auth, row, role))


async def _route_role(
    client: httpx.AsyncClient,
    served: dict[tuple[str, str], tuple[str, dict[str, Any]]],
    operations: dict[str, Any],
    auth: AuthHeaders,
    row: dict[str, str],
    role: str,
) -> None:
    expected = row[role]
    method, route = row["method"], row["route"]
    typed, opt = served[(method, route)]
    caller, someone_else = _subjects(typed, opt.get("owner"))
    headers = auth(role, sub=caller)
    response = await client.request(method, _sample_path(typed, opt.get("owner"), someone_else), headers=headers)
    reached = expected_when_reached(operations, method, route)
    if expected == "allow" or (expected == "own" and opt.get("own_list")):
        assert response.status_code == reached, f"{role} should reach {method} {route}: {response.text}"
        return
    assert response.status_code == 403, f"{role} must not reach someone else's {method} {route}"
    assert response.headers["content-type"].startswith("application/problem+json")
    if expected == "own" and "owner" in opt:
        own = await client.request(method, _sample_path(typed, opt["owner"], caller), headers=headers)
        assert own.status_code == reached, f"{role} should reach its own {route}: {own.text}"


@pytest.mark.parametrize("row", PAGE_MATRIX, ids=_row_id)
async def test_page_role_matrix(
    database: Settings,
    clock: ManualClock,
    app: Litestar,
    web: Web,
    served: dict[tuple[str, str], tuple[str, dict[str, Any]]],
    row: dict[str, str],
) -> None:
    """Pages, signed in through a session of each role: allowed roles reach the page (a page,
    a redirect to another page of this service, a form's 422 or a missing record's 404),
    denied ones get the 403 page."""
    await _every_role(app, lambda client, role: _page_role(client, web, served, row, role))


async def _page_role(
    client: httpx.AsyncClient,
    web: Web,
    served: dict[tuple[str, str], tuple[str, dict[str, Any]]],
    row: dict[str, str],
    role: str,
) -> None:
    method, route = row["method"], row["route"]
    typed, opt = served[(method, route)]
    session = await sessions.open_session(
        web,
        Identity(sub=f"{role}-matrix", roles=(role,)),
        datetime.now(UTC),
        kind=sessions.STAFF,
        method="token",
    )
    client.cookies.set("governance-session", session.secret)
    response = await client.request(
        method,
        _sample_path(typed, opt.get("owner"), f"{role}-matrix"),
        headers={"X-CSRF-Token": csrf_token(session.secret)},
    )
    # Reached: the page, a redirect, the 404 page of a sample id naming no record, or an
    # empty form sent back with its errors (422).
    reached = {200, 303} | ({404} if "{" in route else set()) | ({422} if method != "GET" else set())
    if row[role] == "allow":
        assert response.status_code in reached, f"{role} should reach {method} {route}: {response.text}"
        assert response.headers.get("location", "/").startswith("/")
        return
    assert response.status_code == 403, f"{role} must not reach {method} {route}"
    assert response.headers["content-type"].startswith("text/html")


def test_cached_and_uncached_decisions_agree_everywhere() -> None:
    # Backend-free: the policy directory is the settings' without the database behind them
    # (a decision never records a denial: only the guard hands one to ``on_denied``).
    authorizer = Authorizer(Settings.from_env().effective_policy_dir, on_denied=record_denial)
    routes = {row["route"] for row in MATRIX} | {"/api/v1/unknown"}
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
    cases = list(itertools.product((*ROLES, "system"), routes, methods, ("self", "other")))
    uncached = [authorizer.decide_uncached(*case) for case in cases]
    for _ in range(2):  # second pass answers from the cache
        assert [authorizer.decide(*case) for case in cases] == uncached
    authorizer.reload()
    assert authorizer.decide("auditor", "/api/v1/audit/entries", "GET", "other")


def test_a_model_that_matches_routes_by_pattern_is_judged_by_every_rule(tmp_path: Path) -> None:
    """A deployment's own model may match routes by pattern: filing the rules by route (the
    shipped model's fast path) would then find no rule for a concrete route, and deny."""
    shipped = (POLICIES / "model.conf").read_text()
    (tmp_path / "model.conf").write_text(shipped.replace("r.route == p.route", "keyMatch(r.route, p.route)"))
    (tmp_path / "policy.csv").write_text("p, auditor, /api/v1/audit/*, GET, any\n")
    authorizer = Authorizer(tmp_path, on_denied=record_denial)
    assert authorizer.decide("auditor", "/api/v1/audit/entries", "GET", "other")
    assert not authorizer.decide("auditor", "/api/v1/mentors", "GET", "other")
    assert not authorizer.decide("mentee", "/api/v1/audit/entries", "GET", "other")


def test_no_rule_lets_anyone_write_audit_history() -> None:
    rules = Authorizer(Settings.from_env().effective_policy_dir, on_denied=record_denial).policy_rules()
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


def _ownership_app(settings: Settings, policy_dir: Path, lookups: list[str]) -> Litestar:
    """A small app with one route of each ownership kind, guarded like the real API."""
    from litestar import Request, Router, get
    from litestar.params import FromPath

    from governance.core.authz import casbin_middleware, restricted_to
    from governance.core.identity import jwt_auth

    owners = {"rec-1": "mentee-1", "rec-2": "mentee-2"}

    async def owner_of(connection: Any) -> str | None:
        lookups.append(connection.path_params["record_id"])
        return owners.get(connection.path_params["record_id"])

    @get("/records/{record_id:str}", opt={"owner_of": owner_of})
    async def one(record_id: FromPath[str]) -> dict[str, str]:
        return {"id": record_id}

    @get("/records", opt={"own_list": True})
    async def many(request: Request[Any, Any, Any]) -> dict[str, str | None]:
        return {"restricted_to": restricted_to(authorizer, request)}

    (policy_dir / "model.conf").write_text((POLICIES / "model.conf").read_text())
    (policy_dir / "policy.csv").write_text(
        "p, mentee, /api/v1/records/{record_id}, GET, own\n"
        "p, mentee, /api/v1/records, GET, own\n"
        "p, support_agent, /api/v1/records/{record_id}, GET, any\n"
        "p, support_agent, /api/v1/records, GET, any\n"
    )
    authorizer = Authorizer(policy_dir, on_denied=record_denial)
    return Litestar(
        route_handlers=[Router(path="/api/v1", route_handlers=[one, many], middleware=[casbin_middleware(authorizer)])],
        on_app_init=[jwt_auth(settings).on_app_init],
    )


async def test_owner_of_lets_the_owner_through_and_looks_up_only_when_needed(
    database: Settings, auth: AuthHeaders, tmp_path: Path
) -> None:
    lookups: list[str] = []
    app = _ownership_app(database, tmp_path, lookups)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        mine = await http.get("/api/v1/records/rec-1", headers=auth("mentee", sub="mentee-1"))
        theirs = await http.get("/api/v1/records/rec-2", headers=auth("mentee", sub="mentee-1"))
        missing = await http.get("/api/v1/records/rec-9", headers=auth("mentee", sub="mentee-1"))
        assert lookups == ["rec-1", "rec-2", "rec-9"]
        staff = await http.get("/api/v1/records/rec-2", headers=auth("support_agent"))
    assert mine.status_code == 200
    assert theirs.status_code == 403
    assert missing.status_code == 403, "a record that does not exist must not be told apart from someone else's"
    assert staff.status_code == 200
    assert lookups == ["rec-1", "rec-2", "rec-9"], "a role allowed on any record needs no ownership lookup"


async def test_own_list_tells_the_handler_to_narrow(database: Settings, auth: AuthHeaders, tmp_path: Path) -> None:
    app = _ownership_app(database, tmp_path, [])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        mentee = await http.get("/api/v1/records", headers=auth("mentee", sub="mentee-1"))
        staff = await http.get("/api/v1/records", headers=auth("support_agent"))
        nobody = await http.get("/api/v1/records", headers=auth("auditor"))
    assert mentee.json() == {"restricted_to": "mentee-1"}
    assert staff.json() == {"restricted_to": None}
    assert nobody.status_code == 403
