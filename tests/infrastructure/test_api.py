"""The REST API Chalice generates: keys, validation, stage, usage plan, WAF, domain, CORS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infrastructure.data import MIN_CAPACITY
from tests.infrastructure.conftest import Forms, Synthesized

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
    (settings,) = [s for s in api["MethodSettings"] if s["ResourcePath"] == "/*"]
    assert settings["HttpMethod"] == "*"
    assert settings["MetricsEnabled"] is True
    assert settings["LoggingLevel"] in {"ERROR", "INFO"}
    assert settings["DataTraceEnabled"] is False
    assert settings["ThrottlingRateLimit"] == stage.context["throttleRateLimit"]
    assert settings["ThrottlingBurstLimit"] == stage.context["throttleBurstLimit"]


def test_no_app_stack_holds_the_account_wide_api_gateway_setting(every_form: Synthesized) -> None:
    """``AWS::ApiGateway::Account`` lives in the account stack only.

    It is one setting per account and region: "you should only have one AWS::ApiGateway::Account
    resource per region per account", and deleting a stack that holds it leaves the setting
    pointing at whatever role that stack deleted (CloudFormation template reference,
    AWS::ApiGateway::Account). Two stages each holding one overwrite each other.
    """
    assert every_form.resources("AWS::ApiGateway::Account") == {}
    assert every_form.json["Resources"]["RestAPI"].get("DependsOn") in (None, [])


def test_exactly_one_stage_exists_and_it_is_the_guarded_one(expanded: Synthesized) -> None:
    """After the SAM transform the API has one stage, ``api``, with throttling and logs.

    Without OpenApiVersion, SAM also deploys the API to a stage named ``Stage`` (through the
    Deployment's StageName): reachable at /Stage/ with no WAF, throttling, logs or alarms (AWS
    SAM, AWS::Serverless::Api, OpenApiVersion: "setting this property to any valid value will
    also remove the stage Stage that SAM creates").
    """
    stages = expanded.resources("AWS::ApiGateway::Stage")
    deployment_stages = [
        d["Properties"]["StageName"]
        for d in expanded.resources("AWS::ApiGateway::Deployment").values()
        if "StageName" in d["Properties"]
    ]
    assert deployment_stages == []
    (stage,) = stages.values()
    assert stage["Properties"]["StageName"] == "api"
    assert stage["Properties"]["MethodSettings"]
    assert "AccessLogSetting" in stage["Properties"]


def test_the_stack_makes_the_execution_log_group_before_the_stage_can_log(forms: Forms) -> None:
    """``API-Gateway-Execution-Logs_<api id>/api`` is the stack's, with retention and encryption.

    API Gateway writes execution logs to a group of exactly that name and creates it itself,
    unencrypted and never expiring, if it does not exist (API Gateway Developer Guide, "Set up
    CloudWatch logging for REST APIs in API Gateway"). The stage names the group in a stage
    variable, so CloudFormation creates the group first.
    """
    stage, expanded = forms.raw, forms.expanded
    groups = [
        (logical_id, group)
        for logical_id, group in stage.resources("AWS::Logs::LogGroup").items()
        if "API-Gateway-Execution-Logs_" in json.dumps(group["Properties"].get("LogGroupName"))
    ]
    assert len(groups) == 1
    ((group_id, group),) = groups
    name = group["Properties"]["LogGroupName"]
    assert name == {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": "RestAPI"}, "/api"]]}
    assert group["Properties"]["RetentionInDays"] == stage.context["logRetentionDays"]
    assert "KmsKeyId" in group["Properties"]
    (api_stage,) = expanded.resources("AWS::ApiGateway::Stage").values()
    assert api_stage["Properties"]["Variables"] == {"executionLogGroup": {"Ref": group_id}}
    assert {"LoggingLevel": "ERROR"}.items() <= api_stage["Properties"]["MethodSettings"][0].items()


def test_unauthenticated_health_is_throttled_within_the_tables_minimum_capacity(
    forms: Forms,
) -> None:
    """/health needs no key, so no usage plan bounds it: a method throttle does.

    Each call reads the table once (an eventually consistent GetItem: at most one read unit) and
    HEADs the bucket. Its stage method setting caps the rate at the tables' minimum capacity,
    so unauthenticated traffic cannot spend what keyed clients need (API Gateway Developer
    Guide, "Throttle requests to your REST APIs"; method settings encode "/" as "~1").
    """
    stage, expanded = forms.raw, forms.expanded
    for api_stage in (
        _api(stage),
        next(iter(expanded.resources("AWS::ApiGateway::Stage").values()))["Properties"],
    ):
        (health,) = [s for s in api_stage["MethodSettings"] if s["ResourcePath"] == "/~1health"]
        assert health["HttpMethod"] == "GET"
        assert 0 < health["ThrottlingRateLimit"] <= MIN_CAPACITY
        assert health["ThrottlingBurstLimit"] >= health["ThrottlingRateLimit"]
        assert health["ThrottlingRateLimit"] < stage.context["throttleRateLimit"]
    assert set(PUBLIC_PATHS) - {"/health"} == {"/openapi.json"}  # served from memory


def _gateway_responses(body: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = body["x-amazon-apigateway-gateway-responses"]
    return responses


def _preflight_headers(stage: Synthesized) -> dict[str, Any]:
    params: dict[str, Any] = next(
        operation["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        for _, method, operation in _operations(stage)
        if method == "options"
    )
    return params


def test_api_gateways_own_refusals_carry_cors_and_throttles_carry_retry_after(
    forms: Forms,
) -> None:
    """DEFAULT_4XX/5XX carry the allowed origin and headers; THROTTLED and QUOTA_EXCEEDED too,
    with Retry-After.

    A refusal by API Gateway itself (missing key 403, WAF 403, throttle 429, 5xx) is a gateway
    response, which carries only the headers configured for its type; without
    Access-Control-Allow-Origin the browser hides the status behind a network error. A type
    that is customised no longer falls back to DEFAULT_4XX (API Gateway Developer Guide,
    "Gateway responses for REST APIs", "Gateway response types"). Header values are quoted
    static strings.
    """
    stage, expanded = forms.raw, forms.expanded
    preflight = _preflight_headers(stage)
    (rest_api,) = expanded.resources("AWS::ApiGateway::RestApi").values()
    for body in (_api(stage)["DefinitionBody"], rest_api["Properties"]["Body"]):
        responses = _gateway_responses(body)
        assert {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED", "QUOTA_EXCEEDED"} <= set(responses)
        for kind, response in responses.items():
            params = response["responseParameters"]
            assert (
                params["gatewayresponse.header.Access-Control-Allow-Origin"]
                == preflight["method.response.header.Access-Control-Allow-Origin"]
            ), kind
            assert (
                params["gatewayresponse.header.Access-Control-Allow-Headers"]
                == preflight["method.response.header.Access-Control-Allow-Headers"]
            ), kind
            assert "Retry-After" in params["gatewayresponse.header.Access-Control-Expose-Headers"]
            # API Gateway's own body shape, which the OpenAPI document declares.
            assert response["responseTemplates"] == {
                "application/json": '{"message":$context.error.messageString}'
            }
        for kind in ("THROTTLED", "QUOTA_EXCEEDED"):
            retry_after = responses[kind]["responseParameters"][
                "gatewayresponse.header.Retry-After"
            ]
            assert retry_after.startswith("'")
            assert retry_after.endswith("'")
            assert int(retry_after.strip("'")) > 0


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
