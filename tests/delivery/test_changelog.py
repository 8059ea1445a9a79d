"""CHANGELOG.md keeps Keep a Changelog's shape, and the release notes come from it (15.7)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tools.release_notes import CHANGELOG, KINDS, SEMVER, notes, sections

REPO = Path(__file__).resolve().parents[2]

SAMPLE = """# Changelog

## [Unreleased]

### Added

- Something new.

## [1.1.0] - 2026-12-24

### Fixed

- A 500 on a tampered cursor is a 400.

## [1.0.0] - 2026-12-01

### Added

- The first release.
"""


def semver_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-", maxsplit=1)[0].split("."))


def test_the_changelog_is_keep_a_changelog() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    found = sections(text)
    assert found[0].name == "Unreleased"
    assert found[0].date is None
    released = found[1:]
    for section in released:
        assert SEMVER.match(section.name), section.name
        assert section.date is not None, section.name
        assert date.fromisoformat(section.date) <= date.today(), section.name
        assert section.body, section.name
    versions = [semver_key(s.name) for s in released]
    assert versions == sorted(versions, reverse=True)  # newest first
    assert len(set(versions)) == len(versions)
    for heading in re.findall(r"^### (.+)$", text, flags=re.MULTILINE):
        assert heading in KINDS, heading


def test_the_notes_of_a_tag_are_its_section() -> None:
    assert notes("v1.1.0", SAMPLE) == "### Fixed\n\n- A 500 on a tampered cursor is a 400.\n"
    assert notes("1.0.0", SAMPLE) == "### Added\n\n- The first release.\n"


def test_a_tag_without_its_section_has_no_notes() -> None:
    with pytest.raises(LookupError, match=r"no section for 2\.0\.0"):
        notes("v2.0.0", SAMPLE)
    with pytest.raises(LookupError, match="is empty"):
        notes("v0.9.0", SAMPLE + "\n## [0.9.0] - 2026-11-01\n")


def test_a_heading_outside_the_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Keep a Changelog heading"):
        sections("# Changelog\n\n## 1.0.0 (December)\n\n- x\n")


def test_the_release_workflow_command_prints_the_notes(tmp_path: Path) -> None:
    """``python -m tools.release_notes`` exits 1 for a version the changelog lacks."""
    finished = subprocess.run(
        [sys.executable, "-m", "tools.release_notes", "v999.0.0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 1
    assert "no section for 999.0.0" in finished.stderr
