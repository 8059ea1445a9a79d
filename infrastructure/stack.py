"""One stage of the Items API: composes network, data, identity, functions, API, edge, console,
alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aspects, Aws, CfnOutput, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infrastructure.config import LAMBDA_TIMEOUT_S, SERVICE_NAME, DeploymentSettings
from infrastructure.data import Data
from infrastructure.domain import ApiDomain
from infrastructure.edge import Edge
from infrastructure.functions import (
    CLEANUP_ID,
    UPLOADS_ID,
    Functions,
    alias_arn,
    function_environment,
)
from infrastructure.identity import Identity, domain_url
from infrastructure.monitoring import Monitoring
from infrastructure.nag import acknowledge_cdk_provider, cdk_provider_constructs
from infrastructure.network import Network
from infrastructure.rest_api import RestApi
from infrastructure.trust import ScopeServiceRoleTrusts
from infrastructure.uploads import UploadEvents
from infrastructure.web import WebConsole, deployment_acknowledgements

REPO_ROOT = Path(__file__).resolve().parent.parent

_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """CloudWatch's retention setting for a number of days (one of the values it offers)."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(f"logRetentionDays must be one of {sorted(_RETENTION)}") from None


class ItemsApiStack(Stack):
    """Everything one stage of the Items API needs; the units are wired here and only here.

    The account-wide setting API Gateway's logs need lives in ``ItemsApi-account``
    (``infrastructure.account``), deployed once per account and region before any stage.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploymentSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Prod keeps its state when the stack is deleted or a resource replaced, but not what a
        # failed first create made (CloudFormation's RetainExceptOnCreate), so a retry starts
        # clean. Nothing retained has a fixed name, so nothing kept can collide with a new stack.
        removal = (
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            if settings.is_prod
            else (RemovalPolicy.DESTROY)
        )
        logs_key = self._logs_key(removal)
        log_options: dict[str, Any] = {
            "retention": log_retention(settings.log_retention_days),
            "encryption_key": logs_key,
            "removal_policy": removal,
        }
        network = Network(
            self,
            "Network",
            log_retention=log_options["retention"],
            logs_key=logs_key,
            removal_policy=removal,
        )
        web_origin = f"https://{settings.web_domain.name}" if settings.web_domain else None
        data = Data(
            self,
            "Data",
            removal_policy=removal,
            deletion_protection=settings.is_prod,
            provisioned=settings.is_provisioned,
            read_capacity_max=settings.read_capacity_max,
            write_capacity_max=settings.write_capacity_max,
            # The distribution's generated domain cannot be used here: the console's CSP names
            # this bucket, so naming the distribution in the bucket's CORS rule would be a
            # cycle. Uploads are authorized by the presigned policy either way.
            cors_allowed_origins=[settings.cors_allow_origin or web_origin or "*"],
        )
        web = WebConsole(
            self,
            "Web",
            source_dir=REPO_ROOT / "web",
            assets_bucket=data.assets_bucket,
            log_bucket=data.log_bucket,
            api_connect_source=(
                f"https://{settings.api_domain.name}"
                if settings.api_domain
                # The API id cannot appear here: the API's CORS origin names this distribution.
                else f"https://*.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}"
            ),
            # The console calls the user pool's token endpoint (sign-in, refresh, sign-out).
            auth_connect_source=domain_url(settings.stage),
            domain=settings.web_domain,
        )
        identity = Identity(
            self,
            "Identity",
            stage=settings.stage,
            console_url=web.url,
            clients=settings.api_clients,
            removal_policy=removal,
            deletion_protection=settings.is_prod,
        )
        cors_allow_origin = settings.cors_allow_origin or web.origin
        functions = Functions(
            self,
            "Functions",
            source_dir=REPO_ROOT,
            environment=function_environment(
                items_table=data.items_table,
                idempotency_table=data.idempotency_table,
                assets_bucket=data.assets_bucket,
                cors_allow_origin=cors_allow_origin,
                trusted_issuers=identity.trusted_issuers(),
            ),
            subnets=network.subnets,
            security_group=network.function_security_group,
            items_table=data.items_table,
            idempotency_table=data.idempotency_table,
            assets_bucket=data.assets_bucket,
            log_options=log_options,
        )
        network.admit_only(functions.calls)
        UploadEvents(
            self,
            "UploadEvents",
            bucket=data.assets_bucket,
            confirmer_arn=alias_arn(UPLOADS_ID),
            dead_letters=functions.upload_dead_letters,
        )
        api_name = f"{SERVICE_NAME}-{settings.stage}"
        rest_api = RestApi(
            self,
            "RestApi",
            api=functions.rest_api,
            api_name=api_name,
            cors_allow_origin=cors_allow_origin,
            rate_limit=settings.throttle_rate_limit,
            burst_limit=settings.throttle_burst_limit,
            log_options=log_options,
        )
        edge = Edge(
            self,
            "Edge",
            rest_api=rest_api,
            clients=settings.api_clients,
            waf_rate_limit_per_5min=settings.waf_rate_limit_per_5min,
            ip_allowlist=settings.ip_allowlist,
            log_options=log_options,
        )
        api_url = (
            ApiDomain(self, "Domain", domain=settings.api_domain, rest_api=rest_api).url
            if settings.api_domain
            else rest_api.default_url
        )
        console = settings.console_client.name
        web.publish(
            api_url=api_url,
            api_key=edge.clients.console_key_value,
            auth={
                "domain": identity.domain_url,
                "clientId": identity.app_clients[console].user_pool_client_id,
            },
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            api_name=api_name,
            function_name=functions.api_handler.ref,
            function_timeout=Duration.seconds(LAMBDA_TIMEOUT_S),
            confirmer_name=functions.functions[UPLOADS_ID].ref,
            upload_dead_letters=functions.upload_dead_letters,
            cleanup_name=functions.functions[CLEANUP_ID].ref,
            cleanup_dead_letters=functions.cleanup_dead_letters,
            tables={"Items": data.items_table, "Idempotency": data.idempotency_table},
            alarm_email=settings.alarm_email,
            removal_policy=removal,
        )
        functions.release_api_handler(
            deployment_type=settings.deployment_type,
            alarms=monitoring.release_alarms,
            snap_start=settings.snap_start,
            provisioned_concurrency=settings.provisioned_concurrency,
        )

        Aspects.of(self).add(ScopeServiceRoleTrusts())
        Tags.of(self).add("project", SERVICE_NAME)
        Tags.of(self).add("environment", settings.stage)

        CfnOutput(self, "ApiUrl", value=api_url, description="Base URL of the Items API")
        CfnOutput(
            self,
            "ApiKeyId",
            value=edge.clients.keys[console].ref,
            description="Id of the console's API key (its value is in the console's config.json)",
        )
        for client in settings.machine_clients:
            label = "".join(part.capitalize() for part in client.name.split("-"))
            CfnOutput(
                self,
                f"{label}ApiKeyId",
                value=edge.clients.keys[client.name].ref,
                description=f"API key of {client.name}: aws apigateway get-api-key --include-value",
            )
            CfnOutput(
                self,
                f"{label}ClientId",
                value=identity.app_clients[client.name].user_pool_client_id,
                description=f"Cognito app client of {client.name} (client credentials; its secret: "
                "aws cognito-idp describe-user-pool-client)",
            )
        CfnOutput(self, "UserPoolId", value=identity.user_pool.user_pool_id)
        CfnOutput(
            self,
            "ConsoleClientId",
            value=identity.app_clients[console].user_pool_client_id,
            description="The console's public app client",
        )
        CfnOutput(
            self,
            "TokenEndpoint",
            value=f"{identity.domain_url}/oauth2/token",
            description="OAuth 2.0 token endpoint (machine clients: grant_type=client_credentials)",
        )
        CfnOutput(self, "ItemsTableName", value=data.items_table.table_name)
        CfnOutput(self, "IdempotencyTableName", value=data.idempotency_table.table_name)
        CfnOutput(self, "AssetsBucketName", value=data.assets_bucket.bucket_name)
        CfnOutput(self, "WebConsoleUrl", value=web.url, description="The web console")
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region="
            f"{Aws.REGION}#dashboards:name={monitoring.dashboard.dashboard_name}",
        )
        for provider in cdk_provider_constructs(self):
            is_deployment = provider.node.id.startswith("Custom::CDKBucketDeployment")
            acknowledge_cdk_provider(
                provider, deployment_acknowledgements(web.bucket) if is_deployment else {}
            )

    def _logs_key(self, removal: RemovalPolicy) -> kms.Key:
        """The key that encrypts every log group of the stack (CloudWatch Logs may use it)."""
        key = kms.Key(
            self,
            "LogsKey",
            enable_key_rotation=True,
            description="Encrypts the Items API log groups",
            removal_policy=removal,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.{Aws.URL_SUFFIX}")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )
        return key
