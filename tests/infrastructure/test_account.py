"""The one-time account stack ``ItemsApi-account``: API Gateway's account-wide logging role,
and (with context ``githubRepository``) GitHub's OIDC provider and the deploy role."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App, DefaultStackSynthesizer, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infrastructure.account import (
    ACCOUNT_STACK_NAME,
    BOOTSTRAP_ROLE_KINDS,
    DEPLOY_ENVIRONMENTS,
    ItemsApiAccountStack,
)
from infrastructure.config import AccountSettings
from tests.infrastructure.conftest import REPO_ROOT, Synthesized


def test_the_account_stack_is_named_and_holds_the_api_gateway_account_setting(
    account: Synthesized,
) -> None:
    """One AWS::ApiGateway::Account, pointing at a role API Gateway may assume.

    API Gateway needs the account's CloudWatch role ARN before any stage may enable execution
    logging ("CloudWatch Logs role ARN must be set in account settings to enable logging"; API
    Gateway Developer Guide, "Set up CloudWatch logging for REST APIs").
    """
    assert account.path.name == f"{ACCOUNT_STACK_NAME}.template.json"
    setting = account.only("AWS::ApiGateway::Account")["Properties"]
    role_id = setting["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role: dict[str, Any] = account.json["Resources"][role_id]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert role["Properties"]["ManagedPolicyArns"] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                ],
            ]
        }
    ]


def test_the_logging_role_outlives_the_account_stack_but_not_a_failed_create(
    account: Synthesized,
) -> None:
    """Deleting the stack keeps the role (the account setting still names it, and deleting the
    setting does not unset it); a failed first create removes it (RetainExceptOnCreate).

    CloudFormation template reference, AWS::ApiGateway::Account: "When you delete a stack
    containing this resource, API Gateway can still assume the provided IAM role"; DeletionPolicy
    attribute, RetainExceptOnCreate.
    """
    (role,) = account.resources("AWS::IAM::Role").values()
    assert role["DeletionPolicy"] == "RetainExceptOnCreate"
    assert role["UpdateReplacePolicy"] == "Retain"
    assert "RoleName" not in role["Properties"]


def test_the_account_stack_holds_only_account_wide_pieces(account: Synthesized) -> None:
    types = {resource["Type"] for resource in account.json["Resources"].values()}
    assert types == {"AWS::IAM::Role", "AWS::ApiGateway::Account"}


# -- GitHub Actions: the OIDC provider and the deploy role (issue 15)

REPOSITORY = "octo-org/items-api"
BOOTSTRAP_ROLE = re.compile(
    r"arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:role/"
    r"cdk-(?P<qualifier>[a-z0-9]+)-(?P<kind>[a-z-]+)-role-\$\{AWS::AccountId\}-\$\{AWS::Region\}"
)


def _account(tmp_path: Path, **context: Any) -> Synthesized:
    """The account stack alone, with the app's cdk-nag packs (as ``make bootstrap`` builds it)."""
    app = App(context={"githubRepository": REPOSITORY, **context})
    stack = ItemsApiAccountStack(
        app, ACCOUNT_STACK_NAME, settings=AccountSettings.from_context(app.node.try_get_context)
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    template = Template.from_stack(stack)  # raises on an unacknowledged cdk-nag finding
    as_json: dict[str, Any] = dict(template.to_json())
    path = tmp_path / f"{ACCOUNT_STACK_NAME}.template.json"
    path.write_text(json.dumps(as_json, indent=1))
    return Synthesized(template=template, json=as_json, path=path, context=context)


def _sub(value: Any) -> str:
    """A resource ARN as one Fn::Sub-like string (CDK renders it as Fn::Join)."""
    if isinstance(value, str):
        return value
    pseudo = {"AWS::Partition", "AWS::AccountId", "AWS::Region"}
    parts = []
    for part in value["Fn::Join"][1]:
        if isinstance(part, dict):
            assert part["Ref"] in pseudo, part
            parts.append("${" + part["Ref"] + "}")
        else:
            parts.append(part)
    return "".join(parts)


def _deploy_role(account: Synthesized) -> tuple[str, dict[str, Any]]:
    (role_id,) = [
        i
        for i, role in account.resources("AWS::IAM::Role").items()
        if "sts:AssumeRoleWithWebIdentity" in str(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    return role_id, account.json["Resources"][role_id]["Properties"]


def test_the_oidc_provider_is_githubs_with_the_sts_audience(tmp_path: Path) -> None:
    account = _account(tmp_path)
    provider = account.only("AWS::IAM::OIDCProvider")["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_the_deploy_role_trusts_only_this_repositorys_deploying_environments(
    tmp_path: Path,
) -> None:
    """One statement: web identity from the provider, audience STS, ``sub`` exactly
    ``repo:<owner>/<name>:environment:<env>`` for dev and prod (GitHub's subject for a job that
    declares an environment) - StringEquals, so no wildcard can widen it."""
    account = _account(tmp_path)
    (provider_id,) = account.resources("AWS::IAM::OIDCProvider")
    _, role = _deploy_role(account)
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": {"Fn::GetAtt": [provider_id, "Arn"]}}
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [
                f"repo:{REPOSITORY}:environment:{environment}"
                for environment in DEPLOY_ENVIRONMENTS
            ],
        }
    }
    assert "*" not in json.dumps(statement)
    assert role["MaxSessionDuration"] == 3600


def test_the_deploy_role_may_only_assume_the_cdk_bootstrap_roles(tmp_path: Path) -> None:
    account = _account(tmp_path)
    role_id, role = _deploy_role(account)
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    policies = [
        p["Properties"]
        for p in account.resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    (policy,) = policies
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    resources = [BOOTSTRAP_ROLE.fullmatch(_sub(r)) for r in statement["Resource"]]
    assert all(resources), statement["Resource"]
    assert {m["qualifier"] for m in resources if m} == {DefaultStackSynthesizer.DEFAULT_QUALIFIER}
    assert {m["kind"] for m in resources if m} == set(BOOTSTRAP_ROLE_KINDS)
    # The stack holds no other policy (nothing else could be attached to the deploy role).
    assert len(account.resources("AWS::IAM::Policy")) == len(policies)


def test_the_bootstrap_qualifier_comes_from_context(tmp_path: Path) -> None:
    account = _account(tmp_path, **{"@aws-cdk/core:bootstrapQualifier": "items42"})
    (policy,) = account.resources("AWS::IAM::Policy").values()
    qualifiers = {
        match["qualifier"]
        for r in policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]
        if (match := BOOTSTRAP_ROLE.fullmatch(_sub(r)))
    }
    assert qualifiers == {"items42"}


def test_the_deploy_roles_arn_is_an_output(tmp_path: Path) -> None:
    account = _account(tmp_path)
    role_id, _ = _deploy_role(account)
    assert account.json["Outputs"]["DeployRoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_an_existing_provider_is_reused_not_created(tmp_path: Path) -> None:
    """IAM holds one provider per URL and account: a second create fails (EntityAlreadyExists)."""
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    account = _account(tmp_path, githubOidcProviderArn=arn)
    assert not account.resources("AWS::IAM::OIDCProvider")
    _, role = _deploy_role(account)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Federated": arn}


def test_cfn_lint_reports_nothing_on_the_account_stack_with_github(tmp_path: Path) -> None:
    from tests.infrastructure.test_checks import _cfn_lint

    _cfn_lint(_account(tmp_path).path)


@pytest.mark.parametrize(
    "repository", ["octo-org", "octo-org/*", "*/items-api", "a/b/c", "-octo/x", "octo/..", ""]
)
def test_a_repository_that_is_not_owner_slash_name_is_refused(repository: str) -> None:
    context = {"githubRepository": repository}
    if not repository:
        assert AccountSettings.from_context(context.get).github_repository is None
        return
    with pytest.raises(ValueError, match="githubRepository must be the repository"):
        AccountSettings.from_context(context.get)


def test_a_provider_arn_for_another_issuer_is_refused() -> None:
    context = {
        "githubRepository": REPOSITORY,
        "githubOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/example.com",
    }
    with pytest.raises(ValueError, match="githubOidcProviderArn must be the ARN"):
        AccountSettings.from_context(context.get)


def test_the_workflows_deploy_in_the_environments_the_role_trusts() -> None:
    """ci.yml calls deploy.yml once per stage, and deploy.yml's job runs in the GitHub
    environment named by the stage: those are exactly the environments in the trust."""
    workflows = REPO_ROOT / ".github" / "workflows"
    ci = yaml.safe_load((workflows / "ci.yml").read_text())
    stages = [
        job["with"]["stage"]
        for job in ci["jobs"].values()
        if job.get("uses") == "./.github/workflows/deploy.yml"
    ]
    assert sorted(stages) == sorted(DEPLOY_ENVIRONMENTS)
    deploy = yaml.safe_load((workflows / "deploy.yml").read_text())
    (job,) = deploy["jobs"].values()
    assert job["environment"]["name"] == "${{ inputs.stage }}"
    # The role the job chains to for the outputs is one of the bootstrap roles it may assume.
    assert any(
        "lookup-role" in str(step.get("with", {}).get("role-to-assume", ""))
        for step in job["steps"]
    )
    assert "lookup" in BOOTSTRAP_ROLE_KINDS
