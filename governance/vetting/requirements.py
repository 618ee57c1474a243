"""Vetting requirements as data: ``policies/vetting-requirements.toml``.

The file says which checks a mentor needs by jurisdiction and engagement type, how long
each pass stays valid and what evidence it needs. It is read once at start-up and
validated whole: a rule naming an unknown check or a malformed duration stops the
service with a message naming the entry, rather than judging dossiers against half a
policy. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import msgspec

from governance.core import policyfiles
from governance.core.durations import Duration
from governance.core.policyfiles import IsoDuration, PolicyShape

EngagementType = Literal["volunteer", "contractor", "employee"]
ENGAGEMENT_TYPES: Final = get_args(EngagementType)
FILE_NAME: Final = "vetting-requirements.toml"
# Where a pass's validity starts: when it was passed, or the date its evidence bears.
ValidFrom = Literal["review", "evidence_date"]
VALID_FROM: Final[tuple[ValidFrom, ...]] = ("review", "evidence_date")
# The detail that holds the evidence's own date (ISO 8601, e.g. a certificate's issue date).
EVIDENCE_DATE: Final = "issued_on"


class RequirementsError(policyfiles.PolicyFileError):
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


Text = Annotated[str, msgspec.Meta(min_length=1)]
Code = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$", description="an ISO 3166-1 alpha-2 code such as GB")]


class _CheckEntry(PolicyShape):
    """``[checks.<name>]`` as written in the file."""

    title: Text
    validity: IsoDuration
    evidence: Text
    documents: Annotated[int, msgspec.Meta(ge=0, description="a non-negative integer")] = 0
    details: list[str] = []
    four_eyes: bool = False
    valid_from: ValidFrom = "review"

    def __post_init__(self) -> None:
        # The date must be asked for, so that a pass without it is refused like other missing evidence.
        if self.valid_from == "evidence_date" and EVIDENCE_DATE not in self.details:
            raise ValueError(f'valid_from = "evidence_date" needs {EVIDENCE_DATE!r} among its details')


class _RuleEntry(PolicyShape):
    """One ``[[requirements]]`` as written in the file."""

    check: str
    jurisdictions: Annotated[list[Code], msgspec.Meta(min_length=1, description="a non-empty list")] | None = None
    engagement_types: (
        Annotated[list[EngagementType], msgspec.Meta(min_length=1, description="a non-empty list")] | None
    ) = None
    count: Annotated[int, msgspec.Meta(ge=1, description="a positive integer")] = 1
    expect: dict[str, str] = {}
    validity: IsoDuration | None = None


class _RatingsEntry(PolicyShape):
    """``[ratings]`` as written in the file."""

    version: Text
    prior_mean: Annotated[float, msgspec.Meta(ge=1, le=5, description="a number from 1 to 5")]
    prior_weight: Annotated[int, msgspec.Meta(ge=0, description="an integer >= 0")]
    minimum_count: Annotated[int, msgspec.Meta(ge=1, description="an integer >= 1")]
    window: IsoDuration


class _RequirementsFile(PolicyShape):
    """The whole file as written."""

    version: Text
    checks: Annotated[dict[str, _CheckEntry], msgspec.Meta(min_length=1, description="at least one [checks.<type>]")]
    ratings: _RatingsEntry
    published: str = ""
    requirements: list[_RuleEntry] = []


def load(path: Path) -> Requirements:
    """Read and validate the requirements file."""
    return parse(policyfiles.read(path, error=RequirementsError), source=str(path))


def parse(raw: Mapping[str, Any], source: str = FILE_NAME) -> Requirements:
    """Validate the decoded TOML document: its shape by msgspec, then the references between entries."""
    file = policyfiles.decode(raw, _RequirementsFile, source=source, error=RequirementsError)
    checks = {
        name: CheckType(
            name=name,
            title=entry.title,
            validity=entry.validity.value,
            evidence=entry.evidence,
            documents=entry.documents,
            details=tuple(entry.details),
            four_eyes=entry.four_eyes,
            valid_from=entry.valid_from,
        )
        for name, entry in file.checks.items()
    }
    rules = []
    for index, rule in enumerate(file.requirements):
        if rule.check not in checks:
            raise RequirementsError(
                f"{source}: requirements[{index}]: 'check' must name one of {', '.join(sorted(checks))}"
            )
        rules.append(
            _Rule(
                check=rule.check,
                jurisdictions=None if rule.jurisdictions is None else frozenset(rule.jurisdictions),
                engagement_types=None if rule.engagement_types is None else frozenset(rule.engagement_types),
                count=rule.count,
                expect=dict(rule.expect),
                validity=None if rule.validity is None else rule.validity.value,
            )
        )
    if not rules:
        raise RequirementsError(f"{source}: no [[requirements]]")
    ratings = file.ratings
    return Requirements(
        version=file.version,
        published=str(file.published),
        checks=checks,
        rules=tuple(rules),
        ratings=RatingMethod(
            version=ratings.version,
            prior_mean=ratings.prior_mean,
            prior_weight=ratings.prior_weight,
            minimum_count=ratings.minimum_count,
            window=ratings.window.value,
        ),
    )
