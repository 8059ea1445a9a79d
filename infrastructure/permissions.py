"""One least-privilege execution role per function: exactly the calls its code makes.

The API handler serves every route; the upload confirmation marks a reported file's record
uploaded (or deletes a file nobody claims); the cleanup follows the items table's stream and
removes what a removed record leaves behind. None gets what only another one calls.

Each function's statements come in two kinds: what its code calls from inside the VPC (which
the gateway endpoints must admit, ``network.admit_only``) and what Lambda itself does with the
role on the function's behalf (reading the stream, dead-lettering a failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.schema import ATTACHMENTS_PREFIX, ITEMS_TABLE
from infrastructure.nag import acknowledge, checkov_skip

ATTACHMENT_KEYS = f"{ATTACHMENTS_PREFIX}*"
# Powertools' DynamoDB persistence layer: read, conditional put, update and delete a record.
IDEMPOTENCY_CALLS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]


@dataclass(frozen=True)
class Permissions:
    """A function's statements: its code's calls, and Lambda's on its behalf."""

    code: list[iam.PolicyStatement]
    service: list[iam.PolicyStatement]


def _attachment_objects(bucket: s3.IBucket, *actions: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="AttachmentObjects",
        actions=list(actions),
        resources=[bucket.arn_for_objects(ATTACHMENT_KEYS)],
    )


def _dead_letters(queue: sqs.IQueue) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="DeadLetters", actions=["sqs:SendMessage"], resources=[queue.queue_arn]
    )


def api_handler(
    *, items: dynamodb.ITable, idempotency: dynamodb.ITable, bucket: s3.IBucket
) -> Permissions:
    """Item and attachment records, the listing indexes, idempotency records, file presigning."""
    indexes = [f"{items.table_arn}/index/{index.name}" for index in ITEMS_TABLE.indexes]
    return Permissions(
        code=[
            # Items and attachment records: single writes, an attachment's transaction (its
            # Update and Put), a page's BatchGetItem, an item's attachments (Query).
            iam.PolicyStatement(
                sid="ItemsTable",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                ],
                resources=[items.table_arn],
            ),
            iam.PolicyStatement(
                sid="ListingIndexes", actions=["dynamodb:Query"], resources=indexes
            ),
            iam.PolicyStatement(
                sid="IdempotencyTable",
                actions=IDEMPOTENCY_CALLS,
                resources=[idempotency.table_arn],
            ),
            # PutObject signs the browsers' presigned POST, GetObject their presigned GET and
            # the HEAD of a file; no ListBucket: a HEAD's 403 means "not there" (storage.head).
            _attachment_objects(bucket, "s3:PutObject", "s3:GetObject", "s3:DeleteObject"),
        ],
        service=[],
    )


def upload_confirmer(
    *, items: dynamodb.ITable, bucket: s3.IBucket, dead_letters: sqs.IQueue
) -> Permissions:
    """Mark an attachment record uploaded, or delete the unclaimed file."""
    return Permissions(
        code=[
            iam.PolicyStatement(
                sid="ItemsTable", actions=["dynamodb:UpdateItem"], resources=[items.table_arn]
            ),
            _attachment_objects(bucket, "s3:DeleteObject"),
        ],
        # Lambda sends the events of failed asynchronous invocations with the function's role.
        service=[_dead_letters(dead_letters)],
    )


def record_cleanup(
    *, items: dynamodb.ITable, bucket: s3.IBucket, dead_letters: sqs.IQueue
) -> Permissions:
    """Remove an item's attachment records and its files; Lambda reads the stream."""
    stream_arn = items.table_stream_arn
    assert stream_arn is not None
    return Permissions(
        code=[
            iam.PolicyStatement(
                sid="ItemsTable",
                actions=["dynamodb:Query", "dynamodb:BatchWriteItem"],
                resources=[items.table_arn],
            ),
            _attachment_objects(bucket, "s3:DeleteObject"),
            iam.PolicyStatement(
                sid="ListAttachments",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [ATTACHMENT_KEYS]}},
            ),
        ],
        service=[
            # What the event source mapping needs (Lambda Developer Guide, "Using Lambda with
            # DynamoDB": execution role permissions); ListStreams takes no resource.
            iam.PolicyStatement(
                sid="ItemsStream",
                actions=[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                ],
                resources=[stream_arn],
            ),
            iam.PolicyStatement(
                sid="ListStreams", actions=["dynamodb:ListStreams"], resources=["*"]
            ),
            # The mapping's on-failure destination is sent with the function's role too.
            _dead_letters(dead_letters),
        ],
    )


def token_authorizer() -> Permissions:
    """The token authorizer calls nothing of the stack: it verifies a token with the user
    pool's public keys (an HTTPS fetch of its JWKS, no AWS API call and no IAM permission)."""
    return Permissions(code=[], service=[])


def _runtime_statements(log_group: logs.ILogGroup, *, in_vpc: bool) -> list[iam.PolicyStatement]:
    """What any function of the stack needs: its own logs, VPC networking (in the VPC), X-Ray."""
    own_logs = iam.PolicyStatement(
        sid="OwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group.log_group_arn],
    )
    xray = iam.PolicyStatement(
        sid="XRay",
        actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        resources=["*"],
    )
    if not in_vpc:
        return [own_logs, xray]
    return [
        own_logs,
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
        xray,
    ]


def execution_role(
    scope: Construct,
    construct_id: str,
    *,
    description: str,
    log_group: logs.ILogGroup,
    permissions: Permissions,
    bucket: s3.IBucket,
    in_vpc: bool = True,
) -> iam.Role:
    """A role for one function, its policy inline (Lambda checks it when creating the function).

    The trust is scoped to this account by ``infrastructure.trust`` like every service role.
    A function outside the VPC gets no network interface permissions.
    """
    statements: Sequence[iam.PolicyStatement] = [
        *_runtime_statements(log_group, in_vpc=in_vpc),
        *permissions.code,
        *permissions.service,
    ]
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        inline_policies={"calls": iam.PolicyDocument(statements=list(statements))},
    )
    cfn_role = role.node.default_child
    assert isinstance(cfn_role, CfnResource)
    checkov_skip(
        cfn_role,
        {
            "CKV_AWS_111": "the only unconstrained writes are X-Ray segments and (in the "
            "VPC) Lambda's ENI management, which support no resource-level permissions",
        },
    )
    bucket_id = Stack.of(scope).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    reasons = {
        "AwsSolutions-IAM5[Resource::*]": (
            "Lambda's VPC ENI management (ec2:*NetworkInterface*, DescribeSubnets), X-Ray "
            "PutTraceSegments/PutTelemetryRecords and DynamoDB ListStreams support no "
            "resource-level permissions"
        ),
        "Serverless-LambdaStarPermissions": (
            "only the ENI, X-Ray and ListStreams statements use Resource *, which AWS requires"
        ),
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{ATTACHMENT_KEYS}]": (
            "object keys are server-chosen per item and attachment below the attachments/ "
            "prefix; nothing else is in the bucket"
        ),
    }
    if not permissions.code:
        # A role without object access (the token authorizer) has no such finding to explain.
        del reasons[f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{ATTACHMENT_KEYS}]"]
    acknowledge(role, reasons)
    return role
