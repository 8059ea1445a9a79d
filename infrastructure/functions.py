"""The Chalice app's functions: packaging, runtime and layer, logs, a role and events each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cw
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
from chalicelib.schema import ITEM_CHANGES_FILTER, ITEM_CHANGES_MAX_RETRIES
from infrastructure import permissions
from infrastructure.config import (
    API_STAGE,
    LAMBDA_ARCHITECTURE,
    LAMBDA_MEMORY_MB,
    LAMBDA_RUNTIME,
    LAMBDA_TIMEOUT_S,
    LIVE_ALIAS,
    METRICS_NAMESPACE,
    SERVICE_NAME,
)
from infrastructure.nag import acknowledge, checkov_skip
from infrastructure.packaging import stage_environment
from infrastructure.powertools import layer_parameter

# Logical ids inside the template `chalice package` generates (preserved by the construct): the
# API handler, app.py's ``@app.lambda_function(name="confirm_upload")`` and its
# ``@app.on_dynamodb_record(name="clean_up_removed_records")``.
FUNCTION_ID = "APIHandler"
UPLOADS_ID = "ConfirmUpload"
CLEANUP_ID = "CleanUpRemovedRecords"
# The token authorizer (chalicelib.routes.authorizer.authorize, a Chalice built-in authorizer).
AUTHORIZER_ID = "Authorize"
# It verifies a token in milliseconds; the JWKS fetch of a cold start is bounded at 2 s.
AUTHORIZER_TIMEOUT_S = 6
REST_API_ID = "RestAPI"
# The permission Chalice generates for API Gateway to invoke the API handler.
INVOKE_PERMISSION_ID = f"{FUNCTION_ID}InvokePermission"
# The event of the cleanup's ``@app.on_dynamodb_record`` in Chalice's template.
CLEANUP_EVENT = f"{CLEANUP_ID}DynamodbEventSource"


def function_environment(
    *,
    items_table: dynamodb.ITable,
    idempotency_table: dynamodb.ITable,
    assets_bucket: s3.IBucket,
    cors_allow_origin: str,
    trusted_issuers: str,
) -> dict[str, str]:
    """The variables ``chalicelib.settings`` reads, as the stack sets them on every function
    (Chalice gives every function one environment; only the authorizer reads the issuers)."""
    stream_arn = items_table.table_stream_arn
    if stream_arn is None:
        raise RuntimeError("the items table needs its stream (chalicelib.schema)")
    return {
        app_settings.ITEMS_TABLE_NAME: items_table.table_name,
        app_settings.ITEMS_TABLE_STREAM_ARN: stream_arn,
        app_settings.IDEMPOTENCY_TABLE_NAME: idempotency_table.table_name,
        app_settings.ASSETS_BUCKET_NAME: assets_bucket.bucket_name,
        app_settings.CORS_ALLOW_ORIGIN: cors_allow_origin,
        app_settings.MAX_ATTACHMENT_BYTES: str(app_settings.DEFAULT_MAX_ATTACHMENT_BYTES),
        app_settings.ALLOWED_CONTENT_TYPES: ",".join(app_settings.DEFAULT_ALLOWED_CONTENT_TYPES),
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        app_settings.AUTH_TRUSTED_ISSUERS: trusted_issuers,
    }


def powertools_layer_parameter() -> str:
    """The SSM parameter of the Powertools layer for the functions' architecture and runtime."""
    return layer_parameter(architecture=LAMBDA_ARCHITECTURE, runtime=LAMBDA_RUNTIME)


class Functions(Construct):
    """The API handler, the upload confirmation, the record cleanup and the token authorizer,
    each with its role."""

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
        #: S3's upload events that could not be delivered, or whose handling kept failing.
        self.upload_dead_letters = _dead_letter_queue(self, "UploadDeadLetters")
        #: Stream batches the cleanup gave up on (Lambda's record of which shard and sequence).
        self.cleanup_dead_letters = _dead_letter_queue(self, "CleanupDeadLetters")
        grants = {
            FUNCTION_ID: permissions.api_handler(
                items=items_table, idempotency=idempotency_table, bucket=assets_bucket
            ),
            UPLOADS_ID: permissions.upload_confirmer(
                items=items_table, bucket=assets_bucket, dead_letters=self.upload_dead_letters
            ),
            CLEANUP_ID: permissions.record_cleanup(
                items=items_table, bucket=assets_bucket, dead_letters=self.cleanup_dead_letters
            ),
            AUTHORIZER_ID: permissions.token_authorizer(),
        }
        #: Every call the functions' code makes from the VPC (what its endpoints may carry).
        self.calls: list[iam.PolicyStatement] = [s for g in grants.values() for s in g.code]
        self.log_groups = {
            function_id: logs.LogGroup(self, f"{function_id}Logs", **log_options)
            for function_id in grants
        }
        self.roles = {
            function_id: permissions.execution_role(
                self,
                f"{function_id}Role",
                description=f"Items API {function_id}: only the calls its code makes",
                log_group=self.log_groups[function_id],
                permissions=grant,
                bucket=assets_bucket,
                in_vpc=function_id != AUTHORIZER_ID,
            )
            for function_id, grant in grants.items()
        }
        # Under CDK the Chalice stage is this construct's path, so .chalice/config.json stages do
        # not apply; and only top-level keys of stage_config are honoured (one role for every
        # function: each function's own role is set on its resource below).
        stage_config: dict[str, Any] = {
            "api_gateway_stage": API_STAGE,
            "api_gateway_endpoint_type": "REGIONAL",
            "manage_iam_role": False,
            "iam_role_arn": self.roles[FUNCTION_ID].role_arn,
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
        self.rest_api = self.chalice.get_resource(REST_API_ID)
        self.functions: dict[str, CfnResource] = {f: self.chalice.get_resource(f) for f in grants}
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self, powertools_layer_parameter()
        )
        for function_id, (description, reasons) in _DESCRIPTIONS.items():
            _configure(
                self.functions[function_id],
                role=self.roles[function_id],
                log_group=self.log_groups[function_id],
                layer_arn=layer_arn,
                description=description,
                checkov_reasons=reasons,
            )
        for function in self.functions.values():
            publish_behind_alias(function)
        #: API Gateway's permission to invoke the API handler: on the alias it integrates with.
        self.invoke_permission = self.chalice.get_resource(INVOKE_PERMISSION_ID)
        self.invoke_permission.add_property_override("FunctionName", alias_arn(FUNCTION_ID))
        acknowledge(self.invoke_permission, ALIAS_REFERENCE)
        self.functions[UPLOADS_ID].add_property_override(
            "DeadLetterQueue", {"Type": "SQS", "TargetArn": self.upload_dead_letters.queue_arn}
        )
        self._wire_stream(self.functions[CLEANUP_ID])
        self._outside_the_vpc(self.functions[AUTHORIZER_ID])

    @property
    def api_handler(self) -> CfnResource:
        return self.functions[FUNCTION_ID]

    @property
    def authorizer(self) -> CfnResource:
        return self.functions[AUTHORIZER_ID]

    @staticmethod
    def _outside_the_vpc(authorizer: CfnResource) -> None:
        """The token authorizer runs outside the VPC, with a short timeout.

        It touches no table or bucket, and it must fetch the user pool's JWKS from Cognito's
        public endpoint: the VPC's isolated subnets have no route out, and Cognito's interface
        endpoint does not serve a pool that has a domain (which the managed login and the client
        credentials grant need). Outside a VPC, Lambda reaches public endpoints.
        """
        authorizer.add_property_deletion_override("VpcConfig")
        authorizer.add_property_override("Timeout", AUTHORIZER_TIMEOUT_S)

    def release_api_handler(
        self,
        *,
        deployment_type: str,
        alarms: list[cw.IAlarm],
        snap_start: bool,
        provisioned_concurrency: int | None,
    ) -> None:
        """How a new version of the API handler reaches the alias, and how the alias stays warm.

        CodeDeploy shifts the alias from the old version to the new one as ``deployment_type``
        says and moves it back by itself when an alarm fires meanwhile. Called once the alarms
        exist: they measure the function by name, so the SAM function names them in turn. After
        the SAM transform only the deployment group refers to the alarms, so there is no cycle.
        """
        handler = self.api_handler
        handler.add_property_override(
            "DeploymentPreference",
            {"Type": deployment_type, "Alarms": [alarm.alarm_name for alarm in alarms]},
        )
        if snap_start:
            # Published versions only: the alias always points at one.
            handler.add_property_override("SnapStart", {"ApplyOn": "PublishedVersions"})
        if provisioned_concurrency:
            # SAM puts it on the alias (ProvisionedConcurrencyConfig of AWS::Lambda::Alias).
            handler.add_property_override(
                "ProvisionedConcurrencyConfig",
                {"ProvisionedConcurrentExecutions": provisioned_concurrency},
            )

    def _wire_stream(self, cleanup: CfnResource) -> None:
        """The stream's event source as chalicelib.schema describes it: removals only, a failing
        record retried (the batch halved each time), then recorded in the dead-letter queue."""
        cleanup.add_property_override(
            f"Events.{CLEANUP_EVENT}.Properties",
            {
                "FilterCriteria": {"Filters": [{"Pattern": json.dumps(ITEM_CHANGES_FILTER)}]},
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "BisectBatchOnFunctionError": True,
                "MaximumRetryAttempts": ITEM_CHANGES_MAX_RETRIES,
                "DestinationConfig": {
                    "OnFailure": {
                        "Type": "SQS",
                        "Destination": self.cleanup_dead_letters.queue_arn,
                    }
                },
            },
        )


def publish_behind_alias(fn: CfnResource) -> None:
    """Publish a version of ``fn`` on every change and point the ``live`` alias at it.

    SAM points the function's own event sources (the stream mapping) at the alias. A version
    holds code and configuration together, so a release switches both at once, never new code
    with old variables. By default SAM publishes only when the code changes: a changed variable
    or layer would then never reach the alias, hence every property counts.
    """
    fn.add_property_override("AutoPublishAlias", LIVE_ALIAS)
    fn.add_property_override("AutoPublishAliasAllProperties", True)


def alias_arn(function_id: str) -> str:
    """The ARN of a function's ``live`` alias (SAM resolves ``<function>.Alias``).

    Acknowledge ``ALIAS_REFERENCE`` on what refers to it: CDK's template check runs before the
    SAM transform, where the alias does not exist yet.
    """
    return Fn.ref(f"{function_id}.Alias")


ALIAS_REFERENCE = {
    "CloudFormation-Validate::F1020": "<function>.Alias names the alias SAM creates for "
    "AutoPublishAlias; the transform resolves it (cfn-lint, which expands SAM, checks it)"
}


_LOAD_BOUNDED = (
    "reserving concurrency fails in accounts at the default quota, and the load is bounded by "
)
_DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    FUNCTION_ID: (
        "Items API (Chalice)",
        {
            "CKV_AWS_116": "invoked synchronously by API Gateway; a DLQ never receives events",
            "CKV_AWS_115": _LOAD_BOUNDED + "API Gateway stage throttling and the usage plan",
        },
    ),
    UPLOADS_ID: (
        "Items API: marks a reported upload, removes files no attachment claims",
        {
            "CKV_AWS_115": _LOAD_BOUNDED
            + "the presigned POSTs the throttled API hands out (one event per file)",
        },
    ),
    CLEANUP_ID: (
        "Items API: removes what a removed item or attachment record leaves behind",
        {
            "CKV_AWS_115": _LOAD_BOUNDED + "the stream's shards (one concurrent batch each)",
            "CKV_AWS_116": "a stream's event source mapping sends failed batches to its "
            "on-failure destination (the cleanup dead-letter queue), not to a function DLQ",
        },
    ),
    AUTHORIZER_ID: (
        "Items API: verifies bearer tokens (Lambda TOKEN authorizer)",
        {
            "CKV_AWS_116": "invoked synchronously by API Gateway; a DLQ never receives events",
            "CKV_AWS_115": _LOAD_BOUNDED + "API Gateway's throttling and its authorizer cache",
            "CKV_AWS_117": "outside the VPC on purpose: it reads no data and must reach "
            "Cognito's public JWKS endpoint, which the isolated subnets cannot",
        },
    ),
}


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


def _dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """An encrypted queue that keeps what an event source gave up on for 14 days."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        {
            "AwsSolutions-SQS3": "this queue is a dead-letter queue; the end of the line has "
            "none of its own",
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
