"""What the browser tests check on a page besides its behaviour: accessibility and its picture.

``assert_accessible(page)`` runs axe-core (axe-playwright-python) on the page as it stands
and fails listing every serious or critical violation; ``screenshot(page, name)`` writes
``docs/screenshots/<name>.png`` at the desktop viewport (and ``<name>-360.png`` at 360 px
wide when asked), the pictures the README shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
NARROW: ViewportSize = {"width": 360, "height": 800}
# The impacts the quality bar allows none of (WCAG 2.2 AA; issue 14).
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@cache
def _axe() -> Axe:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def axe_violations(page: Page, *, context: str | None = None) -> list[dict[str, Any]]:
    """Every violation axe-core finds on the page (or the part ``context`` selects), of any impact."""
    return list(_axe().run(page, context=context).response["violations"])


def describe(violations: Sequence[dict[str, Any]]) -> str:
    """One block per violation: rule, impact, what it asks, where to read more, and each element's selector."""
    blocks = []
    for violation in violations:
        targets = [" > ".join(map(str, node["target"])) for node in violation["nodes"]]
        blocks.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}\n"
            f"  {violation['helpUrl']}\n" + "".join(f"    at {target}\n" for target in targets)
        )
    return "".join(blocks)


def assert_accessible(page: Page, *, context: str | None = None) -> None:
    """Fail listing every serious or critical axe-core violation on the page as it stands."""
    blocking = [v for v in axe_violations(page, context=context) if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        pytest.fail(
            f"axe-core finds {len(blocking)} serious or critical violation(s) on {page.url}:\n{describe(blocking)}",
            pytrace=False,
        )


def screenshot(
    page: Page, name: str, *, narrow: bool = False, directory: Path = SCREENSHOTS, full_page: bool = False
) -> list[Path]:
    """Write ``<directory>/<name>.png`` at 1280x800, and ``<name>-360.png`` at 360 px wide with ``narrow``.

    The viewport is fixed so that the pictures do not change with the machine; it is set
    back afterwards. ``full_page`` takes the whole page's height instead of the window's.
    """
    directory.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    sizes = [(name, DESKTOP)] + ([(f"{name}-{NARROW['width']}", NARROW)] if narrow else [])
    written = []
    try:
        for file_name, viewport in sizes:
            page.set_viewport_size(viewport)
            path = directory / f"{file_name}.png"
            page.screenshot(path=path, full_page=full_page, animations="disabled")
            written.append(path)
    finally:
        if before is not None:
            page.set_viewport_size(before)
    return written
