"""The REST API Chalice generates: keys, validation, stage, usage plan, WAF, domain, CORS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infrastructure.conftest import Synthesized

PUBLIC_PATHS = {"/health", "/openapi.json"}
SAM_STAGE = "RestAPIapiStage"


def _api(stage: Synthesized) -> dict[str, Any]:
    props: dict[str, Any] = stage.only("AWS::Serverless::Api")["Properties"]
    return props


def _operations(stage: Synthesized) -> list[tuple[str, str, dict[str, Any]]]:
    paths = _api(stage)["DefinitionBody"]["paths"]
    return [
        (path, method, operation)
        for path, methods in paths.items()
        for method, operation in methods.items()
    ]


def test_every_route_except_health_and_openapi_requires_the_api_key(dev: Synthesized) -> None:
    operations = [(p, m, o) for p, m, o in _operations(dev) if m != "options"]
    # The routes come from the app itself; make sure the interesting ones are there.
    assert {p for p, _, _ in operations} >= PUBLIC_PATHS | {"/items", "/items/{item_id}"}
    assert len(operations) >= 8
    for path, method, operation in operations:
        requires_key = {"api_key": []} in operation.get("security", [])
        assert requires_key == (path not in PUBLIC_PATHS), f"{method.upper()} {path}"
    definitions = _api(dev)["DefinitionBody"]["securityDefinitions"]
    assert definitions["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}


def test_preflights_never_require_a_key(dev: Synthesized) -> None:
    preflights = [o for _, m, o in _operations(dev) if m == "options"]
    assert preflights
    assert all("security" not in o for o in preflights)


def test_request_parameters_are_validated_at_the_edge(dev: Synthesized) -> None:
    body = _api(dev)["DefinitionBody"]
    validator = body["x-amazon-apigateway-request-validator"]
    assert body["x-amazon-apigateway-request-validators"][validator] == {
        "validateRequestParameters": True,
        "validateRequestBody": False,
    }


def test_stage_tracing_access_logs_and_method_settings(stage: Synthesized) -> None:
    api = _api(stage)
    assert api["StageName"] == "api"
    assert api["EndpointConfiguration"] == "REGIONAL"
    assert api["TracingEnabled"] is True
    access = api["AccessLogSetting"]
    group_id = access["DestinationArn"]["Fn::GetAtt"][0]
    group = stage.json["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == stage.context["logRetentionDays"]
    fields = json.loads(access["Format"])
    assert {"requestId", "status", "ip", "httpMethod", "resourcePath"} <= set(fields)
    (settings,) = api["MethodSettings"]
    assert settings["ResourcePath"] == "/*"
    assert settings["HttpMethod"] == "*"
    assert settings["MetricsEnabled"] is True
    assert settings["LoggingLevel"] in {"ERROR", "INFO"}
    assert settings["DataTraceEnabled"] is False
    assert settings["ThrottlingRateLimit"] == stage.context["throttleRateLimit"]
    assert settings["ThrottlingBurstLimit"] == stage.context["throttleBurstLimit"]


def test_execution_logging_has_its_account_role(dev: Synthesized) -> None:
    account = dev.only("AWS::ApiGateway::Account")
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert "apigateway.amazonaws.com" in json.dumps(dev.json["Resources"][role_id])
    assert dev.only("AWS::Serverless::Api")["DependsOn"] == [
        next(iter(dev.resources("AWS::ApiGateway::Account")))
    ]


def test_usage_plan_with_throttle_and_quota_bound_to_the_stage_and_key(stage: Synthesized) -> None:
    plan = stage.only("AWS::ApiGateway::UsagePlan")
    assert plan["DependsOn"] == [SAM_STAGE]
    props = plan["Properties"]
    assert props["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": "api"}]
    assert props["Throttle"] == {
        "BurstLimit": stage.context["throttleBurstLimit"],
        "RateLimit": stage.context["throttleRateLimit"],
    }
    assert props["Quota"] == {"Limit": stage.context["quotaLimitPerDay"], "Period": "DAY"}
    key_id = next(iter(stage.resources("AWS::ApiGateway::ApiKey")))
    stage.template.has_resource_properties("AWS::ApiGateway::ApiKey", {"Enabled": True})
    stage.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlanKey",
        {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": Match.any_value()},
    )


def test_waf_web_acl_with_managed_rules_and_rate_limit_on_the_stage(stage: Synthesized) -> None:
    acl = stage.only("AWS::WAFv2::WebACL")["Properties"]
    assert acl["Scope"] == "REGIONAL"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["VendorName"] == "AWS"
    # Bodies up to the API's 64 KiB limit must not be blocked by the 8 KiB body rule.
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in common[
        "RuleActionOverrides"
    ]
    rate = [r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert len(rate) == 1
    assert rate[0]["Action"] == {"Block": {}}
    assert (
        rate[0]["Statement"]["RateBasedStatement"]["Limit"] == stage.context["wafRateLimitPer5Min"]
    )
    association = stage.only("AWS::WAFv2::WebACLAssociation")
    assert association["DependsOn"] == [SAM_STAGE]
    arn = json.dumps(association["Properties"]["ResourceArn"])
    assert '{"Ref": "RestAPI"}' in arn
    assert "/stages/api" in arn
    stage.template.resource_count_is("AWS::WAFv2::LoggingConfiguration", 1)


def test_custom_domain_with_tls12_base_path_mapping_and_alias(prod: Synthesized) -> None:
    prod.template.has_resource_properties(
        "AWS::ApiGateway::DomainName",
        {
            "DomainName": prod.context["domainName"],
            "RegionalCertificateArn": prod.context["certificateArn"],
            "SecurityPolicy": "TLS_1_2",
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
        },
    )
    mapping = prod.only("AWS::ApiGateway::BasePathMapping")
    assert mapping["DependsOn"] == [SAM_STAGE]
    assert mapping["Properties"]["RestApiId"] == {"Ref": "RestAPI"}
    assert mapping["Properties"]["Stage"] == "api"
    prod.template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "HostedZoneId": prod.context["hostedZoneId"],
            "Name": prod.context["domainName"],
            "Type": "A",
            "AliasTarget": {"DNSName": Match.any_value(), "HostedZoneId": Match.any_value()},
        },
    )


def test_no_custom_domain_without_context(dev: Synthesized) -> None:
    dev.template.resource_count_is("AWS::ApiGateway::DomainName", 0)
    dev.template.resource_count_is("AWS::ApiGateway::BasePathMapping", 0)
    dev.template.resource_count_is("AWS::Route53::RecordSet", 0)


def _preflight_origins(stage: Synthesized) -> list[Any]:
    return [
        operation["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"][
            "method.response.header.Access-Control-Allow-Origin"
        ]
        for _, method, operation in _operations(stage)
        if method == "options"
    ]


def _distribution_id(stage: Synthesized) -> str:
    return next(iter(stage.resources("AWS::CloudFront::Distribution")))


def test_dev_cors_origin_is_the_distribution_in_preflights_and_function(dev: Synthesized) -> None:
    expected_env = {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [_distribution_id(dev), "DomainName"]}]]
    }
    expected_preflight = {
        "Fn::Join": [
            "",
            ["'https://", {"Fn::GetAtt": [_distribution_id(dev), "DomainName"]}, "'"],
        ]
    }
    origins = _preflight_origins(dev)
    assert origins
    assert all(origin == expected_preflight for origin in origins)
    variables = dev.function()["Properties"]["Environment"]["Variables"]
    assert variables["CORS_ALLOW_ORIGIN"] == expected_env


def test_prod_cors_origin_is_the_console_domain(prod: Synthesized) -> None:
    origin = f"https://{prod.context['webDomainName']}"
    assert set(map(str, _preflight_origins(prod))) == {f"'{origin}'"}
    variables = prod.function()["Properties"]["Environment"]["Variables"]
    assert variables["CORS_ALLOW_ORIGIN"] == origin


@pytest.mark.parametrize("header", ["If-Match", "Idempotency-Key", "X-Api-Key"])
def test_preflights_allow_the_api_headers(dev: Synthesized, header: str) -> None:
    for _, method, operation in _operations(dev):
        if method == "options":
            params = operation["x-amazon-apigateway-integration"]["responses"]["default"][
                "responseParameters"
            ]
            assert header in params["method.response.header.Access-Control-Allow-Headers"]
