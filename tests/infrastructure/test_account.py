"""The one-time account stack ``ItemsApi-account``: API Gateway's account-wide logging role."""

from __future__ import annotations

from typing import Any

from infrastructure.account import ACCOUNT_STACK_NAME
from tests.infrastructure.conftest import Synthesized


def test_the_account_stack_is_named_and_holds_the_api_gateway_account_setting(
    account: Synthesized,
) -> None:
    """One AWS::ApiGateway::Account, pointing at a role API Gateway may assume.

    API Gateway needs the account's CloudWatch role ARN before any stage may enable execution
    logging ("CloudWatch Logs role ARN must be set in account settings to enable logging"; API
    Gateway Developer Guide, "Set up CloudWatch logging for REST APIs").
    """
    assert account.path.name == f"{ACCOUNT_STACK_NAME}.template.json"
    setting = account.only("AWS::ApiGateway::Account")["Properties"]
    role_id = setting["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role: dict[str, Any] = account.json["Resources"][role_id]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert role["Properties"]["ManagedPolicyArns"] == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                ],
            ]
        }
    ]


def test_the_logging_role_outlives_the_account_stack_but_not_a_failed_create(
    account: Synthesized,
) -> None:
    """Deleting the stack keeps the role (the account setting still names it, and deleting the
    setting does not unset it); a failed first create removes it (RetainExceptOnCreate).

    CloudFormation template reference, AWS::ApiGateway::Account: "When you delete a stack
    containing this resource, API Gateway can still assume the provided IAM role"; DeletionPolicy
    attribute, RetainExceptOnCreate.
    """
    (role,) = account.resources("AWS::IAM::Role").values()
    assert role["DeletionPolicy"] == "RetainExceptOnCreate"
    assert role["UpdateReplacePolicy"] == "Retain"
    assert "RoleName" not in role["Properties"]


def test_the_account_stack_holds_only_account_wide_pieces(account: Synthesized) -> None:
    types = {resource["Type"] for resource in account.json["Resources"].values()}
    assert types == {"AWS::IAM::Role", "AWS::ApiGateway::Account"}
