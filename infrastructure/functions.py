"""The Chalice app's functions: packaging, runtime and layer, logs, and one role each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib import settings as app_settings
from infrastructure import permissions
from infrastructure.config import (
    API_STAGE,
    LAMBDA_ARCHITECTURE,
    LAMBDA_MEMORY_MB,
    LAMBDA_RUNTIME,
    LAMBDA_TIMEOUT_S,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)
from infrastructure.nag import acknowledge, checkov_skip
from infrastructure.packaging import stage_environment
from infrastructure.powertools import layer_parameter

# Logical ids inside the template `chalice package` generates (preserved by the construct).
FUNCTION_ID = "APIHandler"
# The function of app.py's ``@app.lambda_function(name="sweep_late_upload")``.
SWEEPER_ID = "SweepLateUpload"
REST_API_ID = "RestAPI"


def function_environment(
    *,
    items_table: dynamodb.ITable,
    idempotency_table: dynamodb.ITable,
    assets_bucket: s3.IBucket,
    cors_allow_origin: str,
) -> dict[str, str]:
    """The variables ``chalicelib.settings`` reads, as the stack sets them on every function."""
    return {
        app_settings.ITEMS_TABLE_NAME: items_table.table_name,
        app_settings.IDEMPOTENCY_TABLE_NAME: idempotency_table.table_name,
        app_settings.ASSETS_BUCKET_NAME: assets_bucket.bucket_name,
        app_settings.CORS_ALLOW_ORIGIN: cors_allow_origin,
        app_settings.MAX_ATTACHMENT_BYTES: str(app_settings.DEFAULT_MAX_ATTACHMENT_BYTES),
        app_settings.ALLOWED_CONTENT_TYPES: ",".join(app_settings.DEFAULT_ALLOWED_CONTENT_TYPES),
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }


def powertools_layer_parameter() -> str:
    """The SSM parameter of the Powertools layer for the functions' architecture and runtime."""
    return layer_parameter(architecture=LAMBDA_ARCHITECTURE, runtime=LAMBDA_RUNTIME)


class Functions(Construct):
    """The API handler and the late-upload sweep, packaged by Chalice, each with its own role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: Path,
        environment: dict[str, str],
        subnets: ec2.SelectedSubnets,
        security_group: ec2.ISecurityGroup,
        items_table: dynamodb.ITable,
        idempotency_table: dynamodb.ITable,
        assets_bucket: s3.IBucket,
        log_options: dict[str, Any],
    ) -> None:
        super().__init__(scope, construct_id)
        api_logs = logs.LogGroup(self, "FunctionLogs", **log_options)
        sweeper_logs = logs.LogGroup(self, "SweeperLogs", **log_options)
        self.sweep_dead_letters = self._dead_letter_queue()
        api_calls = permissions.api_handler_statements(
            items=items_table, idempotency=idempotency_table, bucket=assets_bucket
        )
        sweeper_calls = permissions.sweeper_statements(
            items=items_table, bucket=assets_bucket, dead_letters=self.sweep_dead_letters
        )
        #: Every data call either function makes (what the VPC endpoints may carry).
        self.calls: list[iam.PolicyStatement] = [*api_calls, *sweeper_calls]
        self.api_role = permissions.execution_role(
            self,
            "ApiHandlerRole",
            description="Items API handler: only the calls its code makes",
            log_group=api_logs,
            statements=api_calls,
            bucket=assets_bucket,
        )
        self.sweeper_role = permissions.execution_role(
            self,
            "SweeperRole",
            description="Items API late-upload sweep: only the calls its code makes",
            log_group=sweeper_logs,
            statements=sweeper_calls,
            bucket=assets_bucket,
        )
        # Under CDK the Chalice stage is this construct's path, so .chalice/config.json stages do
        # not apply; and only top-level keys of stage_config are honoured (one role for every
        # function: the sweep's own role is set on its resource below).
        stage_config: dict[str, Any] = {
            "api_gateway_stage": API_STAGE,
            "api_gateway_endpoint_type": "REGIONAL",
            "manage_iam_role": False,
            "iam_role_arn": self.api_role.role_arn,
            "autogen_policy": False,
            "automatic_layer": False,
            "lambda_memory_size": LAMBDA_MEMORY_MB,
            "lambda_timeout": LAMBDA_TIMEOUT_S,
            "xray": True,
            "subnet_ids": subnets.subnet_ids,
            "security_group_ids": [security_group.security_group_id],
            "environment_variables": environment,
        }
        with stage_environment(source_dir, environment, Stack.of(self).region):
            self.chalice = Chalice(
                self, "Chalice", source_dir=str(source_dir), stage_config=stage_config
            )
        self.api_handler = self.chalice.get_resource(FUNCTION_ID)
        self.sweeper = self.chalice.get_resource(SWEEPER_ID)
        self.rest_api = self.chalice.get_resource(REST_API_ID)
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self, powertools_layer_parameter()
        )
        _configure(
            self.api_handler,
            role=self.api_role,
            log_group=api_logs,
            layer_arn=layer_arn,
            description="Items API (Chalice)",
            checkov_reasons={
                "CKV_AWS_116": "invoked synchronously by API Gateway; a DLQ never receives events",
                "CKV_AWS_115": "load is bounded by API Gateway stage throttling and the usage "
                "plan; reserving concurrency fails in accounts at the default quota",
            },
        )
        _configure(
            self.sweeper,
            role=self.sweeper_role,
            log_group=sweeper_logs,
            layer_arn=layer_arn,
            description="Items API: removes attachment files uploaded after their item was deleted",
            checkov_reasons={
                "CKV_AWS_115": "runs once per uploaded file, and files only arrive through "
                "presigned POSTs that the throttled API hands out; reserving concurrency fails "
                "in accounts at the default quota",
            },
        )
        self.sweeper.add_property_override(
            "DeadLetterQueue", {"Type": "SQS", "TargetArn": self.sweep_dead_letters.queue_arn}
        )

    def _dead_letter_queue(self) -> sqs.Queue:
        """Sweep events that could not be delivered, or whose sweep kept failing, wait here."""
        queue = sqs.Queue(
            self,
            "SweepDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            queue,
            {
                "AwsSolutions-SQS3": "this queue is the dead-letter queue (of the sweep rule's "
                "target and of the sweep function); the end of the line has none of its own",
                "Serverless-SQSRedrivePolicy": "this queue is itself a dead-letter queue",
            },
        )
        cfn_queue = queue.node.default_child
        assert isinstance(cfn_queue, CfnResource)
        checkov_skip(
            cfn_queue,
            {
                "CKV_AWS_27": "encrypted with SQS-managed SSE (SqsManagedSseEnabled), which this "
                "check does not recognise; a KMS key would need grants for EventBridge and Lambda",
            },
        )
        return queue


def _configure(
    fn: CfnResource,
    *,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    layer_arn: str,
    description: str,
    checkov_reasons: dict[str, str],
) -> None:
    """What a SAM function Chalice generates lacks: runtime, architecture, layer, role, logs."""
    fn.add_property_override("Runtime", LAMBDA_RUNTIME)
    fn.add_property_override("Architectures", [LAMBDA_ARCHITECTURE])
    fn.add_property_override("Layers", [layer_arn])
    fn.add_property_override("Role", role.role_arn)
    fn.add_property_override("Description", description)
    fn.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
    checkov_skip(
        fn,
        {**checkov_reasons, "CKV_AWS_173": "the environment holds resource names only, no secrets"},
    )
