"""Confused-deputy guard: every service role may be assumed for this account only.

An aspect, so that the roles CDK creates itself (flow logs, custom-resource handlers, the
console's deployment) get the same ``aws:SourceAccount`` condition as the roles made here.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Aws, CfnResource, IAspect, Stack
from constructs import IConstruct

# Services whose documentation describes aws:SourceAccount in the trust policy of the roles they
# assume: Lambda (execution roles, "Defining Lambda function permissions with an execution
# role") and VPC Flow Logs ("IAM role for publishing flow logs to CloudWatch Logs"). A condition
# a service does not send would make the role unusable, so other services are left alone (API
# Gateway's account-level CloudWatch role: see infrastructure/account.py).
SOURCE_ACCOUNT_SERVICES = frozenset({"lambda.amazonaws.com", "vpc-flow-logs.amazonaws.com"})


@jsii.implements(IAspect)
class ScopeServiceRoleTrusts:
    """Add ``StringEquals aws:SourceAccount`` to each trust statement of a supported service."""

    def visit(self, node: IConstruct) -> None:
        if not (isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::IAM::Role"):
            return
        # The L1 role and CDK's raw provider roles both expose their properties this way (L1
        # names are camelCase, raw CloudFormation ones PascalCase).
        properties: dict[str, Any] = Stack.of(node).resolve(node._cfn_properties)
        document = properties.get("assumeRolePolicyDocument") or properties.get(
            "AssumeRolePolicyDocument", {}
        )
        for index, statement in enumerate(document.get("Statement", [])):
            if _needs_scope(statement):
                node.add_property_override(
                    f"AssumeRolePolicyDocument.Statement.{index}.Condition.StringEquals."
                    "aws:SourceAccount",
                    Aws.ACCOUNT_ID,
                )


def _needs_scope(statement: dict[str, Any]) -> bool:
    services = statement.get("Principal", {}).get("Service", [])
    services = [services] if isinstance(services, str) else services
    if not services or not set(services) <= SOURCE_ACCOUNT_SERVICES:
        return False
    return "aws:SourceAccount" not in statement.get("Condition", {}).get("StringEquals", {})
