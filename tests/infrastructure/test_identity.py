"""The user pool, the per-client keys and usage plans, and the IP allowlist (issue 14).

These constructs do not need the Chalice package, so they are synthesized here in a small stack
of their own (fast), for dev and prod settings, with cdk-nag's rule packs on: ``from_stack``
raises on any unacknowledged finding. cfn-lint checks the same templates.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from chalicelib.auth.permissions import GROUP_PERMISSIONS, PERMISSIONS
from infrastructure.allowlist import RULE_NAME, IpAllowlist
from infrastructure.clients import ApiClients
from infrastructure.config import DeploymentSettings, api_clients, ip_allowlist
from infrastructure.identity import Identity
from tests.infrastructure.conftest import REPO_ROOT, default_context

CFN_LINT = REPO_ROOT / ".venv" / "bin" / "cfn-lint"
CONSOLE_URL = "https://d111111abcdef8.cloudfront.net/"
ALLOWLIST = ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"]


def _settings(**context: Any) -> DeploymentSettings:
    merged = {**default_context(), **context}
    return DeploymentSettings.from_context(merged.get)


def _synthesize(
    settings: DeploymentSettings, workdir: Path
) -> tuple[Template, dict[str, Any], Path]:
    app = App(outdir=str(workdir))
    stack = Stack(app, f"Identity-{settings.stage}")
    identity = Identity(
        stack,
        "Identity",
        stage=settings.stage,
        console_url=CONSOLE_URL,
        clients=settings.api_clients,
        removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        deletion_protection=settings.is_prod,
    )
    ApiClients(
        stack,
        "Clients",
        api_name=f"items-api-{settings.stage}",
        rest_api_id="abc123",
        clients=settings.api_clients,
        after_stage=lambda resource: None,
    )
    if settings.ip_allowlist:
        IpAllowlist(stack, "Allowlist", api_name="items-api", cidrs=settings.ip_allowlist)
    # The issuer document the authorizer reads, as a stack output to inspect.
    CfnOutput(stack, "TrustedIssuers", value=identity.trusted_issuers())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    template = Template.from_stack(stack)
    as_json: dict[str, Any] = dict(template.to_json())
    path = workdir / "identity.template.json"
    path.write_text(json.dumps(as_json))
    return template, as_json, path


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, dict[str, Any], Path]:
    return _synthesize(_settings(), tmp_path_factory.mktemp("identity-dev"))


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, dict[str, Any], Path]:
    settings = _settings(stage="prod", ipAllowlist=ALLOWLIST)
    return _synthesize(settings, tmp_path_factory.mktemp("identity-prod"))


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_people_are_invited_with_a_strong_password_and_optional_totp(dev: Any) -> None:
    template, _, _ = dev
    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "Policies": {
                "PasswordPolicy": {
                    "MinimumLength": 12,
                    "RequireLowercase": True,
                    "RequireUppercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": True,
                    "TemporaryPasswordValidityDays": 3,
                }
            },
            "MfaConfiguration": "OPTIONAL",
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
        },
    )


def test_prod_keeps_the_pool_and_guards_it_against_deletion(prod: Any, dev: Any) -> None:
    _, prod_json, _ = prod
    _, dev_json, _ = dev
    (pool,) = _of_type(prod_json, "AWS::Cognito::UserPool")
    assert pool["DeletionPolicy"] == "Retain"
    assert pool["UpdateReplacePolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    (dev_pool,) = _of_type(dev_json, "AWS::Cognito::UserPool")
    assert dev_pool["DeletionPolicy"] == "Delete"
    assert dev_pool["Properties"].get("DeletionProtection", "INACTIVE") == "INACTIVE"


def test_groups_scopes_and_domain_are_the_names_the_api_checks(dev: Any) -> None:
    _, as_json, _ = dev
    groups = {
        g["Properties"]["GroupName"] for g in _of_type(as_json, "AWS::Cognito::UserPoolGroup")
    }
    assert groups == set(GROUP_PERMISSIONS) == {"viewers", "editors"}
    (server,) = _of_type(as_json, "AWS::Cognito::UserPoolResourceServer")
    scopes = {
        f"{server['Properties']['Identifier']}/{s['ScopeName']}"
        for s in server["Properties"]["Scopes"]
    }
    assert scopes == set(PERMISSIONS)
    (domain,) = _of_type(as_json, "AWS::Cognito::UserPoolDomain")
    parts = domain["Properties"]["Domain"]["Fn::Join"][1]
    literal = "".join(part for part in parts if isinstance(part, str))
    # Cognito refuses prefixes containing these words, and any but lowercase letters, digits, -.
    assert not any(word in literal for word in ("aws", "amazon", "cognito"))
    assert literal == literal.lower()
    assert {"Ref": "AWS::AccountId"} in parts


def _clients(as_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["Properties"]["ClientName"]: c["Properties"]
        for c in _of_type(as_json, "AWS::Cognito::UserPoolClient")
    }


def test_the_console_is_a_public_client_with_the_code_flow_back_to_the_console(dev: Any) -> None:
    _, as_json, _ = dev
    console = _clients(as_json)["console"]
    assert console.get("GenerateSecret", False) is False
    assert console["AllowedOAuthFlows"] == ["code"]
    assert console["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(console["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert console["CallbackURLs"] == [CONSOLE_URL]
    assert console["LogoutURLs"] == [CONSOLE_URL]
    assert console["EnableTokenRevocation"] is True
    # No password or SRP sign-in from a page: only the managed login and refresh tokens.
    assert console["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]


def test_machine_clients_have_secrets_client_credentials_and_their_scopes(dev: Any) -> None:
    _, as_json, _ = dev
    clients = _clients(as_json)
    declared = {c.name: c for c in _settings().machine_clients}
    assert declared
    assert set(clients) == {"console", *declared}
    for name, client in declared.items():
        props = clients[name]
        assert props["GenerateSecret"] is True
        assert props["AllowedOAuthFlows"] == ["client_credentials"]
        granted = json.dumps(props["AllowedOAuthScopes"])
        for scope in PERMISSIONS:
            assert (f"/{scope.split('/')[1]}" in granted) == (scope in client.scopes), name


def test_one_key_and_one_usage_plan_per_client_with_its_tiers_limits(dev: Any) -> None:
    _, as_json, _ = dev
    settings = _settings()
    keys = _of_type(as_json, "AWS::ApiGateway::ApiKey")
    plans = _of_type(as_json, "AWS::ApiGateway::UsagePlan")
    bindings = _of_type(as_json, "AWS::ApiGateway::UsagePlanKey")
    assert len(keys) == len(plans) == len(bindings) == len(settings.api_clients)
    for client in settings.api_clients:
        (plan,) = [
            p for p in plans if f"the {client.name} client" in p["Properties"]["Description"]
        ]
        assert plan["Properties"]["Throttle"] == {
            "RateLimit": client.tier.rate_limit,
            "BurstLimit": client.tier.burst_limit,
        }
        assert plan["Properties"]["Quota"] == {"Limit": client.tier.quota_per_day, "Period": "DAY"}
        assert plan["Properties"]["ApiStages"] == [{"ApiId": "abc123", "Stage": "api"}]
    console_key = [k for k in keys if "console" in k["Properties"]["Description"]]
    # The console's key is public in its config.json: a fixed value, unique per stack.
    assert "AWS::StackId" in json.dumps(console_key[0]["Properties"]["Value"])
    machine_keys = [k for k in keys if k not in console_key]
    assert all("Value" not in k["Properties"] for k in machine_keys)


def test_the_authorizer_trusts_this_pool_for_every_app_client(dev: Any) -> None:
    _, as_json, _ = dev
    joined = as_json["Outputs"]["TrustedIssuers"]["Value"]["Fn::Join"]
    rendered = "".join(
        part if isinstance(part, str) else f"<{json.dumps(part)}>" for part in joined[1]
    )
    client_refs = rendered.count("AWS::Cognito::UserPoolClient") + rendered.count('"Ref"')
    assert client_refs >= len(_settings().api_clients)
    assert rendered.startswith('[{"issuer": "https://')
    assert "ProviderURL" in rendered


def test_no_allowlist_rule_without_the_context(dev: Any) -> None:
    _, as_json, _ = dev
    assert _of_type(as_json, "AWS::WAFv2::IPSet") == []


def test_the_allowlist_blocks_every_address_outside_its_ip_sets(prod: Any) -> None:
    _, as_json, _ = prod
    sets = {
        s["Properties"]["IPAddressVersion"]: s["Properties"]
        for s in _of_type(as_json, "AWS::WAFv2::IPSet")
    }
    assert sets["IPV4"]["Addresses"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert sets["IPV6"]["Addresses"] == ["2001:db8::/32"]
    assert all(s["Scope"] == "REGIONAL" for s in sets.values())


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (["0.0.0.0/0"], "/0"),
        (["::/0"], "/0"),
        (["10.1.2.3/8"], "not a CIDR"),  # a host bit set: WAF wants the network address
        (["not-an-address"], "not a CIDR"),
    ],
)
def test_allowlist_entries_waf_would_refuse_are_refused_at_synth(
    given: list[str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        ip_allowlist(given)


def test_allowlist_entries_are_normalized_and_command_line_json_is_read() -> None:
    assert ip_allowlist('["2001:DB8:0:0::/64", "192.0.2.1/32"]') == (
        "2001:db8::/64",
        "192.0.2.1/32",
    )
    assert ip_allowlist(None) == ()


@pytest.mark.parametrize(
    ("clients", "problem"),
    [
        ([{"name": "reporting", "scopes": ["items/read"], "tier": "standard"}], "exactly one"),
        (
            [{"name": "console", "kind": "console", "scopes": ["items/read"], "tier": "console"}],
            "groups",
        ),
        (
            [
                {"name": "console", "kind": "console", "tier": "console"},
                {"name": "x", "scopes": ["items/delete"], "tier": "standard"},
            ],
            "scopes",
        ),
        ([{"name": "console", "kind": "console", "tier": "gold"}], "tier"),
    ],
)
def test_api_clients_are_validated(clients: list[dict[str, Any]], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        api_clients(clients, default_context()["usagePlanTiers"])


def test_the_web_acl_puts_the_allowlist_first(tmp_path: Path) -> None:
    from aws_cdk import aws_wafv2 as wafv2

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Acl")
    allowlist = IpAllowlist(stack, "Allowlist", api_name="a", cidrs=ALLOWLIST)
    wafv2.CfnWebACL(
        stack,
        "Acl",
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=allowlist.rule.visibility_config,
        rules=[allowlist.rule],
    )
    (acl,) = _of_type(dict(Template.from_stack(stack).to_json()), "AWS::WAFv2::WebACL")
    (rule,) = acl["Properties"]["Rules"]
    assert rule["Name"] == RULE_NAME
    assert rule["Priority"] == 0
    assert rule["Action"] == {"Block": {}}
    either = rule["Statement"]["NotStatement"]["Statement"]["OrStatement"]["Statements"]
    assert len(either) == 2
    assert all("IPSetReferenceStatement" in s for s in either)


def test_cfn_lint_reports_nothing_on_these_resources(dev: Any, prod: Any) -> None:
    for _, _, path in (dev, prod):
        result = subprocess.run(
            [str(CFN_LINT), str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
