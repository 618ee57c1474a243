"""One wiring point: the app, the CLI and the worker run on the Services that bootstrap builds.

Handlers receive their services as typed dependencies, never from ``app.state``: the
application keeps nothing there, and answers from the very objects it was given.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import httpx
import pytest

from governance import bootstrap
from governance.app import application
from governance.core.clock import ManualClock
from governance.settings import Settings


def test_the_services_are_built_once_and_cannot_be_swapped(settings: Settings) -> None:
    clock = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))
    services = bootstrap.build(settings, clock=clock)
    assert services.clock is clock
    assert services.evidence.vetting is services.vetting, "evidence reads the vetting the routes use"
    assert services.privacy.keyring is services.keyring is services.complaints.keyring
    with pytest.raises(dataclasses.FrozenInstanceError):
        services.vetting = bootstrap.build(settings).vetting  # type: ignore[misc]
    assert [job.name for job in services.jobs] == [
        "audit_sequencer",
        "checkpoint",
        "vetting_expiry",
        "sla_scan",
        "consent_expiry",
        "retention_sweep",
        "session_sweep",
    ]


async def test_handlers_answer_from_their_injected_services_not_from_app_state(database: Settings) -> None:
    services = bootstrap.build(database)
    app = application(services)
    assert app.state.dict() == {}, "nothing is handed to handlers by string"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        key = await client.get("/api/v1/audit/public-key")
        policy = await client.get("/api/v1/escalation-policy")
        notices = await client.get("/api/v1/privacy/notices")
        method = await client.get("/api/v1/vetting/ratings/method")
    assert key.status_code == 200 and key.text == f"{services.log_key.verifier_key}\n"
    assert policy.status_code == 200 and policy.json()["complaint_targets"]
    assert notices.status_code == 200 and notices.json()["purposes"]
    assert method.status_code == 200
