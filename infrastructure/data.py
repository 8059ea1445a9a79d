"""Data: the DynamoDB tables (defined by chalicelib.schema) and the S3 buckets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from chalicelib.schema import IDEMPOTENCY_TABLE, ITEMS_TABLE, KeyAttribute, TableDefinition
from infrastructure.nag import acknowledge, checkov_skip

MIN_CAPACITY = 5
TARGET_UTILIZATION_PERCENT = 70
# Point-in-time recovery restores a table to any second of the last 35 days. A file deleted in
# that window must still be there (as a noncurrent version) for a restored record pointing at it.
PITR_WINDOW_DAYS = 35

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: KeyAttribute | None) -> dynamodb.Attribute | None:
    return (
        None if key is None else dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])
    )


def _cfn(construct: Construct) -> CfnResource:
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    return resource


class Data(Construct):
    """The items and idempotency tables, the assets bucket and the access-log bucket.

    ``removal_policy`` applies to the buckets; the tables are retained whenever it retains
    anything, with plain ``Retain``: they are deletion-protected, so CloudFormation could not
    delete them on the rollback of a failed create (``RetainExceptOnCreate``), and their
    generated names let a retry create new ones.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
        provisioned: bool,
        read_capacity_max: int,
        write_capacity_max: int,
        cors_allowed_origins: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        destroy = removal_policy == RemovalPolicy.DESTROY
        self._table_removal = RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN
        self._deletion_protection = deletion_protection
        self._provisioned = provisioned
        self._read_max = read_capacity_max
        self._write_max = write_capacity_max

        self.items_table = self._table("ItemsTable", ITEMS_TABLE)
        self.idempotency_table = self._table("IdempotencyTable", IDEMPOTENCY_TABLE)

        self.log_bucket = s3.Bucket(
            self,
            "LogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            # CloudFront's standard logs are delivered with object ACLs.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        acknowledge(
            self.log_bucket,
            {"AwsSolutions-S1": "this is the access-log bucket; logging it into itself would loop"},
        )
        checkov_skip(
            _cfn(self.log_bucket),
            {"CKV_AWS_18": "this is the access-log bucket; logging it into itself would loop"},
        )
        self.assets_bucket = s3.Bucket(
            self,
            "AssetsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/assets/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(PITR_WINDOW_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # Browsers upload attachments straight to S3 with the presigned POST and read them
            # back through presigned GETs; the signed policy, not CORS, is what authorizes them.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=list(cors_allowed_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        # Every object event goes to EventBridge, where the API routes new attachment uploads to
        # the upload confirmation. Set on the CfnBucket: CDK's event_bridge_enabled would add a
        # custom-resource Lambda to do what CloudFormation does natively.
        _cfn(self.assets_bucket).add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )

    def _table(self, construct_id: str, definition: TableDefinition) -> dynamodb.Table:
        partition = _attribute(definition.partition_key)
        assert partition is not None
        capacity: dict[str, Any] = (
            {
                "billing_mode": dynamodb.BillingMode.PROVISIONED,
                "read_capacity": MIN_CAPACITY,
                "write_capacity": MIN_CAPACITY,
            }
            if self._provisioned
            else {"billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST}
        )
        table = dynamodb.Table(
            self,
            construct_id,
            partition_key=partition,
            sort_key=_attribute(definition.sort_key),
            **capacity,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=PITR_WINDOW_DAYS
            ),
            deletion_protection=self._deletion_protection,
            removal_policy=self._table_removal,
            time_to_live_attribute=definition.ttl_attribute,
            stream=(
                dynamodb.StreamViewType[definition.stream_view_type]
                if definition.stream_view_type
                else None
            ),
        )
        checkov_skip(
            _cfn(table),
            {
                "CKV_AWS_119": "encrypted at rest with the AWS managed key (aws/dynamodb); a "
                "customer managed key adds a KMS call per request and no control we need",
            },
        )
        if self._provisioned:
            self._autoscale(
                table.auto_scale_read_capacity(
                    min_capacity=MIN_CAPACITY, max_capacity=self._read_max
                ),
                table.auto_scale_write_capacity(
                    min_capacity=MIN_CAPACITY, max_capacity=self._write_max
                ),
            )
        for index in definition.indexes:
            index_partition = _attribute(index.partition_key)
            assert index_partition is not None
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=index_partition,
                sort_key=_attribute(index.sort_key),
                projection_type=dynamodb.ProjectionType.INCLUDE
                if index.projected
                else dynamodb.ProjectionType.KEYS_ONLY,
                non_key_attributes=list(index.projected) or None,
                **{k: v for k, v in capacity.items() if k != "billing_mode"},
            )
            if not self._provisioned:
                continue
            self._autoscale(
                table.auto_scale_global_secondary_index_read_capacity(
                    index.name, min_capacity=MIN_CAPACITY, max_capacity=self._read_max
                ),
                table.auto_scale_global_secondary_index_write_capacity(
                    index.name, min_capacity=MIN_CAPACITY, max_capacity=self._write_max
                ),
            )
        return table

    @staticmethod
    def _autoscale(*capacities: dynamodb.IScalableTableAttribute) -> None:
        for capacity in capacities:
            capacity.scale_on_utilization(target_utilization_percent=TARGET_UTILIZATION_PERCENT)
