"""Standard attestation templates (``policies/attestation-templates.toml``), checked at start-up.

A template is the competency an attestation names (``competency``) at a version
(``rubric_version``): its name, description, criteria narrative and score scale with named
rubric levels. Credentials take their achievement and result description from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import msgspec

from governance.core import policyfiles
from governance.core.policyfiles import PolicyShape

FILE_NAME: Final = "attestation-templates.toml"
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")]


class TemplateError(policyfiles.PolicyFileError):
    """The templates file cannot be used (the message names the file, the key and the problem)."""


class Level(PolicyShape, frozen=True):
    id: Slug
    name: Text
    description: Text
    start: int = msgspec.field(name="from")


class Template(PolicyShape, frozen=True):
    id: Slug
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    name: Text
    description: Text
    criteria: Text
    minimum: int
    maximum: int
    level: list[Level]

    def level_of(self, score: int) -> Level | None:
        """The rubric level ``score`` falls in (None outside the scale)."""
        if not self.minimum <= score <= self.maximum:
            return None
        return [lv for lv in self.level if lv.start <= score][-1]


class _File(PolicyShape, frozen=True):
    template: list[Template]


@dataclass(frozen=True, slots=True)
class Templates:
    by_key: dict[tuple[str, str], Template]

    def find(self, competency: str, version: str) -> Template | None:
        return self.by_key.get((competency, version))

    def all(self) -> list[Template]:
        return sorted(self.by_key.values(), key=lambda t: (t.id, t.version))


def load(path: Path) -> Templates:
    return parse(policyfiles.read(path, error=TemplateError), source=str(path))


def parse(raw: dict[str, object], *, source: str = FILE_NAME) -> Templates:
    """The file's shape by msgspec, then the rules across keys: unique ids, a scale, ordered levels."""
    file = policyfiles.decode(raw, _File, source=source, error=TemplateError)
    found: dict[tuple[str, str], Template] = {}
    for n, template in enumerate(file.template):
        where = f"{source}: template[{n}] ({template.id} {template.version})"
        if (template.id, template.version) in found:
            raise TemplateError(f"{where}: this id and version are already defined")
        if template.minimum >= template.maximum:
            raise TemplateError(f"{where}: minimum must be below maximum")
        starts = [lv.start for lv in template.level]
        if not starts or starts[0] != template.minimum:
            raise TemplateError(f"{where}: level: the first level must start at the minimum ({template.minimum})")
        if starts != sorted(set(starts)) or starts[-1] > template.maximum:
            raise TemplateError(f"{where}: level: each level starts above the previous one, within the scale")
        if len({lv.id for lv in template.level}) != len(template.level):
            raise TemplateError(f"{where}: level: level ids must differ")
        found[(template.id, template.version)] = template
    return Templates(found)


def load_templates(policy_dir: Path) -> Templates:
    return load(policy_dir / FILE_NAME)
