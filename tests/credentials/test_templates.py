"""Standard attestation templates: the shipped file, the rules a file must keep, and what a credential takes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest

from governance.complaints.attestation_templates import FILE_NAME, TemplateError, load_templates, parse
from governance.core.policyfiles import read

from ..complaints.conftest import Api, new_id
from .test_credentials import _attest, _credential, _verify

POLICIES = Path(__file__).parents[2] / "policies"


def _raw() -> dict[str, Any]:
    return copy.deepcopy(read(POLICIES / FILE_NAME))


def test_the_shipped_templates_load() -> None:
    template = load_templates(POLICIES).find("system-design", "2026.1")
    assert template is not None
    assert (template.minimum, template.maximum) == (0, 4)
    assert [template.level_of(s).id for s in range(5)] == ["not-yet", "not-yet", "developing", "ready", "strong"]  # type: ignore[union-attr]
    assert template.level_of(5) is None and template.level_of(-1) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(minimum=4), "minimum must be below maximum"),
        (lambda t: t["level"][0].update({"from": 1}), "first level must start at the minimum"),
        (lambda t: t["level"][2].update({"from": 1}), "each level starts above the previous one"),
        (lambda t: t["level"][3].update({"from": 9}), "within the scale"),
        (lambda t: t["level"][1].update(id="not-yet"), "level ids must differ"),
        (lambda t: t.update(name=""), r"template\[0\].*name"),
        (lambda t: t.pop("criteria"), "criteria"),
        (lambda t: t.update(id="Has Spaces"), r"template\[0\]\.id"),
    ],
)
def test_a_bad_template_stops_the_start_naming_the_key(change: Any, message: str) -> None:
    raw = _raw()
    change(raw["template"][0])
    with pytest.raises(TemplateError, match=message):
        parse(raw)


def test_a_template_defined_twice_is_refused() -> None:
    raw = _raw()
    raw["template"].append(copy.deepcopy(raw["template"][0]))
    with pytest.raises(TemplateError, match="already defined"):
        parse(raw)


async def test_the_credential_takes_the_template_and_the_level(api: Api, client: httpx.AsyncClient) -> None:
    credential = await _credential(api, (await _attest(api, new_id(), "cand-" + new_id(), score=3))["id"])
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["name"] == "System design readiness"
    assert achievement["criteria"]["narrative"].startswith("In a 20 to 30 minute session")
    [scale] = achievement["resultDescription"]
    assert (scale["valueMin"], scale["valueMax"]) == ("0", "4")
    assert [level["name"] for level in scale["rubricCriterionLevel"]] == ["Not yet", "Developing", "Ready", "Strong"]
    [result] = credential["credentialSubject"]["result"]
    assert result["value"] == "3"
    assert result["achievedLevel"] == scale["rubricCriterionLevel"][2]["id"]
    assert (await _verify(client, credential))["verified"] is True


async def test_an_attestation_without_a_template_is_refused(api: Api) -> None:
    body = {
        "mentor_id": new_id(),
        "candidate_id": "cand-" + new_id(),
        "competency": "coding",
        "score": 7,
        "rubric_version": "r1",
        "session_date": "2026-11-01",
        "token_sha256": "a" * 64,
    }
    recorded = await api.call("POST", "/attestations", "platform", "platform-1", body)
    assert recorded.status_code == 422, recorded.text
    assert recorded.json()["errors"][0]["field"] == "competency"
