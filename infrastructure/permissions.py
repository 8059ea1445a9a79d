"""One least-privilege execution role per function: exactly the calls its code makes.

The API handler serves every route; the sweep only reads an attachment record and deletes the
file nobody claims. Neither gets what only the other calls. The statements are shared with the
VPC endpoint policies (``network``), so the network admits no more than the functions may do.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.schema import ATTACHMENTS_PREFIX, STATUS_INDEX
from infrastructure.nag import acknowledge, checkov_skip

ATTACHMENT_KEYS = f"{ATTACHMENTS_PREFIX}*"
ITEM_WRITES = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
IDEMPOTENCY_CALLS = ["dynamodb:GetItem", *ITEM_WRITES]


def api_handler_statements(
    *,
    items: dynamodb.ITable,
    idempotency: dynamodb.ITable,
    bucket: s3.IBucket,
) -> list[iam.PolicyStatement]:
    """Item CRUD and listing, idempotency records, and attachment files (presign, list, delete)."""
    return [
        iam.PolicyStatement(
            sid="ItemsTable",
            actions=["dynamodb:GetItem", *ITEM_WRITES, "dynamodb:Scan"],
            resources=[items.table_arn],
        ),
        iam.PolicyStatement(
            sid="ItemsStatusIndex",
            actions=["dynamodb:Query"],
            resources=[f"{items.table_arn}/index/{STATUS_INDEX.name}"],
        ),
        iam.PolicyStatement(
            sid="IdempotencyTable", actions=IDEMPOTENCY_CALLS, resources=[idempotency.table_arn]
        ),
        # PutObject signs the browsers' presigned POST, GetObject their presigned GET.
        iam.PolicyStatement(
            sid="AttachmentObjects",
            actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
            resources=[bucket.arn_for_objects(ATTACHMENT_KEYS)],
        ),
        iam.PolicyStatement(
            sid="ListAttachments",
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [ATTACHMENT_KEYS]}},
        ),
    ]


def sweeper_statements(
    *, items: dynamodb.ITable, bucket: s3.IBucket, dead_letters: sqs.IQueue
) -> list[iam.PolicyStatement]:
    """Read one attachment record, delete an unclaimed file, dead-letter a failed event."""
    return [
        iam.PolicyStatement(
            sid="ItemsTable", actions=["dynamodb:GetItem"], resources=[items.table_arn]
        ),
        iam.PolicyStatement(
            sid="AttachmentObjects",
            actions=["s3:DeleteObject"],
            resources=[bucket.arn_for_objects(ATTACHMENT_KEYS)],
        ),
        # Lambda sends the events of failed asynchronous invocations with the function's role.
        iam.PolicyStatement(
            sid="SweepDeadLetters", actions=["sqs:SendMessage"], resources=[dead_letters.queue_arn]
        ),
    ]


def _runtime_statements(log_group: logs.ILogGroup) -> list[iam.PolicyStatement]:
    """What any function of the stack needs: its own logs, VPC networking, X-Ray."""
    return [
        iam.PolicyStatement(
            sid="OwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        ),
        iam.PolicyStatement(
            sid="VpcNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="XRay",
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            resources=["*"],
        ),
    ]


def execution_role(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    log_group: logs.ILogGroup,
    statements: Sequence[iam.PolicyStatement],
    bucket: s3.IBucket,
) -> iam.Role:
    """A role for one function, its policy inline (Lambda checks it when creating the function).

    The trust is scoped to this account by ``infrastructure.trust`` like every service role.
    """
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        inline_policies={
            "calls": iam.PolicyDocument(statements=[*_runtime_statements(log_group), *statements])
        },
    )
    cfn_role = role.node.default_child
    assert isinstance(cfn_role, CfnResource)
    checkov_skip(
        cfn_role,
        {
            "CKV_AWS_111": "the only unconstrained writes are Lambda's VPC ENI management "
            "and X-Ray segments, which support no resource-level permissions",
        },
    )
    bucket_id = Stack.of(scope).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    acknowledge(
        role,
        {
            "AwsSolutions-IAM5[Resource::*]": (
                "Lambda's VPC ENI management (ec2:*NetworkInterface*, DescribeSubnets) and "
                "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions"
            ),
            "Serverless-LambdaStarPermissions": (
                "only the ENI and X-Ray statements use Resource *, which AWS requires"
            ),
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{ATTACHMENT_KEYS}]": (
                "object keys are server-chosen per item and attachment below the attachments/ "
                "prefix; nothing else is in the bucket"
            ),
        },
    )
    return role
