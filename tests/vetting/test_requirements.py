"""The requirements file: resolution by jurisdiction and engagement type, and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from governance.vetting.requirements import FILE_NAME, RequirementsError, load, parse

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_the_shipped_file_loads_and_names_its_version() -> None:
    requirements = load(POLICIES / FILE_NAME)
    assert requirements.version
    assert {
        "identity_verification",
        "background_check",
        "professional_credential",
        "reference",
        "interview",
        "code_of_conduct",
        "safeguarding_training",
        "conflict_of_interest",
    } <= set(requirements.checks)


def test_uk_contractors_need_an_enhanced_dbs_check_and_a_credential() -> None:
    requirements = load(POLICIES / FILE_NAME)
    uk = {r.check.name: r for r in requirements.for_mentor("GB", "contractor")}
    assert dict(uk["background_check"].expect) == {"level": "enhanced", "issuing_body": "DBS"}
    assert uk["reference"].count == 2
    assert "professional_credential" in uk
    assert uk["professional_credential"].effective_validity.isoformat() == "P3Y"


def test_criminal_record_checks_pass_with_four_eyes_and_nothing_else_does() -> None:
    requirements = load(POLICIES / FILE_NAME)
    assert {name for name, check in requirements.checks.items() if check.four_eyes} == {"background_check"}
    assert parse(_minimal()).checks["interview"].four_eyes is False, "one officer unless the file says otherwise"


def test_certificates_are_valid_from_their_own_date() -> None:
    requirements = load(POLICIES / FILE_NAME)
    dated = {name for name, check in requirements.checks.items() if check.valid_from == "evidence_date"}
    assert dated == {"background_check", "safeguarding_training"}
    assert all("issued_on" in requirements.checks[name].details for name in dated)
    assert parse(_minimal()).checks["interview"].valid_from == "review"


def test_volunteers_elsewhere_need_no_credential_and_no_particular_level() -> None:
    requirements = load(POLICIES / FILE_NAME)
    fr = {r.check.name: r for r in requirements.for_mentor("FR", "volunteer")}
    assert "professional_credential" not in fr
    assert dict(fr["background_check"].expect) == {}


def _minimal(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "version": "1",
        "checks": {"interview": {"title": "Interview", "validity": "P1Y", "evidence": "record"}},
        "requirements": [{"check": "interview"}],
        "ratings": {"version": "1", "prior_mean": 4.0, "prior_weight": 10, "minimum_count": 5, "window": "P365D"},
    }
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"requirements": [{"check": "astrology"}]}, "requirements\\[0\\]: 'check' must name one of interview"),
        ({"requirements": [{"check": "interview", "engagement_types": ["intern"]}]}, "engagement_types"),
        ({"requirements": [{"check": "interview", "jurisdictions": ["gbr"]}]}, "ISO 3166-1"),
        ({"requirements": [{"check": "interview", "count": 0}]}, "count"),
        ({"checks": {"interview": {"title": "I", "validity": "one year", "evidence": "e"}}}, "validity"),
        ({"requirements": []}, "no \\[\\[requirements\\]\\]"),
        (
            {"checks": {"interview": {"title": "I", "validity": "P1Y", "evidence": "e", "four_eyes": "yes"}}},
            "checks\\.interview\\.four_eyes must be true or false",
        ),
        (
            {"checks": {"interview": {"title": "I", "validity": "P1Y", "evidence": "e", "valid_from": "issue"}}},
            "valid_from must be one of review, evidence_date",
        ),
        (
            {
                "checks": {
                    "interview": {"title": "I", "validity": "P1Y", "evidence": "e", "valid_from": "evidence_date"}
                }
            },
            "needs 'issued_on' among its details",
        ),
        ({"version": ""}, "'version' is required"),
        (
            {"ratings": {"version": "1", "prior_mean": 9, "prior_weight": 1, "minimum_count": 1, "window": "P1Y"}},
            "prior_mean",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_entry(override: dict[str, Any], message: str) -> None:
    with pytest.raises(RequirementsError, match=message):
        parse(_minimal(**override))


def test_the_most_specific_rule_wins_whatever_the_order() -> None:
    raw = _minimal(
        requirements=[
            {"check": "interview", "jurisdictions": ["GB"], "engagement_types": ["employee"], "count": 3},
            {"check": "interview", "jurisdictions": ["GB"], "count": 2},
            {"check": "interview"},
        ]
    )
    requirements = parse(raw)
    assert requirements.for_mentor("GB", "employee")[0].count == 3
    assert requirements.for_mentor("GB", "volunteer")[0].count == 2
    assert requirements.for_mentor("DE", "employee")[0].count == 1
