"""The layers of DESIGN.md hold: the import-linter contracts in pyproject.toml are kept.

Core knows no audit and no domain, no domain imports evidence, complaints knows no other
domain (attestation changes reach vetting through a registered hook), and the only
imports between domains are the named reads the independence contract lists.
"""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
