"""The committed API contract (issue 15.5): docs/openapi.json is what the app serves, Spectral's
``oas`` ruleset finds nothing in it, and ``make api-diff`` tells a breaking change from none."""

from __future__ import annotations

import copy
import difflib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.harness import InProcessApi
from tools import api_contract
from tools.api_contract import DOCUMENT, REPO, compare, default_base, diff, render

SPECTRAL = REPO / "node_modules" / ".bin" / "spectral"
REMOVED = ("/items/{item_id}", "delete")


@pytest.fixture
def served(api: InProcessApi) -> dict[str, Any]:
    reply = api.request("GET", "/openapi.json")
    assert reply.status == 200
    document: dict[str, Any] = reply.json
    return document


def without_operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """A copy of ``document`` in which one operation was removed, as a branch would."""
    changed = copy.deepcopy(document)
    del changed["paths"][path][method]
    return changed


def with_operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """A copy with one more operation (a copy of DELETE /items/{item_id} under a new path)."""
    changed = copy.deepcopy(document)
    operation = copy.deepcopy(document["paths"]["/items/{item_id}"]["delete"])
    operation["operationId"] = f"{method}_archive"
    changed["paths"].setdefault(path, {})[method] = operation
    return changed


def test_the_committed_document_is_the_served_one(served: dict[str, Any]) -> None:
    committed = (REPO / DOCUMENT).read_text(encoding="utf-8")
    expected = render(served)
    difference = "".join(
        list(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/openapi.json (committed)",
                "GET /openapi.json (served)",
            )
        )[:60]
    )
    assert committed == expected, (
        "docs/openapi.json differs from the document the app serves: run `make openapi` and "
        f"commit docs/openapi.json\n{difference}"
    )


def run_spectral(document: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert SPECTRAL.exists(), f"{SPECTRAL} is missing: `make node` installs it"
    target = tmp_path / "openapi.json"
    target.write_text(render(document), encoding="utf-8")
    options = ["--ruleset", str(REPO / ".spectral.yaml"), "--fail-severity", "hint"]
    return subprocess.run(
        [str(SPECTRAL), "lint", str(target), *options, "--format", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def findings(finished: subprocess.CompletedProcess[str]) -> list[str]:
    found: list[dict[str, Any]] = json.loads(finished.stdout or "[]")
    return sorted({f"{f['code']} at {'.'.join(map(str, f['path']))}" for f in found})


def test_spectral_oas_ruleset_finds_nothing_in_the_served_document(
    served: dict[str, Any], tmp_path: Path
) -> None:
    finished = run_spectral(served, tmp_path)
    assert findings(finished) == []
    assert finished.returncode == 0, finished.stderr


def test_spectral_reports_what_the_document_once_lacked(
    served: dict[str, Any], tmp_path: Path
) -> None:
    """The ruleset is live: without servers, a tag and a description it says so."""
    stripped = copy.deepcopy(served)
    del stripped["servers"]
    operation = stripped["paths"]["/items"]["get"]
    del operation["tags"], operation["description"]
    finished = run_spectral(stripped, tmp_path)
    assert finished.returncode != 0
    assert set(findings(finished)) >= {
        "oas3-api-servers at ",
        "operation-description at paths./items.get",
        "operation-tags at paths./items.get",
    }


def test_identical_documents_have_no_breaking_change(served: dict[str, Any]) -> None:
    result = compare(render(served), render(served))
    assert not result.breaking
    assert "No operations changed" in result.report


def test_a_removed_route_is_a_breaking_change(served: dict[str, Any]) -> None:
    result = compare(render(served), render(without_operation(served, *REMOVED)))
    assert result.breaking
    assert "DELETE /items/{item_id}: removed" in result.report
    assert "cannot remove an operation" in result.report


def test_an_added_route_is_not_a_breaking_change(served: dict[str, Any]) -> None:
    result = compare(render(served), render(with_operation(served, "/items/{item_id}/x", "post")))
    assert not result.breaking
    assert "1 operation added" in result.report


def test_a_new_required_request_field_is_a_breaking_change(served: dict[str, Any]) -> None:
    changed = copy.deepcopy(served)
    item_write = changed["components"]["schemas"]["ItemWrite"]
    item_write["properties"]["color"] = {"type": "string"}
    item_write["required"].append("color")
    result = compare(render(served), render(changed))
    assert result.breaking
    assert "cannot add a required request property 'color'" in result.report


def test_a_document_the_tool_cannot_read_is_an_error_not_an_answer(
    served: dict[str, Any],
) -> None:
    with pytest.raises(RuntimeError, match="could not compare"):
        compare(render(served), '{"openapi": "3.1.0"')


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose ``main`` has a docs/openapi.json (filled in by each test)."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.email", "tests@example.com")
    git(repo, "config", "user.name", "tests")
    return repo


def commit_contract(repo: Path, document: dict[str, Any], message: str) -> None:
    (repo / DOCUMENT).write_text(render(document), encoding="utf-8")
    git(repo, "add", DOCUMENT.as_posix())
    git(repo, "commit", "--quiet", "-m", message)


def test_api_diff_on_main_reports_no_breaking_change(
    served: dict[str, Any], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN main's contract is what the code serves WHEN api-diff runs THEN it passes."""
    commit_contract(repo, served, "the contract")
    assert diff(None, repo) == 0
    assert "no breaking change against main:docs/openapi.json" in capsys.readouterr().out


def test_api_diff_on_a_branch_that_removes_a_route_reports_it(
    served: dict[str, Any], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN main's contract has a route WHEN a branch's code no longer serves it THEN api-diff
    fails and names the route."""
    commit_contract(repo, served, "the contract")
    git(repo, "switch", "--quiet", "-c", "remove-a-route")
    branch = without_operation(served, *REMOVED)
    commit_contract(repo, branch, "remove DELETE /items/{item_id}")
    assert diff("main", repo, head=render(branch)) == 1
    out = capsys.readouterr().out
    assert "DELETE /items/{item_id}: removed" in out
    assert "BREAKING changes against main:docs/openapi.json" in out


def test_api_diff_serves_the_current_code_by_default(
    served: dict[str, Any], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The code, not the committed file, is compared: a base with one more route than the code
    serves is a removal even when nobody ran `make openapi`."""
    commit_contract(repo, with_operation(served, "/items/{item_id}/archive", "post"), "base")
    assert diff("main", repo) == 1
    assert "POST /items/{item_id}/archive: removed" in capsys.readouterr().out


def test_api_diff_passes_when_the_base_has_no_contract_yet(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "README.md").write_text("before the contract\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "--quiet", "-m", "no contract yet")
    assert diff("main", repo) == 0
    assert "main has no docs/openapi.json" in capsys.readouterr().out


def test_api_diff_prefers_origin_main_then_main(served: dict[str, Any], repo: Path) -> None:
    commit_contract(repo, served, "the contract")
    assert default_base(repo) == "main"
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    assert default_base(repo) == "origin/main"


def test_api_diff_refuses_an_unknown_base(repo: Path) -> None:
    with pytest.raises(SystemExit, match="unknown base 'nope'"):
        api_contract.committed("nope", repo)
