"""Acknowledged findings: cdk-nag (``Validations.acknowledge``), checkov and cfn-lint metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
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
    "Serverless-LambdaTracing": "a deployment-time handler owned by CDK, not on the request path",
    "Serverless-LambdaDefaultMemorySize": "memory of a CDK-provided handler is chosen by CDK",
    "Serverless-LambdaLatestVersion": "runtime of a CDK-provided handler is chosen by CDK",
    "Serverless-LambdaAsyncFailureDestination": "invoked by CloudFormation, never asynchronously",
}


CDK_PROVIDER_CHECKOV_SKIPS: Mapping[str, str] = {
    "CKV_AWS_116": "CDK custom resource handler, invoked synchronously by CloudFormation",
    "CKV_AWS_117": "CDK custom resource handler; it calls only AWS APIs during deployments",
    "CKV_AWS_115": "CDK custom resource handler, runs only during deployments",
    "CKV_AWS_173": "CDK custom resource handler; its environment holds no secrets",
}


def cdk_provider_constructs(stack: Stack) -> list[IConstruct]:
    """The stack-level constructs CDK adds for its custom resource providers."""
    return [
        child for child in stack.node.children if child.node.id.startswith(_CDK_PROVIDER_PREFIXES)
    ]


def checkov_skip(resource: CfnResource, skips: Mapping[str, str]) -> None:
    """Record checkov skips, each with its reason, in the resource's metadata."""
    metadata: dict[str, Any] = dict(resource.get_metadata("checkov") or {})
    entries = list(metadata.get("skip", []))
    entries.extend({"id": check, "comment": reason} for check, reason in skips.items())
    metadata["skip"] = entries
    resource.add_metadata("checkov", metadata)


def cfn_lint_ignore(resource: CfnResource, rules: list[str]) -> None:
    """Have cfn-lint ignore ``rules`` on this resource only."""
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": rules}})


def acknowledge_cdk_provider(provider: IConstruct, extra: Mapping[str, str]) -> None:
    """Acknowledge the findings on a CDK-provided custom resource handler and its role."""
    acknowledge(provider, {**CDK_PROVIDER_REASONS, **extra})
    for child in provider.node.find_all():
        if not isinstance(child, CfnResource):
            continue
        if child.cfn_resource_type == "AWS::Lambda::Function":
            checkov_skip(child, CDK_PROVIDER_CHECKOV_SKIPS)
            # CDK renders both a GetAtt of the role and an explicit DependsOn on it.
            cfn_lint_ignore(child, ["W3005"])
        elif child.cfn_resource_type == "AWS::IAM::Policy":
            checkov_skip(
                child,
                {"CKV_AWS_111": "CDK's handler policy; see the cdk-nag acknowledgements"},
            )
