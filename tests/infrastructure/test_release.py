"""Releases of the functions: the ``live`` alias, CodeDeploy's traffic shifting of the API handler
with its alarms, and the cold-start options (``snapStart``, ``provisionedConcurrency``).

Each rule is checked as synthesized and as CloudFormation deploys it (after the SAM transform),
on both stages; the options on two more syntheses that switch one of them on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infrastructure.config import (
    DEFAULT_DEPLOYMENT_TYPE,
    LAMBDA_RUNTIME,
    LIVE_ALIAS,
    SNAP_START_MIN_PYTHON,
    runtime_python,
)
from infrastructure.functions import AUTHORIZER_ID, CLEANUP_ID, FUNCTION_ID, UPLOADS_ID
from tests.infrastructure.conftest import (
    Forms,
    Synthesized,
    default_context,
    expand,
    synthesize,
)

FUNCTION_IDS = (FUNCTION_ID, UPLOADS_ID, CLEANUP_ID)
# CodeDeploy: at most 10 CloudWatch alarms per deployment group (CodeDeploy quotas).
MAX_DEPLOYMENT_GROUP_ALARMS = 10
# Lambda: SnapStart supports ephemeral storage up to 512 MB (Lambda Developer Guide, SnapStart,
# supported features and limitations).
SNAP_START_MAX_EPHEMERAL_MB = 512
PROVISIONED = 2


def _synthesized(
    tmp_path_factory: pytest.TempPathFactory, name: str, **context: Any
) -> tuple[Synthesized, Synthesized]:
    workdir: Path = tmp_path_factory.mktemp(name)
    raw = synthesize({**default_context(), **context}, workdir).stage
    return raw, expand(raw, workdir / "expanded")


@pytest.fixture(scope="module")
def snap_start(
    tmp_path_factory: pytest.TempPathFactory, prod_expanded: Synthesized
) -> tuple[Synthesized, Synthesized]:
    """dev with ``-c snapStart=true`` (after the session's own syntheses: a known order)."""
    return _synthesized(tmp_path_factory, "snap-start", snapStart="true")


@pytest.fixture(scope="module")
def provisioned(
    tmp_path_factory: pytest.TempPathFactory, snap_start: tuple[Synthesized, Synthesized]
) -> tuple[Synthesized, Synthesized]:
    """dev with ``-c provisionedConcurrency=2``."""
    return _synthesized(tmp_path_factory, "provisioned", provisionedConcurrency=str(PROVISIONED))


def _stage_name(template: Synthesized) -> str:
    return str(template.context["stage"])


# -- every function: a published version behind ``live``


@pytest.mark.parametrize("function_id", FUNCTION_IDS)
def test_every_function_is_published_behind_its_live_alias(forms: Forms, function_id: str) -> None:
    """Every change publishes a version (code and configuration together) and moves ``live``.

    SAM publishes a new version only when the code changes unless AutoPublishAliasAllProperties
    is set: a changed environment variable or layer would never reach the alias otherwise.
    """
    props = forms.raw.function(function_id)["Properties"]
    assert props["AutoPublishAlias"] == LIVE_ALIAS
    assert props["AutoPublishAliasAllProperties"] is True
    expanded = forms.expanded
    alias = expanded.json["Resources"][expanded.live_alias(function_id)]["Properties"]
    version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
    version = expanded.json["Resources"][version_id]
    assert version["Type"] == "AWS::Lambda::Version"
    assert version["Properties"]["FunctionName"] == {"Ref": function_id}
    # A rollback moves the alias back to the previous version: it must outlive its replacement.
    assert version["DeletionPolicy"] == "Retain"


def _proxy_integrations(template: Synthesized) -> list[Any]:
    api = template.only(
        "AWS::Serverless::Api" if "Transform" in template.json else "AWS::ApiGateway::RestApi"
    )
    body = api["Properties"].get("DefinitionBody") or api["Properties"]["Body"]
    return [
        operation["x-amazon-apigateway-integration"]["uri"]
        for methods in body["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict)
        and operation.get("x-amazon-apigateway-integration", {}).get("type") == "aws_proxy"
    ]


def test_api_gateway_invokes_the_api_handlers_alias_on_every_route(forms: Forms) -> None:
    """Chalice's Swagger invokes ``${APIHandler.Arn}`` ($LATEST), which CodeDeploy never moves:
    every proxy integration must name the alias instead, before and after the transform."""
    for template, alias in (
        (forms.raw, {"Ref": f"{FUNCTION_ID}.Alias"}),
        (forms.expanded, {"Ref": forms.expanded.live_alias()}),
    ):
        uris = _proxy_integrations(template)
        assert len(uris) >= 5
        for uri in uris:
            text, variables = uri["Fn::Sub"]
            assert text.endswith("/functions/${LiveAlias}/invocations"), text
            assert variables == {"LiveAlias": alias}
            assert f"{FUNCTION_ID}.Arn" not in str(uri)


def test_api_gateways_invoke_permission_is_for_the_alias(forms: Forms) -> None:
    """API Gateway calls the alias ARN; its permission is qualified by that alias (Lambda API,
    AddPermission), and limited to this API (SourceArn)."""
    for template, alias in (
        (forms.raw, {"Ref": f"{FUNCTION_ID}.Alias"}),
        (forms.expanded, {"Ref": forms.expanded.live_alias()}),
    ):
        (permission,) = [
            p["Properties"]
            for p in template.resources("AWS::Lambda::Permission").values()
            if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
            # The token authorizer's own permission is checked in test_identity.
            and AUTHORIZER_ID not in str(p["Properties"]["FunctionName"])
        ]
        assert permission["FunctionName"] == alias
        assert permission["Action"] == "lambda:InvokeFunction"
        assert "RestAPI" in str(permission["SourceArn"])


# -- the API handler: CodeDeploy shifts traffic and rolls back on its alarms


def _alarm_metric(template: Synthesized, alarm_id: str) -> tuple[str, str]:
    alarm = template.json["Resources"][alarm_id]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    props = alarm["Properties"]
    return props["Namespace"], props["MetricName"]


def test_the_api_handler_has_a_deployment_preference_per_stage(forms: Forms) -> None:
    """prod: a canary (10 % for 5 minutes); dev: all at once (cdk.json context selects).

    SAM requires AutoPublishAlias with a DeploymentPreference; CodeDeploy's deployment config is
    ``CodeDeployDefault.Lambda<Type>``.
    """
    expected = DEFAULT_DEPLOYMENT_TYPE[_stage_name(forms.raw)]
    props = forms.raw.function()["Properties"]
    assert props["AutoPublishAlias"] == LIVE_ALIAS
    assert props["DeploymentPreference"]["Type"] == expected
    group = forms.expanded.only("AWS::CodeDeploy::DeploymentGroup")["Properties"]
    assert group["DeploymentConfigName"] == {
        "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": expected}]
    }
    assert group["DeploymentStyle"] == {
        "DeploymentType": "BLUE_GREEN",
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
    }
    # CloudFormation hands the alias update to CodeDeploy instead of switching it itself.
    alias = forms.expanded.json["Resources"][forms.expanded.live_alias()]
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"] == {
        "Ref": next(iter(forms.expanded.resources("AWS::CodeDeploy::DeploymentGroup")))
    }


def test_a_release_rolls_back_on_the_api_5xx_latency_and_function_error_alarms(
    forms: Forms,
) -> None:
    """The deployment group watches exactly those alarms, each an alarm of this stack (CodeDeploy
    stops a deployment whose alarm it cannot find unless told to ignore it), and moves the alias
    back when one fires or the deployment fails."""
    raw_alarms = forms.raw.function()["Properties"]["DeploymentPreference"]["Alarms"]
    group = forms.expanded.only("AWS::CodeDeploy::DeploymentGroup")["Properties"]
    config = group["AlarmConfiguration"]
    assert config["Enabled"] is True
    assert not config.get("IgnorePollAlarmFailure", False)
    expanded_ids = [alarm["Name"]["Ref"] for alarm in config["Alarms"]]
    assert [alarm["Ref"] for alarm in raw_alarms] == expanded_ids
    assert len(expanded_ids) <= MAX_DEPLOYMENT_GROUP_ALARMS
    metrics = {_alarm_metric(forms.expanded, alarm_id) for alarm_id in expanded_ids}
    assert metrics == {
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
    }
    (errors_id,) = [
        i for i in expanded_ids if _alarm_metric(forms.expanded, i) == ("AWS/Lambda", "Errors")
    ]
    dimensions = forms.expanded.json["Resources"][errors_id]["Properties"]["Dimensions"]
    assert dimensions == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION_ID}}]
    assert set(group["AutoRollbackConfiguration"]["Events"]) >= {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_ALARM",
    }
    assert group["AutoRollbackConfiguration"]["Enabled"] is True


def test_codedeploy_shifts_traffic_with_a_service_role_of_this_stack(expanded: Synthesized) -> None:
    """SAM creates CodeDeploy's application and service role when DeploymentPreference names no
    Role; the role may be assumed by CodeDeploy only and carries the Lambda deployment policy."""
    group = expanded.only("AWS::CodeDeploy::DeploymentGroup")["Properties"]
    application = expanded.only("AWS::CodeDeploy::Application")["Properties"]
    assert application["ComputePlatform"] == "Lambda"
    role_id = group["ServiceRoleArn"]["Fn::GetAtt"][0]
    role = expanded.json["Resources"][role_id]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": ["codedeploy.amazonaws.com"]}
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"
    ]


def test_only_the_api_handler_is_shifted_by_codedeploy(every_form: Synthesized) -> None:
    """The upload confirmation and the record cleanup are invoked by EventBridge and a stream,
    whose failures are retried and dead-lettered: their alias moves at once."""
    for function_id in (UPLOADS_ID, CLEANUP_ID):
        if "Transform" in every_form.json:
            assert "DeploymentPreference" not in every_form.function(function_id)["Properties"]
        else:
            alias = every_form.json["Resources"][every_form.live_alias(function_id)]
            assert "UpdatePolicy" not in alias
    if "Transform" not in every_form.json:
        assert len(every_form.resources("AWS::CodeDeploy::DeploymentGroup")) == 1


# -- cold-start options: off by default; each one when asked for, never both


def _functions(expanded: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in expanded.resources("AWS::Lambda::Function").items()
        if logical_id in FUNCTION_IDS
    }


def _aliases(expanded: Synthesized) -> dict[str, dict[str, Any]]:
    return {fid: expanded.json["Resources"][expanded.live_alias(fid)] for fid in FUNCTION_IDS}


def assert_lambda_accepts_the_cold_start_settings(expanded: Synthesized) -> None:
    """What Lambda rejects at deploy time (Developer Guide, SnapStart: supported features and
    limitations; provisioned concurrency: aliases and versions only):

    - SnapStart only on Python 3.12 or later, only for published versions, never together with
      provisioned concurrency, never with EFS, never with ephemeral storage above 512 MB;
    - provisioned concurrency only on an alias or version (never $LATEST), at least 1.
    """
    functions, aliases = _functions(expanded), _aliases(expanded)
    assert set(functions) == set(FUNCTION_IDS)
    for function_id, props in functions.items():
        alias = aliases[function_id]["Properties"]
        if "SnapStart" in props:
            assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
            assert runtime_python(props["Runtime"]) >= SNAP_START_MIN_PYTHON
            assert "FileSystemConfigs" not in props
            size = props.get("EphemeralStorage", {}).get("Size", 512)
            assert size <= SNAP_START_MAX_EPHEMERAL_MB
            assert "ProvisionedConcurrencyConfig" not in alias
        if "ProvisionedConcurrencyConfig" in alias:
            assert alias["ProvisionedConcurrencyConfig"]["ProvisionedConcurrentExecutions"] >= 1
            assert alias["FunctionVersion"]["Fn::GetAtt"][1] == "Version"
    # Nothing else of the stack carries a provisioned concurrency (e.g. on a bare version).
    assert not [
        r
        for r in expanded.json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Version" and "ProvisionedConcurrencyConfig" in r["Properties"]
    ]


def test_cold_start_options_are_off_by_default(forms: Forms) -> None:
    for function_id in FUNCTION_IDS:
        props = forms.raw.function(function_id)["Properties"]
        assert "SnapStart" not in props
        assert "ProvisionedConcurrencyConfig" not in props
    for function_id, props in _functions(forms.expanded).items():
        assert "SnapStart" not in props, function_id
    for function_id, alias in _aliases(forms.expanded).items():
        assert "ProvisionedConcurrencyConfig" not in alias["Properties"], function_id
    assert_lambda_accepts_the_cold_start_settings(forms.expanded)


def test_snap_start_applies_to_the_api_handlers_published_versions(
    snap_start: tuple[Synthesized, Synthesized],
) -> None:
    raw, expanded = snap_start
    assert raw.function()["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    functions = _functions(expanded)
    assert functions[FUNCTION_ID]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # The event handlers' starts are not on a user's request path.
    assert "SnapStart" not in functions[UPLOADS_ID]
    assert "SnapStart" not in functions[CLEANUP_ID]
    assert runtime_python(LAMBDA_RUNTIME) >= SNAP_START_MIN_PYTHON
    assert_lambda_accepts_the_cold_start_settings(expanded)


def test_provisioned_concurrency_is_on_the_api_handlers_alias(
    provisioned: tuple[Synthesized, Synthesized],
) -> None:
    raw, expanded = provisioned
    assert raw.function()["Properties"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": PROVISIONED
    }
    aliases = _aliases(expanded)
    assert aliases[FUNCTION_ID]["Properties"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": PROVISIONED
    }
    assert "ProvisionedConcurrencyConfig" not in aliases[UPLOADS_ID]["Properties"]
    assert "SnapStart" not in _functions(expanded)[FUNCTION_ID]
    # The canary still applies: CodeDeploy shifts the alias, provisioned or not.
    assert expanded.only("AWS::CodeDeploy::DeploymentGroup")
    assert_lambda_accepts_the_cold_start_settings(expanded)


def test_the_rules_hold_on_every_synthesized_variant(
    expanded: Synthesized,
    snap_start: tuple[Synthesized, Synthesized],
    provisioned: tuple[Synthesized, Synthesized],
) -> None:
    for template in (expanded, snap_start[1], provisioned[1]):
        assert_lambda_accepts_the_cold_start_settings(template)
        # Nothing invokes an unpublished function: permissions, the stream's mapping and the
        # rule's target all name an alias.
        unqualified = [
            value
            for function_id in FUNCTION_IDS
            for value in ({"Ref": function_id}, {"Fn::GetAtt": [function_id, "Arn"]})
        ]
        for kind in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping"):
            for resource in template.resources(kind).values():
                assert resource["Properties"]["FunctionName"] not in unqualified
        for rule in template.resources("AWS::Events::Rule").values():
            for target in rule["Properties"].get("Targets", []):
                assert target["Arn"] not in unqualified


def test_cfn_lint_reports_nothing_on_the_option_variants(
    snap_start: tuple[Synthesized, Synthesized],
    provisioned: tuple[Synthesized, Synthesized],
) -> None:
    """cfn-lint knows SAM's SnapStart and alias rules (e.g. W2530: SnapStart without a published
    version); both variants, raw and expanded, are clean."""
    from tests.infrastructure.test_checks import _cfn_lint

    for raw, expanded in (snap_start, provisioned):
        _cfn_lint(raw.path)
        _cfn_lint(expanded.path)
