"""Acknowledging cdk-nag findings (cdk-nag 3: ``Validations.of(construct).acknowledge``)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge each finding id on ``scope`` (keep scope as narrow as the finding)."""
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=rule, reason=reason) for rule, reason in reasons.items())
    )


# Lambda functions that CDK itself adds for its custom resources (the AWS SDK call provider,
# BucketDeployment's copier, the bucket auto-delete provider in dev). Their code, runtime and role
# are CDK's, invoked only by CloudFormation during a deployment.
_CDK_PROVIDER_PREFIXES = ("AWS", "Custom::CDKBucketDeployment", "Custom::S3AutoDeleteObjects")

CDK_PROVIDER_REASONS: Mapping[str, str] = {
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AWSLambdaBasicExecutionRole]": "CDK's custom resource provider; it only writes its own logs",
    "AwsSolutions-L1": "the runtime of a CDK-provided custom resource handler is chosen by CDK",
    "Serverless-LambdaDLQ": "invoked synchronously by CloudFormation, which reports failures",
    "Serverless-LambdaTracing": "deployment-time handler owned by CDK, not part of the request path",
    "Serverless-LambdaDefaultMemorySize": "memory of a CDK-provided handler is chosen by CDK",
    "Serverless-LambdaLatestVersion": "runtime of a CDK-provided handler is chosen by CDK",
    "Serverless-LambdaAsyncFailureDestination": "invoked by CloudFormation, never asynchronously",
}


def cdk_provider_constructs(stack: Stack) -> list[IConstruct]:
    """The stack-level constructs CDK adds for its custom resource providers."""
    return [
        child
        for child in stack.node.children
        if child.node.id.startswith(_CDK_PROVIDER_PREFIXES)
    ]
