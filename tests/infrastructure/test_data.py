"""Data: tables exactly as chalicelib.schema defines them, autoscaled; hardened S3 buckets."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from chalicelib.schema import IDEMPOTENCY_TABLE, ITEMS_TABLE, TableDefinition
from infrastructure.data import MIN_CAPACITY, PITR_WINDOW_DAYS
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
def test_tables_follow_the_schema_with_pitr_and_encryption(
    stage: Synthesized, definition: TableDefinition
) -> None:
    props = _table(stage, definition)["Properties"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        definition.attribute_definitions(), key=str
    )
    assert props["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True,
        "RecoveryPeriodInDays": PITR_WINDOW_DAYS,
    }
    assert props["SSESpecification"]["SSEEnabled"] is True
    if definition.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {
            "AttributeName": definition.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in props


@pytest.mark.parametrize("definition", [ITEMS_TABLE, IDEMPOTENCY_TABLE])
def test_dev_tables_are_on_demand_and_prod_tables_provisioned_from_the_minimum(
    dev: Synthesized, prod: Synthesized, definition: TableDefinition
) -> None:
    """The billingMode default per stage: dev pays per request (nothing to throttle at the
    stage's burst, nothing to pay when idle), prod is provisioned with auto-scaling from 5 units.
    """
    dev_props = _table(dev, definition)["Properties"]
    assert dev_props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in dev_props
    for index in dev_props.get("GlobalSecondaryIndexes", []):
        assert "ProvisionedThroughput" not in index
    prod_props = _table(prod, definition)["Properties"]
    assert prod_props.get("BillingMode", "PROVISIONED") == "PROVISIONED"
    minimum = {"ReadCapacityUnits": MIN_CAPACITY, "WriteCapacityUnits": MIN_CAPACITY}
    assert prod_props["ProvisionedThroughput"] == minimum
    for index in prod_props.get("GlobalSecondaryIndexes", []):
        assert index["ProvisionedThroughput"] == minimum


def test_listing_indexes_match_the_schema(stage: Synthesized) -> None:
    indexes = {
        index["IndexName"]: index
        for index in _table(stage, ITEMS_TABLE)["Properties"]["GlobalSecondaryIndexes"]
    }
    assert set(indexes) == {index.name for index in ITEMS_TABLE.indexes}
    for definition in ITEMS_TABLE.indexes:
        index = indexes[definition.name]
        assert definition.sort_key is not None
        assert index["KeySchema"] == [
            {"AttributeName": definition.partition_key.name, "KeyType": "HASH"},
            {"AttributeName": definition.sort_key.name, "KeyType": "RANGE"},
        ]
        if definition.projected:
            assert index["Projection"]["ProjectionType"] == "INCLUDE"
            assert sorted(index["Projection"]["NonKeyAttributes"]) == sorted(definition.projected)
        else:
            assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_prod_autoscales_reads_and_writes_of_tables_and_index(prod: Synthesized) -> None:
    targets = prod.resources("AWS::ApplicationAutoScaling::ScalableTarget")
    dimensions = sorted(t["Properties"]["ScalableDimension"] for t in targets.values())
    # Items table, its indexes and the idempotency table, each read and write.
    assert dimensions == sorted(
        ["dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits"] * 2
        + ["dynamodb:index:ReadCapacityUnits", "dynamodb:index:WriteCapacityUnits"]
        * len(ITEMS_TABLE.indexes)
    )
    for target in targets.values():
        props = target["Properties"]
        assert props["MinCapacity"] == MIN_CAPACITY
        kind = "read" if "Read" in props["ScalableDimension"] else "write"
        assert props["MaxCapacity"] == int(prod.context[f"{kind}CapacityMax"])
        # Each maximum covers what the stage admits: every request costs at least one unit.
        assert props["MaxCapacity"] >= prod.context["throttleRateLimit"]
    resource_ids = str([t["Properties"]["ResourceId"] for t in targets.values()])
    for index in ITEMS_TABLE.indexes:
        assert index.name in resource_ids
    policies = prod.resources("AWS::ApplicationAutoScaling::ScalingPolicy")
    assert len(policies) == len(targets)
    for policy in policies.values():
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        assert config["TargetValue"] == 70


def test_on_demand_tables_have_nothing_to_autoscale(dev: Synthesized) -> None:
    assert dev.resources("AWS::ApplicationAutoScaling::ScalableTarget") == {}


def test_dev_tables_are_destroyed_and_prod_tables_retained_and_protected(
    dev: Synthesized, prod: Synthesized
) -> None:
    for table in dev.resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
        assert not table["Properties"].get("DeletionProtectionEnabled", False)
    for table in prod.resources("AWS::DynamoDB::Table").values():
        # Plain Retain: a deletion-protected table could not be deleted on a failed create.
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True


# The property holding the physical name of each type the stacks retain.
_NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::KMS::Key": None,  # a key has no name; aliases would be AWS::KMS::Alias
    "AWS::IAM::Role": "RoleName",
    "AWS::Cognito::UserPool": "UserPoolName",
    # SAM retains each published version (a rollback needs the old one); versions have no name.
    "AWS::Lambda::Version": None,
}


def _resource_refs(value: Any) -> set[str]:
    """The template resources a value refers to (pseudo parameters like AWS::StackName excluded)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and not inner.startswith("AWS::"):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            else:
                found |= _resource_refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _resource_refs(inner)
    return found


def test_no_retained_resource_has_a_fixed_physical_name(every_form: Synthesized) -> None:
    """A resource kept after a failed create or a deletion must not block the next create.

    CloudFormation keeps a Retain resource on rollback; a retry then fails with "already
    exists" if the name is fixed (the WAF log group was aws-waf-logs-<stack>). A name is fixed
    unless it is generated or derived from a resource created anew each time (CloudFormation
    User Guide, DeletionPolicy attribute; resources' Name types).
    """
    retained = {
        logical_id: resource
        for logical_id, resource in every_form.json["Resources"].items()
        if resource.get("DeletionPolicy", "Delete") != "Delete"
        or resource.get("UpdateReplacePolicy", "Delete") != "Delete"
    }
    if every_form.context["stage"] == "prod":
        assert retained
    for logical_id, resource in retained.items():
        assert resource["Type"] in _NAME_PROPERTIES, f"{logical_id}: which property names it?"
        name_property = _NAME_PROPERTIES[resource["Type"]]
        name = resource["Properties"].get(name_property) if name_property else None
        if name is not None:
            assert _resource_refs(name) & set(every_form.json["Resources"]), (
                f"{logical_id} is retained with the fixed name {name}"
            )


def test_prod_keeps_state_on_delete_and_replace_but_not_after_a_failed_create(
    prod: Synthesized,
) -> None:
    """Stateful prod resources are RetainExceptOnCreate (CDK's RETAIN_ON_UPDATE_OR_DELETE).

    RetainExceptOnCreate deletes what a failed first create made, so the retry starts clean,
    while deletion and replacement keep data (CloudFormation User Guide, DeletionPolicy).
    Deletion-protected tables and user pools cannot be deleted on rollback, so they use plain
    Retain (test_identity checks the pool's).
    """
    stateful = ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::KMS::Key", "AWS::IAM::Role")
    console_bucket = _console_bucket_id(prod)
    for logical_id, resource in prod.json["Resources"].items():
        if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::Cognito::UserPool"):
            continue
        if resource["Type"] in stateful and logical_id != console_bucket:
            if resource["Type"] == "AWS::IAM::Role":
                continue  # roles hold no data
            assert resource["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
            assert resource["UpdateReplacePolicy"] == "Retain", logical_id
        else:
            assert resource.get("DeletionPolicy", "Delete") in ("Delete",), logical_id


def _assets_bucket(stage: Synthesized) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, bucket)
        for logical_id, bucket in stage.resources("AWS::S3::Bucket").items()
        if "CorsConfiguration" in bucket["Properties"]
    ]
    return found


def _console_bucket_id(stage: Synthesized) -> str:
    distribution = stage.only("AWS::CloudFront::Distribution")["Properties"]
    (origin,) = distribution["DistributionConfig"]["Origins"]
    bucket_id: str = origin["DomainName"]["Fn::GetAtt"][0]
    return bucket_id


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
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert {"POST", "GET"} <= set(cors["AllowedMethods"])
    assert "PUT" not in cors["AllowedMethods"]


def test_deleted_attachment_files_outlive_the_point_in_time_recovery_window(
    stage: Synthesized,
) -> None:
    """Noncurrent attachment versions are kept at least as long as PITR reaches back.

    PITR restores a table to any second of its recovery period (35 days by default; DynamoDB
    Developer Guide, "Point-in-time recovery"); a restored attachment record must find its file,
    which S3 keeps as a noncurrent version until NoncurrentDays after it was deleted (S3 User
    Guide, lifecycle NoncurrentVersionExpiration; expirations are rounded up, never earlier).
    """
    _, bucket = _assets_bucket(stage)
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    kept = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
    for table in stage.resources("AWS::DynamoDB::Table").values():
        recovery = table["Properties"]["PointInTimeRecoverySpecification"]
        assert recovery["PointInTimeRecoveryEnabled"] is True
        assert kept >= recovery.get("RecoveryPeriodInDays", 35)
    assert "ExpirationInDays" not in rule  # current attachments never expire


def test_bucket_cors_names_the_web_origin_when_known(prod: Synthesized) -> None:
    _, bucket = _assets_bucket(prod)
    (cors,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [f"https://{prod.context['webDomainName']}"]


def test_every_bucket_refuses_plain_http(stage: Synthesized) -> None:
    buckets = stage.resources("AWS::S3::Bucket")
    assert len(buckets) == 3  # attachments, access logs, console
    for bucket_id in buckets:
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
        ), bucket_id


def test_dev_buckets_auto_delete_and_prod_keeps_its_data_buckets(
    dev: Synthesized, prod: Synthesized
) -> None:
    assert len(dev.resources("Custom::S3AutoDeleteObjects")) == 3
    assert all(b["DeletionPolicy"] == "Delete" for b in dev.resources("AWS::S3::Bucket").values())
    # In prod only the console's bucket, rebuilt from web/ by every deployment, goes.
    console = _console_bucket_id(prod)
    (auto_delete,) = prod.resources("Custom::S3AutoDeleteObjects").values()
    assert auto_delete["Properties"]["BucketName"] == {"Ref": console}
    for bucket_id, bucket in prod.resources("AWS::S3::Bucket").items():
        expected = "Delete" if bucket_id == console else "RetainExceptOnCreate"
        assert bucket["DeletionPolicy"] == expected, bucket_id
    dev.template.has_resource_properties(
        "AWS::S3::Bucket", {"OwnershipControls": Match.any_value()}
    )
