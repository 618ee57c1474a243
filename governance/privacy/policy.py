"""The privacy policy as data: purposes and notices (``privacy.toml``), retention (``retention.toml``).

Both files are read and validated once at start-up; a bad file stops the service with a
message naming the file and the entry at fault.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, get_args

import msgspec

from governance.core import policyfiles
from governance.core.durations import Duration
from governance.core.policyfiles import IsoDuration, PolicyShape

PRIVACY_FILE = "privacy.toml"
RETENTION_FILE = "retention.toml"

LawfulBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
]
LAWFUL_BASES = frozenset(get_args(LawfulBasis))
Default = Literal["opt_in", "opt_out"]


class PolicyError(policyfiles.PolicyFileError):
    """A policy file this service cannot use; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Notice:
    """One published version of a purpose's notice, in every language it exists in."""

    purpose: str
    version: int
    published: str
    text: dict[str, str]

    def digest(self, language: str) -> str:
        """SHA-256 of what a mentee reading this version in ``language`` was shown."""
        payload = f"{self.purpose}\n{self.version}\n{language}\n{self.text[language]}"
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Purpose:
    name: str
    title: str
    lawful_basis: str
    default: Default
    sharing: bool
    validity: Duration
    notices: tuple[Notice, ...]

    @property
    def default_allows(self) -> bool:
        """Whether the purpose is allowed when the mentee never chose (``opt_out`` purposes)."""
        return self.default == "opt_out"

    @property
    def default_state(self) -> Literal["opt_in", "opt_out"]:
        """The state of a mentee who never chose, in the words of their preferences."""
        return "opt_in" if self.default_allows else "opt_out"

    @property
    def current_notice(self) -> Notice:
        return self.notices[-1]


@dataclass(frozen=True, slots=True)
class PrivacyPolicy:
    controller: str
    controller_contact: str
    policy_url: str
    default_jurisdiction: str
    default_language: str
    purposes: dict[str, Purpose]


@dataclass(frozen=True, slots=True)
class RetentionCategory:
    name: str
    period: Duration
    starts_from: str
    mentee_may_shorten: bool
    description: str


class _NoticeEntry(PolicyShape):
    """One ``[[purposes.<name>.notices]]`` as written in the file."""

    version: int
    text: Annotated[dict[str, str], msgspec.Meta(min_length=1, description="text by language")]
    published: str = ""


class _PurposeEntry(PolicyShape):
    """``[purposes.<name>]`` as written in the file."""

    lawful_basis: LawfulBasis
    default: Default
    validity: IsoDuration
    notices: list[_NoticeEntry] = []
    title: str | None = None
    sharing: bool = False


class _PrivacyFile(PolicyShape):
    """``privacy.toml`` as written."""

    purposes: dict[str, _PurposeEntry] = {}
    controller: str = ""
    controller_contact: str = ""
    policy_url: str = ""
    default_jurisdiction: str = "GB"
    default_language: str = "en"


class _CategoryEntry(PolicyShape):
    """``[categories.<name>]`` of ``retention.toml`` as written."""

    period: IsoDuration
    starts_from: str = msgspec.field(name="from", default="")
    mentee_may_shorten: bool = False
    description: str = ""


class _RetentionFile(PolicyShape):
    """``retention.toml`` as written."""

    categories: dict[str, _CategoryEntry] = {}


def load_privacy(path: Path) -> PrivacyPolicy:
    """Read and validate ``privacy.toml``: its shape by msgspec, then the notices' versions and languages."""
    file = policyfiles.decode(
        policyfiles.read(path, error=PolicyError), _PrivacyFile, source=str(path), error=PolicyError
    )
    purposes: dict[str, Purpose] = {}
    for name, spec in file.purposes.items():
        where = f"purposes.{name}"
        notices = tuple(
            Notice(purpose=name, version=n.version, published=n.published, text=n.text) for n in spec.notices
        )
        versions = [n.version for n in notices]
        if not notices or versions != sorted(set(versions)):
            raise PolicyError(f"{path}: {where}.notices: at least one, with increasing versions")
        if file.default_language not in notices[-1].text:
            raise PolicyError(f"{path}: {where}: the current notice has no text in the default language")
        purposes[name] = Purpose(
            name=name,
            title=name if spec.title is None else spec.title,
            lawful_basis=spec.lawful_basis,
            default=spec.default,
            sharing=spec.sharing,
            validity=spec.validity.value,
            notices=notices,
        )
    if not purposes:
        raise PolicyError(f"{path}: no purposes")
    return PrivacyPolicy(
        controller=file.controller,
        controller_contact=file.controller_contact,
        policy_url=file.policy_url,
        default_jurisdiction=file.default_jurisdiction,
        default_language=file.default_language,
        purposes=purposes,
    )


def load_retention(path: Path) -> dict[str, RetentionCategory]:
    """Read and validate ``retention.toml``."""
    raw = policyfiles.read(path, error=PolicyError)
    file = policyfiles.decode(raw, _RetentionFile, source=str(path), error=PolicyError)
    categories = {
        name: RetentionCategory(
            name=name,
            period=spec.period.value,
            starts_from=spec.starts_from,
            mentee_may_shorten=spec.mentee_may_shorten,
            description=spec.description,
        )
        for name, spec in file.categories.items()
    }
    if not categories:
        raise PolicyError(f"{path}: no categories")
    return categories
