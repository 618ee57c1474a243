"""pytest plugin for bench/suite.py: run only the tests whose ids are listed in a file.

``GOVERNANCE_BENCH_ONLY_TESTS=<file> PYTEST_ADDOPTS="-p only_tests"`` with this directory on
``PYTHONPATH``; every other test is reported as deselected.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    listed = os.environ.get("GOVERNANCE_BENCH_ONLY_TESTS")
    if not listed:
        return
    wanted = set(Path(listed).read_text().splitlines())
    unlisted = [item for item in items if item.nodeid not in wanted]
    if unlisted:
        config.hook.pytest_deselected(items=unlisted)
        items[:] = [item for item in items if item.nodeid in wanted]
