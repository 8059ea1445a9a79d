"""The one-time, account-and-region-wide stack ``ItemsApi-account`` (``make bootstrap``).

Some settings exist once per account and region, whatever the number of API stages deployed
there. Kept in an app stack they collide: two stages overwrite each other's setting, and deleting
one deletes what the other relies on. They live here instead, deployed once before any stage.
Each is one construct; later account-level pieces (e.g. the GitHub OIDC provider and the deploy
role it may assume) join as further constructs of this stack.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack, Tags
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from infrastructure.config import SERVICE_NAME
from infrastructure.nag import acknowledge

ACCOUNT_STACK_NAME = "ItemsApi-account"


class ApiGatewayLogging(Construct):
    """The CloudWatch Logs role API Gateway uses for every REST API's logs in this region.

    ``AWS::ApiGateway::Account`` is a per-region singleton: API Gateway refuses a stage with
    execution logging until it is set. Deleting the resource does not unset it, so the role is
    retained with the stack's deletion (a deleted role would silently stop every API's logs).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # No aws:SourceAccount condition on this trust: API Gateway documents none for the
        # account's CloudWatch role, and a condition it does not send would stop all logging.
        self.role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway pushes execution and access logs of this region's APIs",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        self.role.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        acknowledge(
            self.role,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]": (
                    "the AWS-managed policy API Gateway documents for its account logging role; "
                    "access log groups have any name, so no narrower resource fits"
                )
            },
        )
        self.account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=self.role.role_arn)


class ItemsApiAccountStack(Stack):
    """What every stage in this account and region relies on; deployed once, before them."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.api_gateway_logging = ApiGatewayLogging(self, "ApiGatewayLogging")
        Tags.of(self).add("project", SERVICE_NAME)
        Tags.of(self).add("environment", "account")
