"""The privacy policy as data: purposes and notices (``privacy.toml``), retention (``retention.toml``).

Both files are read and validated once at start-up; a bad file stops the service with a
message naming the file and the entry at fault.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from governance.core.durations import Duration, DurationError, parse_duration

PRIVACY_FILE = "privacy.toml"
RETENTION_FILE = "retention.toml"
LAWFUL_BASES = frozenset(
    {"consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"}
)

Default = Literal["opt_in", "opt_out"]


class PolicyError(ValueError):
    """A policy file this service cannot use."""


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


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: {exc}") from None


def _duration(path: Path, where: str, text: object) -> Duration:
    try:
        return parse_duration(str(text))
    except DurationError as exc:
        raise PolicyError(f"{path}: {where}: {exc}") from None


def load_privacy(path: Path) -> PrivacyPolicy:
    """Read and validate ``privacy.toml``."""
    raw = _read(path)
    purposes: dict[str, Purpose] = {}
    for name, spec in (raw.get("purposes") or {}).items():
        where = f"purposes.{name}"
        if spec.get("lawful_basis") not in LAWFUL_BASES:
            raise PolicyError(f"{path}: {where}.lawful_basis must be one of {sorted(LAWFUL_BASES)}")
        if spec.get("default") not in ("opt_in", "opt_out"):
            raise PolicyError(f"{path}: {where}.default must be opt_in or opt_out")
        notices = []
        for notice in spec.get("notices") or []:
            text = notice.get("text") or {}
            if not isinstance(notice.get("version"), int) or not text:
                raise PolicyError(f"{path}: {where}.notices: each needs an integer version and text by language")
            notices.append(
                Notice(purpose=name, version=notice["version"], published=str(notice.get("published", "")), text=text)
            )
        versions = [n.version for n in notices]
        if not notices or versions != sorted(set(versions)):
            raise PolicyError(f"{path}: {where}.notices: at least one, with increasing versions")
        if raw.get("default_language", "en") not in notices[-1].text:
            raise PolicyError(f"{path}: {where}: the current notice has no text in the default language")
        purposes[name] = Purpose(
            name=name,
            title=str(spec.get("title", name)),
            lawful_basis=spec["lawful_basis"],
            default=spec["default"],
            sharing=bool(spec.get("sharing", False)),
            validity=_duration(path, f"{where}.validity", spec.get("validity")),
            notices=tuple(notices),
        )
    if not purposes:
        raise PolicyError(f"{path}: no purposes")
    return PrivacyPolicy(
        controller=str(raw.get("controller", "")),
        controller_contact=str(raw.get("controller_contact", "")),
        policy_url=str(raw.get("policy_url", "")),
        default_jurisdiction=str(raw.get("default_jurisdiction", "GB")),
        default_language=str(raw.get("default_language", "en")),
        purposes=purposes,
    )


def load_retention(path: Path) -> dict[str, RetentionCategory]:
    """Read and validate ``retention.toml``."""
    raw = _read(path)
    categories = {}
    for name, spec in (raw.get("categories") or {}).items():
        categories[name] = RetentionCategory(
            name=name,
            period=_duration(path, f"categories.{name}.period", spec.get("period")),
            starts_from=str(spec.get("from", "")),
            mentee_may_shorten=bool(spec.get("mentee_may_shorten", False)),
            description=str(spec.get("description", "")),
        )
    if not categories:
        raise PolicyError(f"{path}: no categories")
    return categories
