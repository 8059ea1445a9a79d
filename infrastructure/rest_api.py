"""The REST API Chalice generates and its one stage: logs, tracing, throttling, own refusals."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnResource, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sam as sam
from constructs import Construct

from infrastructure.config import API_STAGE
from infrastructure.functions import FUNCTION_ID, REST_API_ID, alias_arn
from infrastructure.nag import acknowledge, checkov_skip

# The stage resource SAM creates from the API: things bound to the stage must wait for it, or the
# deployment races with "Invalid stage identifier".
SAM_STAGE_ID = f"{REST_API_ID}{API_STAGE}Stage"
# /health needs no key, so no usage plan bounds it; its own method throttle does. Each call costs
# half a read unit and an S3 HEAD: 5/s stays within the tables' minimum capacity of 5 units.
HEALTH_RATE_LIMIT = 5
HEALTH_BURST_LIMIT = 10
# API Gateway's throttle is a token bucket refilled every second; the daily quota of a usage plan
# renews at the start of the next day, which a fixed header cannot name: an hour bounds retries.
THROTTLED_RETRY_AFTER_S = 1
QUOTA_RETRY_AFTER_S = 3600
# The body API Gateway gives its own refusals (`{"message": "..."}`), kept when customised.
GATEWAY_RESPONSE_TEMPLATE = {"application/json": '{"message":$context.error.messageString}'}


def after_stage(resource: CfnResource) -> None:
    """Make ``resource`` wait for the stage that SAM generates at deploy time."""
    resource.add_override("DependsOn", [SAM_STAGE_ID])
    acknowledge(
        resource,
        {
            "CloudFormation-Validate::E3005": f"{SAM_STAGE_ID} is created by the SAM transform "
            "from RestAPI at deploy time (cfn-lint, which expands SAM, resolves it)"
        },
    )


class RestApi(Construct):
    """Hardens the Chalice-generated ``AWS::Serverless::Api`` and its single stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: CfnResource,
        api_name: str,
        cors_allow_origin: str,
        rate_limit: float,
        burst_limit: int,
        log_options: dict[str, Any],
    ) -> None:
        super().__init__(scope, construct_id)
        assert isinstance(api, sam.CfnApi)
        self.api = api
        self.api_name = api_name
        access_logs = logs.LogGroup(self, "AccessLogs", **log_options)
        # API Gateway would create this group itself, unencrypted and never expiring. The stage
        # names it in a stage variable, which makes CloudFormation create the group first.
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{api.ref}/{API_STAGE}",
            **log_options,
        )
        api.add_property_override("Name", api_name)
        # Any value removes the extra stage SAM otherwise deploys as "Stage" (no WAF, no
        # throttling, no logs); "2.0" keeps Chalice's Swagger definition as it is.
        api.add_property_override("OpenApiVersion", "2.0")
        api.add_property_override("TracingEnabled", True)
        api.add_property_override(
            "Variables", {"executionLogGroup": self.execution_logs.log_group_name}
        )
        api.add_property_override(
            "AccessLogSetting",
            {"DestinationArn": access_logs.log_group_arn, "Format": _access_log_format()},
        )
        api.add_property_override(
            "MethodSettings", _method_settings(rate_limit=rate_limit, burst_limit=burst_limit)
        )
        # Reject requests with missing required parameters at the edge, before they cost an
        # invocation; bodies are validated by the application (it names the offending field).
        api.add_property_override(
            "DefinitionBody.x-amazon-apigateway-request-validators",
            {"params": {"validateRequestParameters": True, "validateRequestBody": False}},
        )
        api.add_property_override("DefinitionBody.x-amazon-apigateway-request-validator", "params")
        api.add_property_override(
            "DefinitionBody.x-amazon-apigateway-gateway-responses",
            gateway_responses(cors_allow_origin, _preflight_allow_headers(api)),
        )
        integrate_with_alias(api, FUNCTION_ID)
        checkov_skip(
            api,
            {
                "CKV_AWS_120": "responses depend on the caller's key and on writes; a cache "
                "would serve stale items and defeat If-Match",
            },
        )

    @property
    def default_url(self) -> str:
        """The execute-api URL of the stage."""
        return Fn.sub(
            f"https://${{{REST_API_ID}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
            f"/{API_STAGE}/"
        )

    @property
    def stage_arn(self) -> str:
        """The ARN of the API stage (what WAF associates with)."""
        return (
            f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/{self.api.ref}"
            f"/stages/{API_STAGE}"
        )


def integrate_with_alias(api: sam.CfnApi, function_id: str) -> None:
    """Point every integration Chalice made with the function at its ``live`` alias instead.

    Chalice's Swagger invokes ``${<function>.Arn}`` (the unpublished $LATEST), which CodeDeploy
    never moves; ``<function>.Alias`` is the alias SAM creates (AutoPublishAlias).
    """
    body = api.definition_body
    assert isinstance(body, dict)
    chalice_uri = f"${{{function_id}.Arn}}"
    stack = Stack.of(api)
    rewritten = 0
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            # The construct hands the template's intrinsics back as tokens.
            uri = stack.resolve(operation.get("x-amazon-apigateway-integration", {}).get("uri"))
            if not isinstance(uri, dict) or chalice_uri not in str(uri.get("Fn::Sub")):
                continue
            # Dots in a path ("/openapi.json") are escaped: the override path splits on them.
            escaped = path.replace(".", "\\.")
            # The alias as a variable of the Sub, not ``${<function>.Alias}`` in its string:
            # SAM resolves both, but a linter reading the string takes ``.Alias`` for an
            # attribute of the function (cfn-lint E1019), whereas ``Ref <function>.Alias`` is
            # the documented form.
            api.add_property_override(
                f"DefinitionBody.paths.{escaped}.{method}.x-amazon-apigateway-integration.uri",
                {
                    "Fn::Sub": [
                        uri["Fn::Sub"].replace(chalice_uri, "${LiveAlias}"),
                        {"LiveAlias": alias_arn(function_id)},
                    ]
                },
            )
            rewritten += 1
    if not rewritten:
        raise RuntimeError(f"no integration of the REST API invokes {function_id}")


def gateway_responses(origin: str, allow_headers: str) -> dict[str, Any]:
    """API Gateway's own refusals (missing key or token, WAF block, throttle, 5xx) as a browser
    can read.

    A customised response type replaces DEFAULT_4XX for that type, so the throttle and quota
    answers carry the CORS headers too, besides ``Retry-After``.
    """
    cors = {
        "gatewayresponse.header.Access-Control-Allow-Origin": f"'{origin}'",
        "gatewayresponse.header.Access-Control-Allow-Headers": allow_headers,
        "gatewayresponse.header.Access-Control-Expose-Headers": "'Retry-After'",
    }

    def response(**headers: str) -> dict[str, Any]:
        parameters = {**cors, **{f"gatewayresponse.header.{k}": v for k, v in headers.items()}}
        return {"responseParameters": parameters, "responseTemplates": GATEWAY_RESPONSE_TEMPLATE}

    return {
        "DEFAULT_4XX": response(),
        "DEFAULT_5XX": response(),
        # No token, or a refused one (RFC 6750: a 401 names the scheme it wants).
        "UNAUTHORIZED": response(**{"WWW-Authenticate": "'Bearer'"}),
        "THROTTLED": response(**{"Retry-After": f"'{THROTTLED_RETRY_AFTER_S}'"}),
        "QUOTA_EXCEEDED": response(**{"Retry-After": f"'{QUOTA_RETRY_AFTER_S}'"}),
    }


def _preflight_allow_headers(api: sam.CfnApi) -> str:
    """The Access-Control-Allow-Headers value of Chalice's preflights (one CORS config)."""
    body = api.definition_body
    assert isinstance(body, dict)
    values = {
        str(
            operation["x-amazon-apigateway-integration"]["responses"]["default"][
                "responseParameters"
            ]["method.response.header.Access-Control-Allow-Headers"]
        )
        for methods in body["paths"].values()
        for method, operation in methods.items()
        if method == "options"
    }
    if len(values) != 1:
        raise RuntimeError(f"expected one CORS configuration in the app, found {values}")
    return values.pop()


def _method_settings(*, rate_limit: float, burst_limit: int) -> list[dict[str, Any]]:
    every_method = {
        "LoggingLevel": "ERROR",
        "DataTraceEnabled": False,
        "MetricsEnabled": True,
    }
    return [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            **every_method,
            "ThrottlingRateLimit": rate_limit,
            "ThrottlingBurstLimit": burst_limit,
        },
        {
            # Slashes of the resource path are written ~1 in method settings.
            "ResourcePath": "/~1health",
            "HttpMethod": "GET",
            **every_method,
            "ThrottlingRateLimit": HEALTH_RATE_LIMIT,
            "ThrottlingBurstLimit": HEALTH_BURST_LIMIT,
        },
    ]


def _access_log_format() -> str:
    return apigw.AccessLogFormat.json_with_standard_fields(
        caller=False,
        http_method=True,
        ip=True,
        protocol=True,
        request_time=True,
        resource_path=True,
        response_length=True,
        status=True,
        user=False,
    ).to_string()
