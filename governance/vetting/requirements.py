"""Vetting requirements as data: ``policies/vetting-requirements.toml``.

The file says which checks a mentor needs by jurisdiction and engagement type, how long
each pass stays valid and what evidence it needs. It is read once at start-up and
validated whole: a rule naming an unknown check or a malformed duration stops the
service with a message naming the entry, rather than judging dossiers against half a
policy. Everything here is pure.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from governance.core.durations import Duration, DurationError, parse_duration

ENGAGEMENT_TYPES: Final = ("volunteer", "contractor", "employee")
FILE_NAME: Final = "vetting-requirements.toml"
# Where a pass's validity starts: when it was passed, or the date its evidence bears.
ValidFrom = Literal["review", "evidence_date"]
VALID_FROM: Final[tuple[ValidFrom, ...]] = ("review", "evidence_date")
# The detail that holds the evidence's own date (ISO 8601, e.g. a certificate's issue date).
EVIDENCE_DATE: Final = "issued_on"


class RequirementsError(ValueError):
    """The requirements file cannot be used; the message names the entry at fault."""


@dataclass(frozen=True, slots=True)
class CheckType:
    """One kind of check: what it is called, how long a pass lasts, what backs it."""

    name: str
    title: str
    validity: Duration
    evidence: str
    documents: int
    details: tuple[str, ...]
    # Passing needs an officer who neither attached the evidence nor moved it to review.
    four_eyes: bool = False
    # "evidence_date": validity runs from the ``issued_on`` detail, not from the pass.
    valid_from: ValidFrom = "review"


@dataclass(frozen=True, slots=True)
class Requirement:
    """A check one mentor needs: how many passes, with which detail values, valid how long."""

    check: CheckType
    count: int = 1
    expect: Mapping[str, str] = field(default_factory=dict)
    validity: Duration | None = None

    @property
    def effective_validity(self) -> Duration:
        return self.validity or self.check.validity


@dataclass(frozen=True, slots=True)
class _Rule:
    check: str
    jurisdictions: frozenset[str] | None
    engagement_types: frozenset[str] | None
    count: int
    expect: Mapping[str, str]
    validity: Duration | None

    def applies(self, jurisdiction: str, engagement_type: str) -> bool:
        return (self.jurisdictions is None or jurisdiction in self.jurisdictions) and (
            self.engagement_types is None or engagement_type in self.engagement_types
        )

    @property
    def specificity(self) -> tuple[bool, bool]:
        return (self.jurisdictions is not None, self.engagement_types is not None)


@dataclass(frozen=True, slots=True)
class RatingMethod:
    """How a mentor's published rating is computed (a Bayesian average)."""

    version: str
    prior_mean: float
    prior_weight: int
    minimum_count: int
    window: Duration


@dataclass(frozen=True, slots=True)
class Requirements:
    """The whole requirements file, validated."""

    version: str
    published: str
    checks: Mapping[str, CheckType]
    rules: tuple[_Rule, ...]
    ratings: RatingMethod

    def for_mentor(self, jurisdiction: str, engagement_type: str) -> list[Requirement]:
        """The checks a mentor of this jurisdiction and engagement type needs, in file order."""
        chosen: dict[str, _Rule] = {}
        for rule in self.rules:
            if not rule.applies(jurisdiction, engagement_type):
                continue
            current = chosen.get(rule.check)
            if current is None or rule.specificity >= current.specificity:
                chosen[rule.check] = rule
        return [
            Requirement(check=self.checks[rule.check], count=rule.count, expect=rule.expect, validity=rule.validity)
            for rule in chosen.values()
        ]


def load(path: Path) -> Requirements:
    """Read and validate the requirements file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RequirementsError(f"{path}: {exc}") from None
    return parse(raw, source=str(path))


def parse(raw: Mapping[str, Any], source: str = FILE_NAME) -> Requirements:
    """Validate the decoded TOML document."""
    version = _text(raw, "version", source)
    checks = {name: _check_type(name, spec, source) for name, spec in _table(raw, "checks", source).items()}
    rules = []
    for index, spec in enumerate(raw.get("requirements", [])):
        where = f"{source}: requirements[{index}]"
        if not isinstance(spec, dict) or spec.get("check") not in checks:
            raise RequirementsError(f"{where}: 'check' must name one of {', '.join(sorted(checks))}")
        engagement = _codes(spec, "engagement_types", where)
        if engagement is not None and not engagement <= set(ENGAGEMENT_TYPES):
            raise RequirementsError(f"{where}: engagement_types must be among {', '.join(ENGAGEMENT_TYPES)}")
        jurisdictions = _codes(spec, "jurisdictions", where)
        if jurisdictions is not None and not all(len(c) == 2 and c.isupper() for c in jurisdictions):
            raise RequirementsError(f"{where}: jurisdictions are ISO 3166-1 alpha-2 codes such as GB")
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise RequirementsError(f"{where}: count must be a positive integer")
        expect = spec.get("expect", {})
        if not isinstance(expect, dict) or not all(isinstance(v, str) for v in expect.values()):
            raise RequirementsError(f"{where}: expect must map detail names to text")
        rules.append(
            _Rule(
                check=spec["check"],
                jurisdictions=jurisdictions,
                engagement_types=engagement,
                count=count,
                expect=dict(expect),
                validity=_duration(spec["validity"], where) if "validity" in spec else None,
            )
        )
    if not rules:
        raise RequirementsError(f"{source}: no [[requirements]]")
    ratings = _table(raw, "ratings", source)
    where = f"{source}: [ratings]"
    method = RatingMethod(
        version=_text(ratings, "version", where),
        prior_mean=float(ratings.get("prior_mean", 0)),
        prior_weight=int(ratings.get("prior_weight", -1)),
        minimum_count=int(ratings.get("minimum_count", -1)),
        window=_duration(ratings.get("window", ""), where),
    )
    if not 1 <= method.prior_mean <= 5 or method.prior_weight < 0 or method.minimum_count < 1:
        raise RequirementsError(f"{where}: prior_mean in 1..5, prior_weight >= 0 and minimum_count >= 1 are required")
    return Requirements(
        version=version,
        published=str(raw.get("published", "")),
        checks=checks,
        rules=tuple(rules),
        ratings=method,
    )


def _check_type(name: str, spec: Any, source: str) -> CheckType:
    where = f"{source}: [checks.{name}]"
    if not isinstance(spec, dict):
        raise RequirementsError(f"{where} must be a table")
    details = spec.get("details", [])
    documents = spec.get("documents", 0)
    if not isinstance(details, list) or not all(isinstance(d, str) for d in details):
        raise RequirementsError(f"{where}: details must be a list of names")
    if not isinstance(documents, int) or documents < 0:
        raise RequirementsError(f"{where}: documents must be a non-negative integer")
    four_eyes = spec.get("four_eyes", False)
    if not isinstance(four_eyes, bool):
        raise RequirementsError(f"{where}: four_eyes must be true or false")
    valid_from = spec.get("valid_from", "review")
    if valid_from not in VALID_FROM:
        raise RequirementsError(f"{where}: valid_from must be one of {', '.join(VALID_FROM)}")
    # The date must be asked for, so that a pass without it is refused like other missing evidence.
    if valid_from == "evidence_date" and EVIDENCE_DATE not in details:
        raise RequirementsError(f'{where}: valid_from = "evidence_date" needs {EVIDENCE_DATE!r} among its details')
    return CheckType(
        name=name,
        title=_text(spec, "title", where),
        validity=_duration(spec.get("validity", ""), where),
        evidence=_text(spec, "evidence", where),
        documents=documents,
        details=tuple(details),
        four_eyes=four_eyes,
        valid_from=valid_from,
    )


def _table(raw: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict) or not value:
        raise RequirementsError(f"{source}: [{key}] is missing")
    return value


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise RequirementsError(f"{where}: '{key}' is required")
    return value


def _codes(spec: Mapping[str, Any], key: str, where: str) -> frozenset[str] | None:
    if key not in spec:
        return None
    value = spec[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RequirementsError(f"{where}: {key} must be a non-empty list")
    return frozenset(value)


def _duration(text: Any, where: str) -> Duration:
    try:
        duration = parse_duration(str(text))
    except DurationError as exc:
        raise RequirementsError(f"{where}: validity/window: {exc}") from None
    return duration
