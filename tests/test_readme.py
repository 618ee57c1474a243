"""The README documents every setting a deployment can change."""

from __future__ import annotations

import re
from pathlib import Path

from governance.settings import PREFIX, Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        PREFIX + name.upper() for name in Settings.__struct_fields__ if f"`{PREFIX}{name.upper()}`" not in README
    ]
    assert not missing, f"README.md does not document {missing}"


def test_the_two_commands_are_documented() -> None:
    assert "make run" in README
    assert "make test" in README


def test_every_picture_the_readme_shows_is_in_the_repository() -> None:
    root = Path(__file__).resolve().parents[1]
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert pictures, "the README shows the pages"
    assert [picture for picture in pictures if not (root / picture).is_file()] == []
    # Every desktop picture the browser tests take is shown (the 360 px ones are linked by name).
    taken = {f"docs/screenshots/{path.name}" for path in (root / "docs/screenshots").glob("*.png")}
    assert {picture for picture in taken if not picture.endswith("-360.png")} <= set(pictures)
