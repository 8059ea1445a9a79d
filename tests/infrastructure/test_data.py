"""Data: tables exactly as chalicelib.schema defines them, autoscaled; hardened S3 buckets."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from chalicelib.schema import IDEMPOTENCY_TABLE, ITEMS_TABLE, STATUS_INDEX, TableDefinition
from tests.infrastructure.conftest import Synthesized


def _key_schema(definition: TableDefinition) -> list[dict[str, str]]:
    schema = [{"AttributeName": definition.partition_key.name, "KeyType": "HASH"}]
    if definition.sort_key:
        schema.append({"AttributeName": definition.sort_key.name, "KeyType": "RANGE"})
    return schema


def _table(stage: Synthesized, definition: TableDefinition) -> dict[str, Any]:
    matches = [
        table
        for table in stage.resources("AWS::DynamoDB::Table").values()
        if table["Properties"]["KeySchema"] == _key_schema(definition)
        and bool(table["Properties"].get("GlobalSecondaryIndexes")) == bool(definition.indexes)
    ]
    assert len(matches) == 1
    return matches[0]


@pytest.mark.parametrize("definition", [ITEMS_TABLE, IDEMPOTENCY_TABLE])
def test_tables_follow_the_schema_with_provisioned_capacity_pitr_and_encryption(
    dev: Synthesized, definition: TableDefinition
) -> None:
    props = _table(dev, definition)["Properties"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        definition.attribute_definitions(), key=str
    )
    assert props["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    assert "BillingMode" not in props or props["BillingMode"] == "PROVISIONED"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    if definition.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {
            "AttributeName": definition.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in props


def test_status_index_matches_the_schema(dev: Synthesized) -> None:
    (index,) = _table(dev, ITEMS_TABLE)["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == STATUS_INDEX.name
    assert index["KeySchema"] == [
        {"AttributeName": STATUS_INDEX.partition_key.name, "KeyType": "HASH"},
        {"AttributeName": STATUS_INDEX.sort_key.name, "KeyType": "RANGE"},  # type: ignore[union-attr]
    ]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert sorted(index["Projection"]["NonKeyAttributes"]) == sorted(STATUS_INDEX.projected)
    assert index["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}


def test_read_and_write_autoscaling_on_tables_and_index(stage: Synthesized) -> None:
    targets = stage.resources("AWS::ApplicationAutoScaling::ScalableTarget")
    dimensions = sorted(t["Properties"]["ScalableDimension"] for t in targets.values())
    # Items table, its index and the idempotency table, each read and write.
    assert dimensions == sorted(
        ["dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits"] * 2
        + ["dynamodb:index:ReadCapacityUnits", "dynamodb:index:WriteCapacityUnits"]
    )
    for target in targets.values():
        props = target["Properties"]
        assert props["MinCapacity"] == 5
        kind = "read" if "Read" in props["ScalableDimension"] else "write"
        assert props["MaxCapacity"] == int(stage.context[f"{kind}CapacityMax"])
    assert str(STATUS_INDEX.name) in str([t["Properties"]["ResourceId"] for t in targets.values()])
    policies = stage.resources("AWS::ApplicationAutoScaling::ScalingPolicy")
    assert len(policies) == len(targets)
    for policy in policies.values():
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        assert config["TargetValue"] == 70


def test_dev_tables_are_destroyed_and_prod_tables_retained_and_protected(
    dev: Synthesized, prod: Synthesized
) -> None:
    for table in dev.resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
        assert not table["Properties"].get("DeletionProtectionEnabled", False)
    for table in prod.resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True


def _assets_bucket(stage: Synthesized) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, bucket)
        for logical_id, bucket in stage.resources("AWS::S3::Bucket").items()
        if "CorsConfiguration" in bucket["Properties"]
    ]
    return found


def test_assets_bucket_is_encrypted_private_versioned_logged_with_lifecycle_and_cors(
    stage: Synthesized,
) -> None:
    _, bucket = _assets_bucket(stage)
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert {"POST", "GET"} <= set(cors["AllowedMethods"])
    assert "PUT" not in cors["AllowedMethods"]


def test_bucket_cors_names_the_web_origin_when_known(prod: Synthesized) -> None:
    _, bucket = _assets_bucket(prod)
    (cors,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [f"https://{prod.context['webDomainName']}"]


@pytest.mark.parametrize("kind", ["assets", "log"])
def test_buckets_refuse_plain_http(stage: Synthesized, kind: str) -> None:
    assets_id, _ = _assets_bucket(stage)
    ids = [i for i in stage.resources("AWS::S3::Bucket") if (i == assets_id) == (kind == "assets")]
    (bucket_id,) = ids
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in stage.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (statements,) = policies
    assert any(
        s["Effect"] == "Deny"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and s["Action"] == "s3:*"
        for s in statements
    )


def test_dev_buckets_auto_delete_and_prod_buckets_are_retained(
    dev: Synthesized, prod: Synthesized
) -> None:
    assert len(dev.resources("Custom::S3AutoDeleteObjects")) == 2
    assert all(b["DeletionPolicy"] == "Delete" for b in dev.resources("AWS::S3::Bucket").values())
    prod.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    assert all(b["DeletionPolicy"] == "Retain" for b in prod.resources("AWS::S3::Bucket").values())
    prod.template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    dev.template.has_resource_properties(
        "AWS::S3::Bucket", {"OwnershipControls": Match.any_value()}
    )
