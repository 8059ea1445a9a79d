"""The committed API contract, ``docs/openapi.json``, and the check that guards it.

``python -m tools.api_contract write`` (``make openapi``) writes the document the app serves;
a test fails while the committed copy differs from it. ``python -m tools.api_contract diff
[--base REF]`` (``make api-diff``) compares the document the code serves now with the copy
committed on a base branch and exits 1 on a breaking change. The comparison is Optic's
(``@useoptic/optic`` from npm, pinned in ``package.json``) with its breaking-change ruleset:
removed operations, parameters, response statuses or properties, newly required inputs,
narrowed types and enums.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.openapi import build_document

REPO = Path(__file__).resolve().parent.parent
DOCUMENT = Path("docs") / "openapi.json"  # relative to the repository root, as git names it
OPTIC = REPO / "node_modules" / ".bin" / "optic"
DEFAULT_BASES = ("origin/main", "main")
# Optic reports usage to its vendor unless told not to; the check sends nothing anywhere.
QUIET_OPTIC = {"OPTIC_TELEMETRY_LEVEL": "off"}


def render(document: dict[str, Any]) -> str:
    """The committed form: two-space indented JSON, key order as built, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def served() -> str:
    """The document the app serves at ``GET /openapi.json``, in its committed form."""
    return render(build_document())


def write(target: Path = REPO / DOCUMENT) -> Path:
    target.write_text(served(), encoding="utf-8")
    return target


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed program, arguments from our own code
        ["git", *args],  # noqa: S607 - git from PATH, as every developer runs it
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def default_base(repo: Path = REPO) -> str:
    """``origin/main`` when the clone has it (CI, most clones), else the local ``main``."""
    for ref in DEFAULT_BASES:
        if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo).returncode == 0:
            return ref
    raise SystemExit(f"api-diff: none of {', '.join(DEFAULT_BASES)} exists; pass BASE=<ref>")


def committed(ref: str, repo: Path = REPO) -> str | None:
    """The contract as committed on ``ref``, or None when that commit has no contract yet."""
    if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo).returncode != 0:
        raise SystemExit(f"api-diff: unknown base {ref!r}")
    shown = _git("show", f"{ref}:{DOCUMENT.as_posix()}", cwd=repo)
    return shown.stdout if shown.returncode == 0 else None


@dataclass(frozen=True)
class Comparison:
    """What the breaking-change check found between two documents."""

    breaking: bool
    report: str


def compare(base: str, head: str) -> Comparison:
    """Run Optic's breaking-change checks on two documents (JSON text)."""
    if not OPTIC.exists():
        raise SystemExit(f"api-diff: {OPTIC} is missing: `make node` installs it (npm ci)")
    with tempfile.TemporaryDirectory(prefix="api-diff-") as workdir:
        base_file, head_file = Path(workdir, "base.json"), Path(workdir, "head.json")
        base_file.write_text(base, encoding="utf-8")
        head_file.write_text(head, encoding="utf-8")
        finished = subprocess.run(  # noqa: S603 - our pinned tool on our own files
            [str(OPTIC), "diff", str(base_file), str(head_file), "--check"],
            cwd=workdir,  # Optic looks for an optic.yml from its working directory: none here
            env={**os.environ, **QUIET_OPTIC},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    report = (finished.stdout + finished.stderr).replace(workdir + "/", "")
    if finished.returncode == 0:
        return Comparison(breaking=False, report=report)
    # Optic exits 1 both for failed checks and for documents it cannot read; only the first
    # is an answer.
    if "breaking change" in report:
        return Comparison(breaking=True, report=report)
    raise RuntimeError(f"optic could not compare the documents:\n{report}")


def diff(base_ref: str | None, repo: Path = REPO, head: str | None = None) -> int:
    """``make api-diff``: 1 when ``head`` (default: the document the code serves now) breaks
    the contract committed on ``base_ref``."""
    ref = base_ref or default_base(repo)
    base = committed(ref, repo)
    if base is None:
        print(f"api-diff: {ref} has no {DOCUMENT}; nothing to compare with")
        return 0
    result = compare(base, served() if head is None else head)
    print(result.report, end="")
    verdict = "BREAKING changes" if result.breaking else "no breaking change"
    print(f"api-diff: {verdict} against {ref}:{DOCUMENT}")
    return 1 if result.breaking else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.api_contract", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("write", help=f"write {DOCUMENT} from the app (make openapi)")
    compare_with = commands.add_parser("diff", help="breaking changes against a base branch")
    compare_with.add_argument("--base", help=f"git ref (default: {' or '.join(DEFAULT_BASES)})")
    arguments = parser.parse_args(argv)
    if arguments.command == "write":
        print(f"wrote {write().relative_to(REPO)}")
        return 0
    return diff(arguments.base or None)


if __name__ == "__main__":
    sys.exit(main())
