"""The GitHub Actions pipeline, checked statically (issue 15.1, 15.7): it cannot run against
GitHub or AWS from here, so these pin what actionlint does not: what runs when, least
privilege, OIDC only, pinned actions, caches, one deployment per stage, Dependabot's reach."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+){0,2}$")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S.*?)\s*$")
CONFIGURE_AWS = "aws-actions/configure-aws-credentials"


def load(name: str) -> dict[str, Any]:
    parsed: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    parsed["on"] = parsed.pop(True, parsed.get("on"))
    workflow: dict[str, Any] = parsed
    return workflow


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in workflow_files():
        for job_id, job in load(path.name)["jobs"].items():
            yield path.name, job_id, job


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job.get("steps", []) if step.get("uses", "").startswith(action + "@")]


def run_lines(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def test_the_expected_workflows_exist() -> None:
    assert {p.name for p in workflow_files()} == {
        "ci.yml",
        "deploy.yml",
        "api-contract.yml",
        "release.yml",
    }


def test_every_workflow_grants_nothing_by_default_and_every_job_says_what_it_needs() -> None:
    for path in workflow_files():
        assert load(path.name)["permissions"] == {}, path.name
    for name, job_id, job in jobs():
        assert "permissions" in job, (name, job_id)
        assert all(v in ("read", "write", "none") for v in job["permissions"].values())


def test_id_token_write_only_where_a_role_is_assumed() -> None:
    """OIDC tokens only for jobs that exchange one for AWS credentials (or call such a
    workflow); every other job could not assume a role even if it tried."""
    assuming = set()
    for name, job_id, job in jobs():
        oidc = [s for s in steps_using(job, CONFIGURE_AWS) if not s["with"].get("role-chaining")]
        if oidc:
            assuming.add(name)
        wants_token = job["permissions"].get("id-token") == "write"
        calls = job.get("uses", "")
        assert wants_token == bool(oidc or calls.endswith("/deploy.yml")), (name, job_id)
    assert assuming == {"deploy.yml"}


def test_contents_write_only_for_the_release() -> None:
    writers = {(n, j) for n, j, job in jobs() if job["permissions"].get("contents") == "write"}
    assert writers == {("release.yml", "release")}


def test_no_access_keys_and_no_secrets_anywhere() -> None:
    """Short-lived credentials only: nothing in a workflow reads a stored secret or a key."""
    for path in workflow_files():
        text = path.read_text()
        assert "secrets." not in text, path.name
        assert "aws-access-key-id" not in text
        assert "aws-secret-access-key" not in text
        assert not re.search(r"AKIA[0-9A-Z]{16}", text), path.name
    for _name, _job_id, job in jobs():
        for step in steps_using(job, CONFIGURE_AWS):
            assert step["with"]["role-to-assume"], step


def test_every_third_party_action_is_pinned_to_a_commit_with_its_version_beside_it() -> None:
    versions: dict[str, set[str]] = {}
    for path in workflow_files():
        for line in path.read_text().splitlines():
            used = USES.match(line)
            if used is None or used[1].startswith("./"):
                continue
            assert PINNED.match(used[1]), f"{path.name}: {used[1]} is not pinned to a commit"
            action, rest = used[1].split("@", 1)
            versions.setdefault(action, set()).add(rest)
    assert set(versions) == {
        "actions/checkout",
        "actions/setup-python",
        "actions/setup-node",
        CONFIGURE_AWS,
    }
    # One version of each action across the workflows.
    assert {action: len(pins) for action, pins in versions.items()} == dict.fromkeys(versions, 1)


def test_checkouts_keep_no_credentials() -> None:
    for name, job_id, job in jobs():
        for step in steps_using(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, (name, job_id)


def test_pip_and_npm_are_cached_wherever_they_are_set_up() -> None:
    for name, job_id, job in jobs():
        for step in steps_using(job, "actions/setup-python"):
            if name != "release.yml":  # the release notes need no packages
                assert step["with"]["cache"] == "pip", (name, job_id)
                assert "requirements" in step["with"]["cache-dependency-path"]
        for step in steps_using(job, "actions/setup-node"):
            assert step["with"]["cache"] == "npm", (name, job_id)
            assert step["with"]["cache-dependency-path"] == "package-lock.json"
    assert (REPO / "package-lock.json").exists()


def test_every_pull_request_and_push_runs_make_test_as_ci_does() -> None:
    ci = load("ci.yml")
    assert set(ci["on"]) >= {"pull_request", "push"}
    assert ci["on"]["push"] is None  # every branch, no filter
    test = ci["jobs"]["test"]
    assert "if" not in test
    assert run_lines(test).strip() == ".ci/run"
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_only_main_deploys_dev_then_smoke_then_prod() -> None:
    ci = load("ci.yml")["jobs"]
    dev, prod = ci["deploy-dev"], ci["deploy-prod"]
    assert dev["needs"] == "test"
    assert "github.ref == 'refs/heads/main'" in dev["if"]
    assert "github.event_name == 'push'" in dev["if"]
    assert prod["needs"] == "deploy-dev"  # prod only after dev deployed and passed its smoke
    assert (dev["uses"], dev["with"]) == ("./.github/workflows/deploy.yml", {"stage": "dev"})
    assert (prod["uses"], prod["with"]) == ("./.github/workflows/deploy.yml", {"stage": "prod"})


def test_a_stage_deploys_in_its_environment_one_at_a_time() -> None:
    """The environment is what the deploy role's trust names (the OIDC ``sub`` claim) and
    where prod's required reviewers stop the run; the concurrency group is per stage and never
    cancels a deployment under way."""
    job = load("deploy.yml")["jobs"]["release"]
    assert job["environment"]["name"] == "${{ inputs.stage }}"
    assert job["concurrency"] == {
        "group": "deploy-${{ inputs.stage }}",
        "cancel-in-progress": False,
    }
    assert load("deploy.yml")["on"]["workflow_call"]["inputs"]["stage"]["required"] is True


def test_the_release_deploys_then_smokes_what_the_stack_reports() -> None:
    job = load("deploy.yml")["jobs"]["release"]
    names = [step.get("name", step.get("uses", "")) for step in job["steps"]]
    order = [
        names.index("Assume the deploy role (OIDC)"),
        names.index("make deploy"),
        names.index("Read-only credentials for the stack's outputs (the CDK lookup role)"),
        names.index("Read the stack's ApiUrl"),
        names.index("make smoke"),
    ]
    assert order == sorted(order)
    steps = {step.get("name"): step for step in job["steps"]}
    assert "stage=${{ inputs.stage }}" in steps["make deploy"]["env"]["CDK_CONTEXT"]
    flags = steps["make deploy"]["env"]["DEPLOY_FLAGS"]
    assert "--exclusively ItemsApi-${{ inputs.stage }}" in flags
    assert "OutputKey=='ApiUrl'" in steps["Read the stack's ApiUrl"]["run"]
    smoke = steps["make smoke"]["run"]
    assert "OutputKey=='$1'" in smoke
    assert "output ApiKeyId" in smoke
    assert "--include-value" in smoke
    # Every variable the Makefile's smoke target insists on is passed, and every secret masked.
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile[makefile.index("\nsmoke:") :].split("\n\n", 1)[0]
    required = re.findall(r'-n "\$\((\w+)\)"', recipe)
    assert set(required) == {"BASE_URL", "API_KEY", "TOKEN", "VIEWER_TOKEN"}
    for name in required:
        assert f'{name}="${name}"' in smoke.split("make smoke", 1)[1], name
    for secret in ("API_KEY", "TOKEN", "VIEWER_TOKEN"):
        assert f"::add-mask::${secret}" in smoke, secret
    # The tokens are the machine clients' own (client credentials), the editor's from importer.
    assert "grant_type=client_credentials" in smoke
    assert "TOKEN=$(token Importer)" in smoke
    assert "VIEWER_TOKEN=$(token Reporting)" in smoke


def test_credentials_are_for_the_configured_account_only() -> None:
    job = load("deploy.yml")["jobs"]["release"]
    deploy, lookup = steps_using(job, CONFIGURE_AWS)
    for step in (deploy, lookup):
        assert step["with"]["allowed-account-ids"] == "${{ vars.AWS_ACCOUNT_ID }}"
        assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    assert deploy["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    # The outputs are read with the CDK bootstrap's read-only lookup role, chained from the
    # deploy role, which may only assume bootstrap roles.
    assert lookup["with"]["role-chaining"] is True
    assert lookup["with"]["role-skip-session-tagging"] is True
    assert "lookup-role" in lookup["with"]["role-to-assume"]


def test_pull_requests_check_the_api_contract_against_the_base_branch() -> None:
    contract = load("api-contract.yml")
    assert "pull_request" in contract["on"]
    job = contract["jobs"]["breaking-changes"]
    (checkout,) = steps_using(job, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # the base branch is there to compare with
    (check,) = [step for step in job["steps"] if "make api-diff" in step.get("run", "")]
    assert check["env"]["BASE_REF"] == "origin/${{ github.base_ref }}"
    assert "'breaking-change'" in check["continue-on-error"]


def test_releases_take_their_notes_from_the_changelog() -> None:
    release = load("release.yml")
    assert release["on"]["push"]["tags"] == ["v*"]
    text = run_lines(release["jobs"]["release"])
    assert "python -m tools.release_notes" in text
    assert "gh release create" in text
    assert "--notes-file" in text


@pytest.fixture(scope="module")
def dependabot() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    return config


def test_dependabot_updates_pip_npm_and_actions(dependabot: dict[str, Any]) -> None:
    ecosystems = {update["package-ecosystem"] for update in dependabot["updates"]}
    assert ecosystems == {"pip", "npm", "github-actions"}


def test_dependabot_reaches_every_requirements_file(dependabot: dict[str, Any]) -> None:
    (pip,) = [u for u in dependabot["updates"] if u["package-ecosystem"] == "pip"]
    covered = {d.strip("/") for d in pip["directories"]}
    tracked = subprocess.run(
        ["git", "ls-files", "*requirements*.txt"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    manifests = {Path(name).parent.as_posix() for name in tracked}
    assert {"." if d == "" else d for d in covered} == manifests
