"""API: the Chalice app (API Gateway REST API + Lambda) with its role, logs, keys and firewall."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Aws, CfnResource, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_wafv2 as wafv2
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib import settings as app_settings
from chalicelib.schema import ATTACHMENTS_PREFIX, STATUS_INDEX
from infrastructure.allowlist import IpAllowlist
from infrastructure.clients import ApiClients
from infrastructure.config import (
    API_STAGE,
    LAMBDA_MEMORY_MB,
    LAMBDA_RUNTIME,
    LAMBDA_TIMEOUT_S,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    ApiClient,
    CustomDomain,
)
from infrastructure.nag import acknowledge, checkov_skip
from infrastructure.packaging import stage_environment

# Logical ids inside the template `chalice package` generates (preserved by the construct), and
# the stage resource SAM creates from the API: things bound to the stage must wait for it, or the
# deployment races with "Invalid stage identifier".
FUNCTION_ID = "APIHandler"
# The token authorizer (chalicelib.routes.authorizer.authorize).
AUTHORIZER_ID = "Authorize"
# It verifies a token in milliseconds; the JWKS fetch of a cold start is bounded at 2 s.
AUTHORIZER_TIMEOUT_S = 6
# The function of app.py's ``@app.lambda_function(name="sweep_late_upload")``.
SWEEPER_ID = "SweepLateUpload"
REST_API_ID = "RestAPI"
SAM_STAGE_ID = f"{REST_API_ID}{API_STAGE}Stage"

REPO_ROOT = Path(__file__).resolve().parent.parent


def powertools_layer_version() -> str:
    """The Powertools version pinned in requirements-layer.txt (what the layer must provide)."""
    text = (REPO_ROOT / "requirements-layer.txt").read_text()
    match = re.search(r"^aws-lambda-powertools(?:\[[^\]]*\])?==([\w.]+)\s*$", text, re.MULTILINE)
    if not match:
        raise RuntimeError("requirements-layer.txt must pin aws-lambda-powertools")
    return match.group(1)


def powertools_layer_parameter() -> str:
    """The public SSM parameter that holds the Powertools v3 layer ARN for that version."""
    runtime = LAMBDA_RUNTIME
    return f"/aws/service/powertools/python/x86_64/{runtime}/{powertools_layer_version()}"


class Api(Construct):
    """The Chalice-generated REST API and functions, hardened and wired to the data layer."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        subnets: ec2.SelectedSubnets,
        security_group: ec2.ISecurityGroup,
        items_table: dynamodb.ITable,
        idempotency_table: dynamodb.ITable,
        assets_bucket: s3.IBucket,
        cors_allow_origin: str,
        domain: CustomDomain | None,
        throttle_rate_limit: float,
        throttle_burst_limit: int,
        waf_rate_limit_per_5min: int,
        trusted_issuers: str,
        clients: Sequence[ApiClient],
        ip_allowlist: Sequence[str],
        log_retention: logs.RetentionDays,
        logs_key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api_name = f"{SERVICE_NAME}-{stage}"
        self._log_options: dict[str, Any] = {
            "retention": log_retention,
            "encryption_key": logs_key,
            "removal_policy": removal_policy,
        }
        self.function_log_group = logs.LogGroup(self, "FunctionLogs", **self._log_options)
        self.authorizer_log_group = logs.LogGroup(self, "AuthorizerLogs", **self._log_options)
        self.sweeper_log_group = logs.LogGroup(self, "SweeperLogs", **self._log_options)
        # Sweep events that could not be delivered, or whose sweep kept failing, wait here.
        self.sweep_dead_letters = sqs.Queue(
            self,
            "SweepDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.sweep_dead_letters,
            {
                "AwsSolutions-SQS3": "this queue is the dead-letter queue (of the sweep rule's "
                "target and of the sweep function); the end of the line has none of its own",
                "Serverless-SQSRedrivePolicy": "this queue is itself a dead-letter queue",
            },
        )
        cfn_queue = self.sweep_dead_letters.node.default_child
        assert isinstance(cfn_queue, CfnResource)
        checkov_skip(
            cfn_queue,
            {
                "CKV_AWS_27": "encrypted with SQS-managed SSE (SqsManagedSseEnabled), which this "
                "check does not recognise; a KMS key would need grants for EventBridge and Lambda",
            },
        )
        self.access_log_group = logs.LogGroup(self, "AccessLogs", **self._log_options)
        self.role = self._function_role(items_table, idempotency_table, assets_bucket)

        environment = {
            app_settings.ITEMS_TABLE_NAME: items_table.table_name,
            app_settings.IDEMPOTENCY_TABLE_NAME: idempotency_table.table_name,
            app_settings.ASSETS_BUCKET_NAME: assets_bucket.bucket_name,
            app_settings.CORS_ALLOW_ORIGIN: cors_allow_origin,
            app_settings.MAX_ATTACHMENT_BYTES: str(app_settings.DEFAULT_MAX_ATTACHMENT_BYTES),
            app_settings.ALLOWED_CONTENT_TYPES: ",".join(
                app_settings.DEFAULT_ALLOWED_CONTENT_TYPES
            ),
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            # Read by the authorizer only (Chalice gives every function one environment).
            app_settings.AUTH_TRUSTED_ISSUERS: trusted_issuers,
        }
        # Under CDK the Chalice stage is this construct's path, so .chalice/config.json stages do
        # not apply; and only top-level keys of stage_config are honoured.
        stage_config: dict[str, Any] = {
            "api_gateway_stage": API_STAGE,
            "api_gateway_endpoint_type": "REGIONAL",
            "manage_iam_role": False,
            "iam_role_arn": self.role.role_arn,
            "autogen_policy": False,
            "automatic_layer": False,
            "lambda_memory_size": LAMBDA_MEMORY_MB,
            "lambda_timeout": LAMBDA_TIMEOUT_S,
            "xray": True,
            "subnet_ids": subnets.subnet_ids,
            "security_group_ids": [security_group.security_group_id],
            "environment_variables": environment,
        }
        with stage_environment(REPO_ROOT, environment, Stack.of(self).region):
            self.chalice = Chalice(
                self, "Chalice", source_dir=str(REPO_ROOT), stage_config=stage_config
            )
        self.function = self.chalice.get_resource(FUNCTION_ID)
        self.sweeper = self.chalice.get_resource(SWEEPER_ID)
        self.rest_api = self.chalice.get_resource(REST_API_ID)
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self, powertools_layer_parameter()
        )
        self._configure_function(
            self.function,
            self.function_log_group,
            layer_arn,
            "Items API (Chalice)",
            {
                "CKV_AWS_116": "invoked synchronously by API Gateway; a DLQ never receives events",
                "CKV_AWS_115": "load is bounded by API Gateway stage throttling and the usage "
                "plan; reserving concurrency fails in accounts at the default quota",
            },
        )
        self._configure_function(
            self.sweeper,
            self.sweeper_log_group,
            layer_arn,
            "Items API: removes attachment files uploaded after their item was deleted",
            {
                "CKV_AWS_115": "runs once per uploaded file, and files only arrive through "
                "presigned POSTs that the throttled API hands out; reserving concurrency fails "
                "in accounts at the default quota",
            },
        )
        self.sweeper.add_property_override(
            "DeadLetterQueue", {"Type": "SQS", "TargetArn": self.sweep_dead_letters.queue_arn}
        )
        self.authorizer = self.chalice.get_resource(AUTHORIZER_ID)
        self._configure_authorizer(layer_arn)
        self.late_upload_rule = self._late_upload_sweep(assets_bucket)
        self._configure_rest_api(throttle_rate_limit, throttle_burst_limit)
        self.clients = ApiClients(
            self,
            "Clients",
            api_name=self.api_name,
            rest_api_id=self.rest_api.ref,
            clients=clients,
            after_stage=self._after_stage,
        )
        self._web_acl(waf_rate_limit_per_5min, ip_allowlist)
        self.url = self._custom_domain(domain) if domain else self.default_url
        self.function_name = self.function.ref
        self.sweeper_name = self.sweeper.ref

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
            f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/{self.rest_api.ref}"
            f"/stages/{API_STAGE}"
        )

    def _function_role(
        self, items: dynamodb.ITable, idempotency: dynamodb.ITable, bucket: s3.IBucket
    ) -> iam.Role:
        attachments = f"{ATTACHMENTS_PREFIX}*"
        statements = [
            iam.PolicyStatement(
                sid="OwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    self.function_log_group.log_group_arn,
                    self.sweeper_log_group.log_group_arn,
                ],
            ),
            iam.PolicyStatement(
                sid="ItemsTable",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Scan",
                ],
                resources=[items.table_arn],
            ),
            iam.PolicyStatement(
                sid="ItemsStatusIndex",
                actions=["dynamodb:Query"],
                resources=[f"{items.table_arn}/index/{STATUS_INDEX.name}"],
            ),
            iam.PolicyStatement(
                sid="IdempotencyTable",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[idempotency.table_arn],
            ),
            iam.PolicyStatement(
                sid="AttachmentObjects",
                actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(attachments)],
            ),
            iam.PolicyStatement(
                sid="ListAttachments",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [attachments]}},
            ),
            iam.PolicyStatement(
                sid="SweepDeadLetters",
                actions=["sqs:SendMessage"],
                resources=[self.sweep_dead_letters.queue_arn],
            ),
            iam.PolicyStatement(
                sid="VpcNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="XRay",
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                resources=["*"],
            ),
        ]
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Items API function: only the calls its code makes",
            inline_policies={"items-api": iam.PolicyDocument(statements=statements)},
        )
        cfn_role = role.node.default_child
        assert isinstance(cfn_role, CfnResource)
        checkov_skip(
            cfn_role,
            {
                "CKV_AWS_111": "the only unconstrained writes are Lambda's VPC ENI management "
                "and X-Ray segments, which support no resource-level permissions",
            },
        )
        bucket_id = Stack.of(self).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            role,
            {
                "AwsSolutions-IAM5[Resource::*]": (
                    "Lambda's VPC ENI management (ec2:*NetworkInterface*, DescribeSubnets) and "
                    "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level "
                    "permissions"
                ),
                "Serverless-LambdaStarPermissions": (
                    "only the ENI and X-Ray statements use Resource *, which AWS requires"
                ),
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{attachments}]": (
                    "object keys are server-chosen per item and attachment below the attachments/ "
                    "prefix; the web console's objects are outside it"
                ),
            },
        )
        return role

    def _configure_function(
        self,
        fn: CfnResource,
        log_group: logs.ILogGroup,
        layer_arn: str,
        description: str,
        checkov_reasons: dict[str, str],
    ) -> None:
        """What a SAM function Chalice generates lacks: runtime pin, layer, own log group."""
        fn.add_property_override("Runtime", LAMBDA_RUNTIME)
        fn.add_property_override("Layers", [layer_arn])
        fn.add_property_override("Description", description)
        fn.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
        checkov_skip(
            fn,
            {
                **checkov_reasons,
                "CKV_AWS_173": "the environment holds resource names only, no secrets",
            },
        )

    def _late_upload_sweep(self, bucket: s3.IBucket) -> events.Rule:
        """Send every new object below the attachments prefix to the sweep function.

        A presigned POST stays valid for 15 minutes, so a file can land after its item was
        deleted; the sweep removes any file no attachment record claims.
        """
        rule = events.Rule(
            self,
            "NewAttachmentFiles",
            description="New objects below attachments/ of the assets bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": ATTACHMENTS_PREFIX}]},
                },
            ),
        )
        # Rule and function are in this stack; the warning is about an account unknown at synth.
        Annotations.of(rule).acknowledge_warning(
            "@aws-cdk/aws-events:ruleUnresolvedEnvironment",
            "the rule and its target function are in the same stack",
        )
        sweeper = lambda_.Function.from_function_attributes(
            self,
            "SweeperFunction",
            function_arn=self.sweeper.get_att("Arn").to_string(),
            same_environment=True,  # lets the target grant EventBridge the invoke permission
        )
        rule.add_target(
            targets.LambdaFunction(
                sweeper,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
                dead_letter_queue=self.sweep_dead_letters,
            )
        )
        return rule

    def _configure_rest_api(self, rate_limit: float, burst_limit: int) -> None:
        api = self.rest_api
        api.add_property_override("Name", self.api_name)
        api.add_property_override("TracingEnabled", True)
        api.add_property_override(
            "AccessLogSetting",
            {
                "DestinationArn": self.access_log_group.log_group_arn,
                "Format": apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ).to_string(),
            },
        )
        api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,
                    "MetricsEnabled": True,
                    "ThrottlingRateLimit": rate_limit,
                    "ThrottlingBurstLimit": burst_limit,
                }
            ],
        )
        # Reject requests with missing required parameters at the edge, before they cost an
        # invocation; bodies are validated by the application (it names the offending field).
        api.add_property_override(
            "DefinitionBody.x-amazon-apigateway-request-validators",
            {"params": {"validateRequestParameters": True, "validateRequestBody": False}},
        )
        api.add_property_override("DefinitionBody.x-amazon-apigateway-request-validator", "params")
        checkov_skip(
            api,
            {
                "CKV_AWS_120": "responses depend on the caller's key and on writes; a cache "
                "would serve stale items and defeat If-Match",
            },
        )
        # Execution logging needs the account-level CloudWatch role of API Gateway.
        logging_role = iam.Role(
            self,
            "ApiGatewayLoggingRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        acknowledge(
            logging_role,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]": (
                    "the AWS-managed policy API Gateway documents for its account logging role"
                )
            },
        )
        account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=logging_role.role_arn)
        api.add_resource_dependency(account)

    def _after_stage(self, resource: Any) -> None:
        resource.add_override("DependsOn", [SAM_STAGE_ID])
        acknowledge(
            resource,
            {
                "CloudFormation-Validate::E3005": f"{SAM_STAGE_ID} is created by the SAM transform "
                "from RestAPI at deploy time (cfn-lint, which expands SAM, resolves it)"
            },
        )

    def _configure_authorizer(self, layer_arn: str) -> None:
        """The token authorizer: outside the VPC, with a role that reaches nothing but its logs.

        It touches no table or bucket, and it must fetch the user pool's JWKS from Cognito's
        public endpoint: the VPC's isolated subnets have no route out, and Cognito's VPC
        endpoint does not serve a pool that has a domain (which the managed login and the
        client credentials grant need). Outside a VPC, Lambda reaches public endpoints.
        """
        fn = self.authorizer
        role = iam.Role(
            self,
            "AuthorizerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Items API token authorizer: its own logs and traces only",
            inline_policies={
                "authorizer": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="OwnLogs",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[self.authorizer_log_group.log_group_arn],
                        ),
                        iam.PolicyStatement(
                            sid="XRay",
                            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                            resources=["*"],
                        ),
                    ]
                )
            },
        )
        acknowledge(
            role,
            {
                "AwsSolutions-IAM5[Resource::*]": "X-Ray PutTraceSegments/PutTelemetryRecords "
                "support no resource-level permissions",
                "Serverless-LambdaStarPermissions": "only the X-Ray statement uses Resource *",
            },
        )
        cfn_role = role.node.default_child
        assert isinstance(cfn_role, CfnResource)
        checkov_skip(
            cfn_role,
            {"CKV_AWS_111": "the only unconstrained write is X-Ray's, which has no resources"},
        )
        self._configure_function(
            fn,
            self.authorizer_log_group,
            layer_arn,
            "Items API: verifies bearer tokens (Lambda TOKEN authorizer)",
            {
                "CKV_AWS_116": "invoked synchronously by API Gateway; a DLQ never receives events",
                "CKV_AWS_115": "bounded by API Gateway's throttling and its result cache; "
                "reserving concurrency fails in accounts at the default quota",
                "CKV_AWS_117": "outside the VPC on purpose: it reads no data and must reach "
                "Cognito's public JWKS endpoint, which the isolated subnets cannot",
            },
        )
        fn.add_property_override("Role", role.role_arn)
        fn.add_property_override("Timeout", AUTHORIZER_TIMEOUT_S)
        fn.add_property_deletion_override("VpcConfig")

    def _web_acl(self, rate_limit: int, ip_allowlist: Sequence[str]) -> None:
        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(name: str, priority: int, **overrides: Any) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name, **overrides
                    )
                ),
                visibility_config=visibility(name),
            )

        allowlist = (
            IpAllowlist(self, "Allowlist", api_name=self.api_name, cidrs=ip_allowlist).rule
            if ip_allowlist
            else None
        )
        first = 1 if allowlist else 0
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{self.api_name}-waf"),
            rules=[
                *([allowlist] if allowlist else []),
                managed(
                    "AWSManagedRulesCommonRuleSet",
                    first,
                    # The API accepts JSON bodies up to 64 KiB; the rule set blocks above 8 KiB.
                    rule_action_overrides=[
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name="SizeRestrictions_BODY",
                            action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                        )
                    ],
                ),
                managed("AWSManagedRulesKnownBadInputsRuleSet", first + 1),
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerIp",
                    priority=first + 2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("RatePerIp"),
                ),
            ],
        )
        association = wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        self._after_stage(association)
        # WAF only logs to log groups whose name starts with aws-waf-logs-.
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"aws-waf-logs-{Stack.of(self).stack_name}",
            **self._log_options,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[waf_logs.log_group_arn],
        )

    def _custom_domain(self, domain: CustomDomain) -> str:
        name = apigw.CfnDomainName(
            self,
            "DomainName",
            domain_name=domain.name,
            regional_certificate_arn=domain.certificate_arn,
            endpoint_configuration=apigw.CfnDomainName.EndpointConfigurationProperty(
                types=["REGIONAL"]
            ),
            security_policy="TLS_1_2",
        )
        mapping = apigw.CfnBasePathMapping(
            self,
            "BasePathMapping",
            domain_name=name.ref,
            rest_api_id=self.rest_api.ref,
            stage=API_STAGE,
        )
        self._after_stage(mapping)
        if domain.hosted_zone_id:
            route53.CfnRecordSet(
                self,
                "AliasRecord",
                hosted_zone_id=domain.hosted_zone_id,
                name=domain.name,
                type="A",
                alias_target=route53.CfnRecordSet.AliasTargetProperty(
                    dns_name=name.attr_regional_domain_name,
                    hosted_zone_id=name.attr_regional_hosted_zone_id,
                ),
            )
        return f"https://{domain.name}/"
