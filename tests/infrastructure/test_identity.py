"""Authentication in the stack (issue 14): the user pool, the token authorizer on every
protected method, one key and usage plan per client, and the optional IP allowlist.

Every rule is checked on the stage templates the app synthesizes (dev without an allowlist,
prod with one of both address versions) and, where SAM is involved, on the SAM-expanded
template CloudFormation deploys. The deploy-time rules pinned here come from AWS's docs:

- Cognito user pool domains: a prefix holds lowercase letters, digits and hyphens, neither starts
  nor ends with a hyphen, is at most 63 characters, must be unique in the region across every
  account, and may not contain "aws", "amazon" or "cognito" (Cognito Developer Guide, "Using the
  Amazon Cognito prefix domain").
- App clients: callback and sign-out URLs must be HTTPS (http only for localhost); the client
  credentials grant needs a client secret, custom scopes only, and cannot be combined with the
  code or implicit grants in one client; OAuth flows need ``AllowedOAuthFlowsUserPoolClient``.
- Deletion protection makes Cognito refuse to delete the pool (so a failed first create cannot
  roll back a RetainExceptOnCreate pool: plain Retain, like the deletion-protected tables).
- API keys: a given value must be at least 20 characters. A usage plan's stage must exist
  before the plan names it.
- WAF: an IP set holds addresses of one version (``IPAddressVersion``), /0 is refused, an OR
  statement needs at least two statements, rule priorities are unique within a web ACL.
- Lambda authorizers: API Gateway needs ``lambda:InvokeFunction`` on the authorizer function,
  granted to ``apigateway.amazonaws.com`` (an authorizer without it answers 500).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_wafv2 as wafv2
from aws_cdk.assertions import Template

from chalicelib.auth.permissions import GROUP_PERMISSIONS, PERMISSIONS
from infrastructure.allowlist import RULE_NAME, IpAllowlist
from infrastructure.config import DeploymentSettings, api_clients, ip_allowlist
from infrastructure.functions import AUTHORIZER_ID, AUTHORIZER_TIMEOUT_S, REST_API_ID
from tests.infrastructure.conftest import Synthesized, default_context

PUBLIC_ROUTES = {"/health", "/openapi.json"}
AUTHORIZER = "authorize"  # the security scheme Chalice names after the authorizer function


def _settings(stage: Synthesized) -> DeploymentSettings:
    return DeploymentSettings.from_context({**default_context(), **stage.context}.get)


def _definition(stage: Synthesized) -> dict[str, Any]:
    """The API's Swagger document: the SAM API's DefinitionBody, or the RestApi's Body."""
    resource = stage.json["Resources"][REST_API_ID]
    properties = resource["Properties"]
    body: dict[str, Any] = properties.get("DefinitionBody") or properties["Body"]
    return body


def _operations(body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in body["paths"].items()
        for method, operation in methods.items()
        if method != "options"
    ]


# -- the token authorizer ------------------------------------------------------------------


def test_every_protected_method_requires_the_token_authorizer_and_the_key(
    every_form: Synthesized,
) -> None:
    body = _definition(every_form)
    protected = [(p, m, o) for p, m, o in _operations(body) if p not in PUBLIC_ROUTES]
    assert len(protected) >= 9
    for path, method, operation in protected:
        schemes = {name for requirement in operation["security"] for name in requirement}
        # API Gateway's importer applies every listed scheme: the key and the authorizer.
        assert schemes == {"api_key", AUTHORIZER}, (path, method)
    for path, method, operation in _operations(body):
        if path in PUBLIC_ROUTES:
            assert not operation.get("security"), (path, method)


def test_preflights_need_neither_token_nor_key(every_form: Synthesized) -> None:
    for path, methods in _definition(every_form)["paths"].items():
        if "options" in methods:
            assert not methods["options"].get("security"), path


def test_the_authorizer_is_a_token_authorizer_on_the_authorization_header(
    every_form: Synthesized,
) -> None:
    scheme = _definition(every_form)["securityDefinitions"][AUTHORIZER]
    assert scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    assert scheme["x-amazon-apigateway-authtype"] == "custom"
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "token"
    assert f"${{{AUTHORIZER_ID}.Arn}}" in json.dumps(authorizer["authorizerUri"])
    # Its answer allows every route and is cached per token (see chalicelib/routes/authorizer).
    assert 0 < authorizer["authorizerResultTtlInSeconds"] <= 3600


def test_api_gateway_may_invoke_the_authorizer_of_this_api_only(expanded: Synthesized) -> None:
    permissions = [
        r["Properties"]
        for r in expanded.resources("AWS::Lambda::Permission").values()
        if AUTHORIZER_ID in json.dumps(r["Properties"]["FunctionName"])
    ]
    assert len(permissions) == 1
    (permission,) = permissions
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "apigateway.amazonaws.com"
    # Invocations through this API only: execute-api:<region>:<account>:<this API>/...
    source = json.dumps(permission["SourceArn"])
    assert ":execute-api:" in source
    assert f'{{"Ref": "{REST_API_ID}"}}' in source


def test_the_authorizer_runs_outside_the_vpc_with_a_role_of_its_own(
    every_form: Synthesized,
) -> None:
    resources = every_form.json["Resources"]
    authorizer = resources[AUTHORIZER_ID]["Properties"]
    assert authorizer["Handler"] == "chalicelib.routes.authorizer.authorize"
    assert "VpcConfig" not in authorizer
    assert authorizer["Timeout"] == AUTHORIZER_TIMEOUT_S
    role_id = authorizer["Role"]["Fn::GetAtt"][0]
    api_role = resources["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert role_id != api_role
    policies = resources[role_id]["Properties"]["Policies"]
    actions = {
        action
        for policy in policies
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    # Its logs and traces, nothing of the stack's data, no network interfaces.
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_the_authorizer_trusts_this_pool_for_every_app_client(stage: Synthesized) -> None:
    environment = stage.function(AUTHORIZER_ID)["Properties"]["Environment"]["Variables"]
    rendered = json.dumps(environment["AUTH_TRUSTED_ISSUERS"])
    assert "ProviderURL" in rendered
    clients = stage.resources("AWS::Cognito::UserPoolClient")
    assert len(clients) == len(_settings(stage).api_clients)
    for logical_id in clients:
        assert f'"Ref": "{logical_id}"' in rendered


def test_a_refused_token_gets_www_authenticate_and_cors(stage: Synthesized) -> None:
    responses = _definition(stage)["x-amazon-apigateway-gateway-responses"]
    unauthorized = responses["UNAUTHORIZED"]["responseParameters"]
    assert unauthorized["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"
    assert "gatewayresponse.header.Access-Control-Allow-Origin" in unauthorized


# -- the user pool ---------------------------------------------------------------------------


def test_people_are_invited_with_a_strong_password_and_optional_totp(stage: Synthesized) -> None:
    stage.template.has_resource_properties(
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


def test_prod_keeps_the_pool_and_guards_it_against_deletion(
    prod: Synthesized, dev: Synthesized
) -> None:
    pool = prod.only("AWS::Cognito::UserPool")
    # Retain, not RetainExceptOnCreate: a deletion-protected pool cannot be rolled back.
    assert pool["DeletionPolicy"] == "Retain"
    assert pool["UpdateReplacePolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    dev_pool = dev.only("AWS::Cognito::UserPool")
    assert dev_pool["DeletionPolicy"] == "Delete"
    assert dev_pool["Properties"].get("DeletionProtection", "INACTIVE") == "INACTIVE"
    for stage in (prod, dev):
        # A retained pool must not block the next create: no fixed name.
        assert "UserPoolName" not in stage.only("AWS::Cognito::UserPool")["Properties"]


def test_groups_and_scopes_are_the_names_the_api_checks(stage: Synthesized) -> None:
    groups = {
        g["Properties"]["GroupName"]
        for g in stage.resources("AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == set(GROUP_PERMISSIONS) == {"viewers", "editors"}
    server = stage.only("AWS::Cognito::UserPoolResourceServer")
    scopes = {
        f"{server['Properties']['Identifier']}/{s['ScopeName']}"
        for s in server["Properties"]["Scopes"]
    }
    assert scopes == set(PERMISSIONS) == {"items/read", "items/write"}


def _domain_prefix(stage: Synthesized, account: str = "123456789012") -> str:
    domain = stage.only("AWS::Cognito::UserPoolDomain")["Properties"]["Domain"]
    parts = domain["Fn::Join"][1] if isinstance(domain, dict) else [domain]
    return "".join(
        part if isinstance(part, str) else account if part == {"Ref": "AWS::AccountId"} else "?"
        for part in parts
    )


def test_the_domain_prefix_is_one_cognito_accepts(stage: Synthesized) -> None:
    prefix = _domain_prefix(stage)
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", prefix), prefix
    assert not any(word in prefix for word in ("aws", "amazon", "cognito"))


def test_the_domain_prefix_differs_per_account_and_stage(
    dev: Synthesized, prod: Synthesized
) -> None:
    # Prefixes are global in a region: the account id and the stage keep them apart.
    assert _domain_prefix(dev, "111111111111") != _domain_prefix(dev, "222222222222")
    assert _domain_prefix(dev) != _domain_prefix(prod)


def test_the_console_csp_allows_the_pools_domain(stage: Synthesized) -> None:
    policy = stage.only("AWS::CloudFront::ResponseHeadersPolicy")
    csp = json.dumps(policy)
    assert "amazoncognito.com" in csp


def _clients(stage: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        c["Properties"]["ClientName"]: c
        for c in stage.resources("AWS::Cognito::UserPoolClient").values()
    }


def test_the_console_is_a_public_code_flow_client_returning_to_the_console_over_https(
    stage: Synthesized,
) -> None:
    console = _clients(stage)["console"]["Properties"]
    assert console.get("GenerateSecret", False) is False
    assert console["AllowedOAuthFlows"] == ["code"]
    assert console["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(console["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert console["EnableTokenRevocation"] is True
    # No password or SRP sign-in from a page: only the managed login and refresh tokens.
    assert console["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    for urls in (console["CallbackURLs"], console["LogoutURLs"]):
        assert len(urls) == 1
        rendered = json.dumps(urls[0])
        assert rendered.startswith('"https://') or '"https://' in rendered, rendered


def test_prod_console_callback_is_its_custom_domain(prod: Synthesized) -> None:
    console = _clients(prod)["console"]["Properties"]
    assert console["CallbackURLs"] == [f"https://{prod.context['webDomainName']}/"]


def test_machine_clients_use_client_credentials_with_a_secret_and_custom_scopes(
    stage: Synthesized,
) -> None:
    clients = _clients(stage)
    declared = {c.name: c for c in _settings(stage).machine_clients}
    assert declared
    assert set(clients) == {"console", *declared}
    server_id = next(iter(stage.resources("AWS::Cognito::UserPoolResourceServer")))
    for name, client in declared.items():
        resource = clients[name]
        props = resource["Properties"]
        assert props["GenerateSecret"] is True
        assert props["AllowedOAuthFlows"] == ["client_credentials"]  # never mixed with code
        assert props["AllowedOAuthFlowsUserPoolClient"] is True
        granted = json.dumps(props["AllowedOAuthScopes"])
        assert "openid" not in granted
        for scope in PERMISSIONS:
            assert (f"/{scope.split('/')[1]}" in granted) == (scope in client.scopes), name
        # Cognito refuses a scope of a resource server that does not exist yet.
        assert server_id in json.dumps(props["AllowedOAuthScopes"]) or server_id in resource.get(
            "DependsOn", []
        ), name


# -- keys and usage plans ---------------------------------------------------------------------


def test_one_key_and_one_usage_plan_per_client_with_its_tiers_limits(
    stage: Synthesized,
) -> None:
    settings = _settings(stage)
    keys = stage.resources("AWS::ApiGateway::ApiKey")
    plans = stage.resources("AWS::ApiGateway::UsagePlan")
    bindings = [b["Properties"] for b in stage.resources("AWS::ApiGateway::UsagePlanKey").values()]
    assert len(keys) == len(plans) == len(bindings) == len(settings.api_clients)
    for client in settings.api_clients:
        ((plan_id, plan),) = [
            (i, p) for i, p in plans.items() if f"the {client.name} client" in json.dumps(p)
        ]
        ((key_id, _),) = [
            (i, k) for i, k in keys.items() if f"the {client.name} client" in json.dumps(k)
        ]
        props = plan["Properties"]
        assert props["Throttle"] == {
            "RateLimit": client.tier.rate_limit,
            "BurstLimit": client.tier.burst_limit,
        }
        assert props["Quota"] == {"Limit": client.tier.quota_per_day, "Period": "DAY"}
        assert props["ApiStages"] == [{"ApiId": {"Ref": REST_API_ID}, "Stage": "api"}]
        # The stage is SAM's: the plan must wait for it.
        assert plan["DependsOn"] == [f"{REST_API_ID}apiStage"]
        assert {
            "KeyId": {"Ref": key_id},
            "KeyType": "API_KEY",
            "UsagePlanId": {"Ref": plan_id},
        } in (bindings)


def test_the_console_key_is_fixed_long_enough_and_unique_per_stack(stage: Synthesized) -> None:
    keys = list(stage.resources("AWS::ApiGateway::ApiKey").values())
    (console,) = [k for k in keys if "the console client" in k["Properties"]["Description"]]
    value = console["Properties"]["Value"]["Fn::Join"]
    # "console-" and the stack id's UUID (36 characters): API Gateway wants at least 20.
    assert value[1][0] == "console-"
    assert "AWS::StackId" in json.dumps(value[1][1])
    assert all("Value" not in k["Properties"] for k in keys if k is not console)


def test_the_console_config_carries_its_key_and_sign_in(stage: Synthesized) -> None:
    deployments = stage.resources("Custom::CDKBucketDeployment")
    rendered = json.dumps(deployments)
    assert "apiKey" in rendered or "console-" in rendered


# -- the IP allowlist ----------------------------------------------------------------------------


def _web_acl_rules(stage: Synthesized) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = stage.only("AWS::WAFv2::WebACL")["Properties"]["Rules"]
    return rules


def test_no_allowlist_without_the_context(dev: Synthesized) -> None:
    assert dev.resources("AWS::WAFv2::IPSet") == {}
    assert RULE_NAME not in {rule["Name"] for rule in _web_acl_rules(dev)}


def test_the_allowlist_blocks_every_address_outside_its_ip_sets_first(prod: Synthesized) -> None:
    sets = {
        s["Properties"]["IPAddressVersion"]: (logical_id, s["Properties"])
        for logical_id, s in prod.resources("AWS::WAFv2::IPSet").items()
    }
    assert set(sets) == {"IPV4", "IPV6"}
    assert sets["IPV4"][1]["Addresses"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert sets["IPV6"][1]["Addresses"] == ["2001:db8::/32"]
    assert all(s["Scope"] == "REGIONAL" for _, s in sets.values())
    rules = _web_acl_rules(prod)
    (allowlist,) = [rule for rule in rules if rule["Name"] == RULE_NAME]
    assert allowlist["Priority"] == 0 == min(rule["Priority"] for rule in rules)
    assert allowlist["Action"] == {"Block": {}}
    either = allowlist["Statement"]["NotStatement"]["Statement"]["OrStatement"]["Statements"]
    referenced = {s["IPSetReferenceStatement"]["Arn"]["Fn::GetAtt"][0] for s in either}
    assert referenced == {logical_id for logical_id, _ in sets.values()}


def test_web_acl_rule_priorities_are_unique(stage: Synthesized) -> None:
    priorities = [rule["Priority"] for rule in _web_acl_rules(stage)]
    assert len(priorities) == len(set(priorities))


def test_an_allowlist_of_one_version_is_one_ip_set_and_no_or(tmp_path: Path) -> None:
    # An OR statement needs at least two statements: NOT(v4) alone.
    stack = Stack(App(outdir=str(tmp_path)), "Allowlist")
    allowlist = IpAllowlist(stack, "Allowlist", api_name="a", cidrs=["192.0.2.0/24"])
    wafv2.CfnWebACL(
        stack,
        "Acl",
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=allowlist.rule.visibility_config,
        rules=[allowlist.rule],
    )
    template = dict(Template.from_stack(stack).to_json())
    sets = [r for r in template["Resources"].values() if r["Type"] == "AWS::WAFv2::IPSet"]
    assert [s["Properties"]["IPAddressVersion"] for s in sets] == ["IPV4"]
    (acl,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::WAFv2::WebACL"]
    (rule,) = acl["Properties"]["Rules"]
    assert "IPSetReferenceStatement" in rule["Statement"]["NotStatement"]["Statement"]


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


# -- acknowledgements ----------------------------------------------------------------------------


def test_apig4_and_cog4_are_not_acknowledged_anywhere() -> None:
    """The API's methods have an authorizer now, so neither "no authorization" (APIG4) nor "no
    Cognito authorizer" (COG4) may be explained away. cdk-nag cannot see the methods of a SAM
    API with a definition body; the authorizer tests above check what those rules would."""
    sources = Path(__file__).resolve().parents[2] / "infrastructure"
    for path in sources.glob("*.py"):
        text = path.read_text()
        assert "APIG4" not in text, path
        assert "COG4" not in text, path
