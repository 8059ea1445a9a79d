"""The release notes of one version: its section of CHANGELOG.md (Keep a Changelog).

``python -m tools.release_notes v1.2.0`` prints the body of ``## [1.2.0] - <date>``; the release
workflow publishes it as the GitHub release's notes. A version without a section, or with an
empty one, is an error: a release must say what changed. Standard library only, so the release
workflow needs no virtualenv.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


@dataclass(frozen=True)
class Section:
    """One ``## [name] - date`` section: Unreleased or a version."""

    name: str
    date: str | None
    body: str


def sections(changelog: str) -> list[Section]:
    """Every ``## [...]`` section in order, with the text up to the next one."""
    found: list[Section] = []
    name: str | None = None
    date: str | None = None
    lines: list[str] = []
    for line in changelog.splitlines():
        heading = HEADING.match(line)
        if heading is None and line.startswith("## "):
            raise ValueError(f"not a Keep a Changelog heading: {line!r}")
        if heading is not None:
            if name is not None:
                found.append(Section(name, date, "\n".join(lines).strip()))
            name, date, lines = heading["name"], heading["date"], []
        elif name is not None:
            lines.append(line)
    if name is not None:
        found.append(Section(name, date, "\n".join(lines).strip()))
    return found


def notes(version: str, changelog: str) -> str:
    """The body of ``version``'s section (a leading ``v`` is a tag's, and ignored)."""
    wanted = version.removeprefix("v")
    for section in sections(changelog):
        if section.name == wanted:
            if not section.body:
                raise LookupError(f"CHANGELOG.md: the section of {wanted} is empty")
            return section.body + "\n"
    raise LookupError(f"CHANGELOG.md has no section for {wanted}: add `## [{wanted}] - <date>`")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.release_notes <tag, e.g. v1.2.0>", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(notes(argv[0], CHANGELOG.read_text(encoding="utf-8")))
    except LookupError as missing:
        print(missing, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
