"""The one-time, account-and-region-wide stack ``ItemsApi-account`` (``make bootstrap``).

Some settings exist once per account and region, whatever the number of API stages deployed
there. Kept in an app stack they collide: two stages overwrite each other's setting, and deleting
one deletes what the other relies on. They live here instead, deployed once before any stage.
Each is one construct: API Gateway's logging role, and (with context ``githubRepository``) the
GitHub OIDC provider with the role the deploy workflow assumes.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import (
    Annotations,
    Aws,
    CfnOutput,
    DefaultStackSynthesizer,
    Duration,
    RemovalPolicy,
    Stack,
    Tags,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from infrastructure.config import SERVICE_NAME, AccountSettings
from infrastructure.nag import acknowledge

ACCOUNT_STACK_NAME = "ItemsApi-account"

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience configure-aws-credentials asks GitHub's token for (its default).
STS_AUDIENCE = "sts.amazonaws.com"
# GitHub's published intermediate-CA thumbprints. IAM no longer uses them for this provider (it
# trusts GitHub through its own CA library), but older API versions required the list.
GITHUB_THUMBPRINTS = (
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
)
# The GitHub environments whose jobs deploy (deploy.yml runs in them; prod has reviewers).
DEPLOY_ENVIRONMENTS = ("dev", "prod")
# The roles `cdk bootstrap` creates, which `cdk deploy` assumes (deploy.yml also reads the
# stack's outputs through the lookup role).
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")


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


class GitHubDeployment(Construct):
    """GitHub's OIDC provider and the role a deploying workflow job of one repository assumes.

    The role trusts tokens whose ``sub`` names the repository and one of the deploying
    environments (``repo:<owner>/<name>:environment:<env>``, GitHub's default subject for a job
    that declares an environment) and whose ``aud`` is STS. It may do one thing: assume the CDK
    bootstrap roles of this account and region, which hold the actual permissions (CloudFormation
    through the deploy role, assets through the publishing roles, reads through the lookup role).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        existing_provider_arn: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        if existing_provider_arn:
            provider_arn = existing_provider_arn
        else:
            # IAM holds one provider per URL and account: with one already there, pass its ARN
            # (context githubOidcProviderArn) instead, or the create fails (EntityAlreadyExists).
            provider = iam.CfnOIDCProvider(
                self,
                "Provider",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_list=[STS_AUDIENCE],
                thumbprint_list=list(GITHUB_THUMBPRINTS),
            )
            provider_arn = provider.attr_arn
        self.provider_arn = provider_arn
        self.role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.WebIdentityPrincipal(
                provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": [
                            f"repo:{repository}:environment:{environment}"
                            for environment in DEPLOY_ENVIRONMENTS
                        ],
                    }
                },
            ),
            description=f"GitHub Actions of {repository} (environments "
            f"{', '.join(DEPLOY_ENVIRONMENTS)}): may assume the CDK bootstrap roles only",
            max_session_duration=Duration.hours(1),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=bootstrap_role_arns(Stack.of(self)),
            )
        )


def bootstrap_role_arns(stack: Stack) -> list[str]:
    """The ARNs of the CDK bootstrap roles in the stack's account and region.

    The qualifier is the one the stage stacks are synthesized with (context
    ``@aws-cdk/core:bootstrapQualifier``, else CDK's default), so the role fits the bootstrap.
    """
    qualifier = (
        stack.node.try_get_context("@aws-cdk/core:bootstrapQualifier")
        or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    )
    return [
        f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/"
        f"cdk-{qualifier}-{kind}-role-{Aws.ACCOUNT_ID}-{Aws.REGION}"
        for kind in BOOTSTRAP_ROLE_KINDS
    ]


class ItemsApiAccountStack(Stack):
    """What every stage in this account and region relies on; deployed once, before them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AccountSettings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.api_gateway_logging = ApiGatewayLogging(self, "ApiGatewayLogging")
        settings = settings or AccountSettings(None, None)
        self.github: GitHubDeployment | None = None
        if settings.github_repository:
            self.github = GitHubDeployment(
                self,
                "GitHubDeployment",
                repository=settings.github_repository,
                existing_provider_arn=settings.github_oidc_provider_arn,
            )
            CfnOutput(
                self,
                "DeployRoleArn",
                value=self.github.role.role_arn,
                description="The role deploy.yml assumes (repository variable AWS_DEPLOY_ROLE_ARN)",
            )
        else:
            # Every cdk command synthesizes this stack, the stage's too: a stage deploy or a synth
            # must not need a GitHub setting. `make bootstrap` without it says what it leaves out.
            Annotations.of(self).add_warning_v2(
                "items-api:noGitHubDeployRole",
                "context githubRepository (owner/name) is not set: no GitHub OIDC provider and "
                "no deploy role (README, Deploy from GitHub Actions)",
            )
        Tags.of(self).add("project", SERVICE_NAME)
        Tags.of(self).add("environment", "account")
