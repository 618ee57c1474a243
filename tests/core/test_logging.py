"""One structured line per request; no tokens or personal data in it."""

from __future__ import annotations

import httpx
from structlog.testing import capture_logs

from ..conftest import AuthHeaders


async def test_one_line_per_request_with_route_template_and_no_token(
    client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    headers = auth("auditor", sub="mentee-email@example.org")
    token = headers["Authorization"].removeprefix("Bearer ")
    with capture_logs() as logs:
        response = await client.get("/api/v1/audit/entries/987654321", headers=headers)
    [line] = [entry for entry in logs if entry["event"] == "request"]
    assert line["route"] == "/api/v1/audit/entries/{seq}"
    assert line["status"] == response.status_code == 404
    assert line["request_id"] == response.headers["x-request-id"]
    assert isinstance(line["duration_ms"], float)
    flattened = repr(logs)
    assert token not in flattened
    assert "987654321" not in flattened, "raw paths may carry identifiers; only templates are logged"
    assert "example.org" not in flattened


async def test_unmatched_routes_are_logged_too(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        await client.get("/no/such/page")
    [line] = [entry for entry in logs if entry["event"] == "request"]
    assert line["route"] == "<unmatched>"
