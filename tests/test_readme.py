"""The README documents every setting a deployment can change."""

from __future__ import annotations

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
