"""Service-role trusts: each service may assume a role only on behalf of this account."""

from __future__ import annotations

from typing import Any

from infrastructure.trust import SOURCE_ACCOUNT_SERVICES
from tests.infrastructure.conftest import Synthesized

# Services whose documentation gives no aws:SourceAccount for the roles they assume; a condition
# they do not send would make the role unusable. API Gateway's account CloudWatch role, and the
# service role SAM creates for CodeDeploy's traffic shifting of the API handler's alias (the
# CodeDeploy User Guide documents no confused-deputy condition for it).
UNSCOPED_SERVICES = {"apigateway.amazonaws.com", "codedeploy.amazonaws.com"}


def _service_trusts(template: Synthesized) -> list[tuple[str, str, dict[str, Any]]]:
    trusts = []
    for role_id, role in template.resources("AWS::IAM::Role").items():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            services = statement.get("Principal", {}).get("Service", [])
            for service in [services] if isinstance(services, str) else services:
                trusts.append((role_id, service, statement))
    return trusts


def _assert_scoped(template: Synthesized) -> int:
    trusts = _service_trusts(template)
    for role_id, service, statement in trusts:
        if service in UNSCOPED_SERVICES:
            continue
        assert service in SOURCE_ACCOUNT_SERVICES, f"{role_id}: does {service} send SourceAccount?"
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {
            "Ref": "AWS::AccountId"
        }, role_id
    return len(trusts)


def test_every_service_role_trust_is_scoped_to_this_account(every_form: Synthesized) -> None:
    """Lambda's and VPC Flow Logs' roles carry ``aws:SourceAccount`` (ours and CDK's alike).

    Without it a service could be made to assume the role for another account's resource (IAM
    User Guide, "The confused deputy problem"); Lambda (execution role trust policies) and VPC
    Flow Logs ("IAM role for publishing flow logs to CloudWatch Logs") document the condition.
    """
    # Two functions, flow logs, the prefix-list lookup, the console deployment, (dev) auto-delete.
    assert _assert_scoped(every_form) >= 5


def test_the_account_stacks_role_trust(account: Synthesized) -> None:
    trusts = _service_trusts(account)
    assert [service for _, service, _ in trusts] == ["apigateway.amazonaws.com"]
    _assert_scoped(account)
