"""docs/web-console.md shows the console's screens exactly as the browser tests take them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "web-console.md"
SCREENSHOTS = ROOT / "web" / "screenshots"
# A row cell of the screens table: ![alt](../web/screenshots/<name>.png) and what it shows.
CELL = re.compile(r"!\[[^\]]+\]\(\.\./web/screenshots/([\w-]+\.png)\) ([^|]+)")


def committed() -> set[str]:
    return {path.name for path in SCREENSHOTS.glob("*.png")}


def test_the_screens_table_links_each_committed_screenshot_once_with_what_it_shows() -> None:
    cells = CELL.findall(DOC.read_text(encoding="utf-8"))
    linked = [name for name, _ in cells]
    assert sorted(linked) == sorted(committed())
    assert all(shows.strip() for _, shows in cells)


def test_every_screen_a_browser_test_takes_is_committed() -> None:
    taken = {
        f"{name}.png"
        for path in (ROOT / "tests" / "e2e").glob("test_*.py")
        for name in re.findall(r'snap\(\s*\w+,\s*"([\w-]+)"', path.read_text(encoding="utf-8"))
    }
    assert taken == committed()
