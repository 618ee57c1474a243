"""An attestation names a standard template and version; anything else is refused and nothing recorded."""

from __future__ import annotations

import hashlib
import html
import uuid
from typing import Any

import httpx
import pytest

from governance.complaints import attestations

from .conftest import Api, new_id
from .test_disputes import _attest, _move


def _body(**changes: Any) -> dict[str, Any]:
    candidate = "cand-" + new_id()
    return {
        "id": str(uuid.uuid4()),
        "mentor_id": "mentor-" + new_id(),
        "candidate_id": candidate,
        "competency": "system-design",
        "score": 3,
        "rubric_version": "2026.1",
        "session_date": "2026-11-01",
        "token_sha256": hashlib.sha256(candidate.encode()).hexdigest(),
        **changes,
    }


async def _refused_and_nothing_recorded(api: Api, body: dict[str, Any], status: int, field: str) -> dict[str, Any]:
    response = await api.call("POST", "/attestations", "platform", "platform-1", body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = dict(response.json())
    assert [e["field"] for e in problem["errors"]] == [field]
    assert (await api.call("GET", f"/attestations/{body['id']}", "platform", "platform-1")).status_code == 404
    audit = await api.call("GET", f"/audit/entries?resource_id={body['id']}", "auditor", "auditor-1")
    assert audit.status_code == 200 and audit.json()["items"] == []
    return problem


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"competency": "coding"}, "competency", "system-design"),  # names the templates there are
        ({"rubric_version": "r1"}, "rubric_version", "2026.1"),  # names the versions there are
        ({"score": 5}, "score", "from 0 to 4"),
    ],
)
async def test_an_unknown_template_or_a_score_off_its_scale_answers_422(
    api: Api, changes: dict[str, Any], field: str, says: str
) -> None:
    problem = await _refused_and_nothing_recorded(api, _body(**changes), 422, field)
    assert says in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"competency": "system-design\x00"}, "competency"),
        ({"competency": "x" * 500}, "competency"),
        ({"rubric_version": "2026.1\x00"}, "rubric_version"),
        ({"score": -1}, "score"),
    ],
)
async def test_malformed_template_names_are_refused_before_any_lookup(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    response = await api.call("POST", "/attestations", "platform", "platform-1", _body(**changes))
    assert response.status_code in (400, 422), response.text
    assert field in response.text
    assert (await api.call("GET", f"/attestations/{_body()['id']}", "platform", "platform-1")).status_code == 404


async def test_every_level_of_the_scale_is_accepted(api: Api) -> None:
    for score in range(5):
        await _attest(api, "mentor-" + new_id(), "cand-" + new_id(), score=score)


async def test_an_amendment_off_the_scale_answers_422_and_changes_nothing(api: Api) -> None:
    mentor, candidate = "mentor-" + new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate, score=2)
    dispute = (
        await api.call("POST", f"/attestations/{attestation['id']}/disputes", "mentee", candidate, {"reason": "low"})
    ).json()
    refused = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="amended", new_score=9)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["new_score"]
    after = (await api.call("GET", f"/attestations/{attestation['id']}", "platform", "platform-1")).json()
    assert (after["score"], after["version"], after["status"]) == (2, 1, "disputed")
    decided = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="amended", new_score=4)
    assert decided.status_code == 200, decided.text
    assert (await api.call("GET", f"/attestations/{attestation['id']}", "platform", "platform-1")).json()["score"] == 4


async def test_the_ratings_method_page_lists_the_templates_and_the_method(client: httpx.AsyncClient) -> None:
    client.cookies.clear()
    page = await client.get("/ratings-method")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for template in attestations.templates().all():
        assert template.name in text and template.version in text
        assert template.description in text and template.criteria in text
        for level in template.level:
            assert level.name in text and level.description in text
    # The scale of the standard template: named levels with their score ranges.
    assert "Scores from 0 to 4" in text and "0 to 1" in text and "<caption>Levels of System design readiness" in text
    assert "Krippendorff" in text and "1000 samples" in text and "fixed seed (16)" in text
    assert "fewer than 20 pairable ratings" in text and "fewer than 5 comparisons" in text
