"""The Chalice function: runtime, size, tracing, VPC, environment, logs, least-privilege role."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from aws_cdk.assertions import Match

from chalicelib import settings as app_settings
from chalicelib.schema import (
    ATTACHMENTS_PREFIX,
    ITEM_CHANGES_BATCH_SIZE,
    ITEM_CHANGES_FILTER,
    ITEM_CHANGES_MAX_RETRIES,
    ITEMS_TABLE,
    uploads_event_pattern,
)
from infrastructure.config import LAMBDA_RUNTIME
from infrastructure.functions import (
    AUTHORIZER_ID,
    CLEANUP_EVENT,
    CLEANUP_ID,
    FUNCTION_ID,
    UPLOADS_ID,
    powertools_layer_parameter,
)
from tests.infrastructure.conftest import (
    REPO_ROOT,
    Forms,
    ProcessState,
    Synthesized,
    app_modules,
)

# Every function of app.py: the API handler, the upload confirmation (S3's events) and the
# record cleanup (the items table's stream). All are built from the same stage configuration and
# must be configured alike.
FUNCTIONS = {
    FUNCTION_ID: "app.app",
    UPLOADS_ID: "app.confirm_upload",
    CLEANUP_ID: "app.clean_up_removed_records",
}
each_function = pytest.mark.parametrize("function_id", list(FUNCTIONS))


def _function(stage: Synthesized, function_id: str = FUNCTION_ID) -> dict[str, Any]:
    props: dict[str, Any] = stage.function(function_id)["Properties"]
    return props


def test_the_template_holds_exactly_the_apps_functions(stage: Synthesized) -> None:
    # The token authorizer is checked in test_identity (outside the VPC, its own timeout).
    expected = {*FUNCTIONS, AUTHORIZER_ID}
    assert set(stage.resources("AWS::Serverless::Function")) == expected


@each_function
def test_function_size_timeout_runtime_and_tracing(stage: Synthesized, function_id: str) -> None:
    props = _function(stage, function_id)
    assert props["Handler"] == FUNCTIONS[function_id]
    assert props["MemorySize"] == 512
    assert props["Timeout"] == 20
    assert props["Tracing"] == "Active"
    # Below API Gateway's 29 s integration limit.
    assert props["Timeout"] < 29


@each_function
def test_every_function_runs_python_3_13_on_arm64(forms: Forms, function_id: str) -> None:
    """python3.13 (Amazon Linux 2023) on Graviton, in the template and after the SAM transform.

    python3.11 runs on Amazon Linux 2 and is deprecated first (Lambda Developer Guide, "Lambda
    runtimes", deprecation dates); arm64 is cheaper per GB-second ("Lambda instruction set
    architectures"). The zip holds no native code (tests/package), the layer has arm64 builds.
    """
    props = _function(forms.raw, function_id)
    assert props["Runtime"] == LAMBDA_RUNTIME == "python3.13"
    assert props["Architectures"] == ["arm64"]
    deployed = forms.expanded.json["Resources"][function_id]
    assert deployed["Type"] == "AWS::Lambda::Function"
    assert deployed["Properties"]["Runtime"] == "python3.13"
    assert deployed["Properties"]["Architectures"] == ["arm64"]


@each_function
def test_function_runs_in_the_isolated_subnets(dev: Synthesized, function_id: str) -> None:
    vpc = _function(dev, function_id)["VpcConfig"]
    subnet_refs = {ref["Ref"] for ref in vpc["SubnetIds"]}
    assert subnet_refs == set(dev.resources("AWS::EC2::Subnet"))
    assert vpc["SecurityGroupIds"] == _function(dev)["VpcConfig"]["SecurityGroupIds"]


@each_function
def test_function_environment_names_every_setting(stage: Synthesized, function_id: str) -> None:
    variables = _function(stage, function_id)["Environment"]["Variables"]
    for name in (
        app_settings.ITEMS_TABLE_NAME,
        app_settings.IDEMPOTENCY_TABLE_NAME,
        app_settings.ASSETS_BUCKET_NAME,
    ):
        assert set(variables[name]) == {"Ref"}
        assert variables[name]["Ref"] in stage.json["Resources"]
    assert int(variables[app_settings.MAX_ATTACHMENT_BYTES]) == (
        app_settings.DEFAULT_MAX_ATTACHMENT_BYTES
    )
    assert variables[app_settings.ALLOWED_CONTENT_TYPES].split(",") == list(
        app_settings.DEFAULT_ALLOWED_CONTENT_TYPES
    )
    assert variables["POWERTOOLS_SERVICE_NAME"] == "items-api"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "ItemsApi"
    assert app_settings.LOCAL_API_KEY not in variables
    assert app_settings.CORS_ALLOW_ORIGIN in variables


def test_each_function_logs_to_its_own_log_group_with_retention(stage: Synthesized) -> None:
    groups = {_function(stage, f)["LoggingConfig"]["LogGroup"]["Ref"] for f in FUNCTIONS}
    assert len(groups) == len(FUNCTIONS)
    for group_id in groups:
        group = stage.json["Resources"][group_id]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == stage.context["logRetentionDays"]


@each_function
def test_powertools_layer_resolved_from_its_public_ssm_parameter(
    stage: Synthesized, function_id: str
) -> None:
    """The layer ARN comes from Powertools' public parameter for arm64, python3.13 and the pinned
    version: /aws/service/powertools/python/{arch}/{python_version}/{version} (Powertools for AWS
    Lambda (Python), Installation, "Using SSM Parameter Store")."""
    layers = _function(stage, function_id)["Layers"]
    assert len(layers) == 1
    parameter = stage.json["Parameters"][layers[0]["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    pinned = next(
        line.split("==")[1].strip()
        for line in (REPO_ROOT / "requirements-layer.txt").read_text().splitlines()
        if line.startswith("aws-lambda-powertools")
    )
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.13/{pinned}"
    assert parameter["Default"] == powertools_layer_parameter()


def _role_id(stage: Synthesized, function_id: str) -> str:
    role_id: str = _function(stage, function_id)["Role"]["Fn::GetAtt"][0]
    return role_id


def test_each_function_has_its_own_role(forms: Forms) -> None:
    """One execution role per function, in the template and as deployed."""
    roles = {_role_id(forms.raw, f) for f in FUNCTIONS}
    assert len(roles) == len(FUNCTIONS)
    for function_id in FUNCTIONS:
        deployed = forms.expanded.json["Resources"][function_id]["Properties"]
        assert deployed["Role"] == {"Fn::GetAtt": [_role_id(forms.raw, function_id), "Arn"]}


def _role_statements(stage: Synthesized, function_id: str = FUNCTION_ID) -> list[dict[str, Any]]:
    role_ref = _role_id(stage, function_id)
    role = stage.json["Resources"][role_ref]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert not role.get("ManagedPolicyArns")
    attached = [
        p
        for p in stage.resources("AWS::IAM::Policy").values()
        if {"Ref": role_ref} in p["Properties"]["Roles"]
    ]
    assert attached == []
    statements: list[dict[str, Any]] = []
    for policy in role["Policies"]:
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# What any function of the stack needs: its own log group, VPC networking, X-Ray segments.
RUNTIME_CALLS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
# The AWS calls each function's code makes (chalicelib: items/ and attachments/ repositories and
# storage, idempotency), and Lambda's own with the role on its behalf (streams, dead letters).
CODE_CALLS = {
    FUNCTION_ID: {
        "dynamodb:GetItem",  # get, ping, attachment records, idempotency records
        "dynamodb:PutItem",  # create, an attachment's transaction, idempotency records
        "dynamodb:UpdateItem",  # replace, patch, attachment records and counter, idempotency
        "dynamodb:DeleteItem",  # delete, attachment delete, idempotency records
        "dynamodb:Query",  # the listing indexes' shards; an item's attachments
        "dynamodb:BatchGetItem",  # a listing page's items
        "s3:PutObject",  # signs the presigned POST
        "s3:GetObject",  # signs the presigned GET; HEAD (a 403 means "not there": no ListBucket)
        "s3:DeleteObject",  # attachment delete
    },
    UPLOADS_ID: {
        "dynamodb:UpdateItem",  # mark the attachment record uploaded (conditional)
        "s3:DeleteObject",  # remove a file no record claims
        "sqs:SendMessage",  # Lambda dead-letters a failed event with the function's role
    },
    CLEANUP_ID: {
        "dynamodb:Query",  # an item's remaining records
        "dynamodb:BatchWriteItem",  # delete them
        "s3:ListBucket",  # an item's files
        "s3:DeleteObject",  # delete them
        # Lambda's event source mapping: read the stream, record a batch it gave up on.
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
    },
}


@each_function
def test_no_statement_grants_what_the_functions_code_does_not_call(
    stage: Synthesized, function_id: str
) -> None:
    """Least privilege per function: its role allows exactly its code's calls.

    A shared role gave the event handlers the API's table, index and idempotency rights and the
    API the dead-letter queue (IAM User Guide, "Apply least-privilege permissions").
    """
    statements = _role_statements(stage, function_id)
    granted = {
        action for s in statements for action in _listed(s["Action"]) if s["Effect"] == "Allow"
    }
    assert granted == CODE_CALLS[function_id] | RUNTIME_CALLS
    assert not any("*" in action for action in granted)
    for statement in statements:
        actions = _listed(statement["Action"])
        resources = _listed(statement["Resource"])
        if "*" in resources:
            # Only where AWS offers no resource-level permission.
            assert all(
                a.startswith(("ec2:", "xray:")) or a == "dynamodb:ListStreams" for a in actions
            ), statement


@pytest.mark.parametrize("function_id", [UPLOADS_ID, CLEANUP_ID])
def test_the_event_handlers_reach_only_the_items_table_and_the_attachment_files(
    stage: Synthesized, function_id: str
) -> None:
    by_sid = {s["Sid"]: s for s in _role_statements(stage, function_id)}
    items_table = _role_statements(stage)  # the API's: names the items table too
    items_arn = next(s for s in items_table if s["Sid"] == "ItemsTable")["Resource"]
    assert by_sid["ItemsTable"]["Resource"] == items_arn
    (resource,) = _listed(by_sid["AttachmentObjects"]["Resource"])
    assert resource["Fn::Join"][1][-1] == f"/{ATTACHMENTS_PREFIX}*"
    if "ListAttachments" in by_sid:
        assert by_sid["ListAttachments"]["Condition"] == {
            "StringLike": {"s3:prefix": [f"{ATTACHMENTS_PREFIX}*"]}
        }
    log_groups = {
        s["Resource"]["Fn::GetAtt"][0]
        for function_id in FUNCTIONS
        for s in _role_statements(stage, function_id)
        if s["Sid"] == "OwnLogs"
    }
    assert len(log_groups) == len(FUNCTIONS)  # each writes to its own group only


def test_role_scopes_dynamodb_to_the_tables_and_query_to_the_listing_indexes(
    dev: Synthesized,
) -> None:
    by_sid = {s["Sid"]: s for s in _role_statements(dev)}
    query = by_sid["ListingIndexes"]
    assert _listed(query["Action"]) == ["dynamodb:Query"]
    for index in ITEMS_TABLE.indexes:
        assert f"/index/{index.name}" in str(query["Resource"])
    assert len(_listed(query["Resource"])) == len(ITEMS_TABLE.indexes)
    items = by_sid["ItemsTable"]
    assert set(items["Resource"]["Fn::GetAtt"][1:]) == {"Arn"}
    idempotency = by_sid["IdempotencyTable"]
    assert set(idempotency["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert items["Resource"] != idempotency["Resource"]


def test_the_api_reaches_only_the_attachments_prefix_of_the_bucket(dev: Synthesized) -> None:
    statements = [
        s for s in _role_statements(dev) if any(a.startswith("s3:") for a in _listed(s["Action"]))
    ]
    (objects,) = statements
    (resource,) = _listed(objects["Resource"])
    assert resource["Fn::Join"][1][-1] == f"/{ATTACHMENTS_PREFIX}*"


def test_function_role_is_referenced_by_chalice_not_managed_by_it(dev: Synthesized) -> None:
    # manage_iam_role is off: no role comes out of `chalice package`.
    roles = dev.resources("AWS::IAM::Role")
    assert "DefaultRole" not in roles
    dev.template.has_resource_properties(
        "AWS::Serverless::Function", {"Role": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}
    )


def test_synthesis_leaves_the_process_environment_and_app_module_alone(
    dev: Synthesized, prod: Synthesized, before_synthesis: ProcessState
) -> None:
    def comparable(environ: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in environ.items() if k != "PYTEST_CURRENT_TEST"}

    assert comparable(dict(os.environ)) == comparable(before_synthesis.environ)
    # The same module objects: a later import of app finds its blueprints registered only once.
    assert app_modules() == before_synthesis.app_modules


# -- the upload confirmation: S3 -> EventBridge -> function, failures kept in a dead-letter queue


def _rule(stage: Synthesized) -> dict[str, Any]:
    rule: dict[str, Any]
    (rule,) = [
        r["Properties"]
        for r in stage.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    ]
    return rule


def test_the_assets_bucket_sends_its_events_to_eventbridge(stage: Synthesized) -> None:
    bucket_ref = _function(stage)["Environment"]["Variables"][app_settings.ASSETS_BUCKET_NAME]
    bucket = stage.json["Resources"][bucket_ref["Ref"]]["Properties"]
    assert bucket["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    # Natively, not through CDK's notifications custom resource.
    assert not stage.resources("Custom::S3BucketNotifications")


def test_new_attachment_files_of_that_bucket_go_to_the_upload_confirmation(
    stage: Synthesized,
) -> None:
    rule = _rule(stage)
    bucket_ref = _function(stage)["Environment"]["Variables"][app_settings.ASSETS_BUCKET_NAME]
    assert rule["EventPattern"] == uploads_event_pattern(bucket_ref)
    (target,) = rule["Targets"]
    # The live alias (a published version with its configuration), not $LATEST.
    assert target["Arn"] == {"Ref": f"{UPLOADS_ID}.Alias"}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    # The presigned POST lives 15 minutes; events must outlive an outage well beyond that.
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600


def test_eventbridge_may_invoke_the_confirmation_for_that_rule_only(forms: Forms) -> None:
    """EventBridge invokes the alias its rule targets, and may invoke only that: the permission is
    qualified by the alias (Lambda API, AddPermission: a qualifier restricts access to a single
    version or alias), so neither $LATEST nor a retained old version is reachable through it."""
    for template, confirmer in (
        (forms.raw, {"Ref": f"{UPLOADS_ID}.Alias"}),
        (forms.expanded, {"Ref": forms.expanded.live_alias(UPLOADS_ID)}),
    ):
        rule_id = next(
            i
            for i, r in template.resources("AWS::Events::Rule").items()
            if r["Properties"] == _rule(template)
        )
        permissions = [
            p["Properties"]
            for p in template.resources("AWS::Lambda::Permission").values()
            if p["Properties"]["Principal"] == "events.amazonaws.com"
        ]
        assert permissions == [
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": confirmer,
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
            }
        ]
        (target,) = _rule(template)["Targets"]
        assert target["Arn"] == confirmer


def _queue(stage: Synthesized, arn: Any) -> dict[str, Any]:
    queue: dict[str, Any] = stage.json["Resources"][arn["Fn::GetAtt"][0]]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    return queue


def _sends_to(stage: Synthesized, function_id: str) -> Any:
    """The one queue a function's role may send to (Lambda dead-letters with that role)."""
    (send,) = [
        s for s in _role_statements(stage, function_id) if "sqs:SendMessage" in _listed(s["Action"])
    ]
    assert _listed(send["Action"]) == ["sqs:SendMessage"]
    return send["Resource"]


def test_undeliverable_and_failed_upload_events_land_in_one_encrypted_dead_letter_queue(
    stage: Synthesized,
) -> None:
    (target,) = _rule(stage)["Targets"]
    queue_arn = target["DeadLetterConfig"]["Arn"]
    assert _function(stage, UPLOADS_ID)["DeadLetterQueue"] == {
        "Type": "SQS",
        "TargetArn": queue_arn,
    }
    _queue(stage, queue_arn)
    assert _sends_to(stage, UPLOADS_ID) == queue_arn


# -- the record cleanup: the items table's stream -> function, failures kept in a queue


def test_the_items_table_streams_its_keys_to_the_cleanup(forms: Forms) -> None:
    """The stream and its event source mapping as chalicelib.schema describes them.

    Lambda's event filtering passes only REMOVE records ("Lambda event filtering", DynamoDB
    fields), ReportBatchItemFailures retries from the failed record, BisectBatchOnFunctionError
    halves a failing batch, MaximumRetryAttempts bounds it, and the on-failure destination keeps
    what was given up on ("Using Lambda with DynamoDB": error handling). Checked as deployed.
    """
    stage, expanded = forms.raw, forms.expanded
    (table_id,) = [
        i
        for i, t in stage.resources("AWS::DynamoDB::Table").items()
        if "StreamSpecification" in t["Properties"]
    ]
    table = stage.json["Resources"][table_id]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": ITEMS_TABLE.stream_view_type}
    (mapping,) = expanded.resources("AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    # SAM points the function's own event source at its alias: the published version.
    assert props["FunctionName"] == {"Ref": expanded.live_alias(CLEANUP_ID)}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["BatchSize"] == ITEM_CHANGES_BATCH_SIZE
    assert props["FilterCriteria"] == {"Filters": [{"Pattern": json.dumps(ITEM_CHANGES_FILTER)}]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == ITEM_CHANGES_MAX_RETRIES
    failures = props["DestinationConfig"]["OnFailure"]["Destination"]
    _queue(stage, failures)
    assert _sends_to(stage, CLEANUP_ID) == failures
    # The function's own event declaration is Chalice's, named as the stack expects.
    assert CLEANUP_EVENT in _function(stage, CLEANUP_ID)["Events"]


def test_the_cleanup_reads_only_the_items_tables_stream(stage: Synthesized) -> None:
    by_sid = {s["Sid"]: s for s in _role_statements(stage, CLEANUP_ID)}
    assert by_sid["ItemsStream"]["Resource"]["Fn::GetAtt"][1] == "StreamArn"
    assert set(_listed(by_sid["ItemsStream"]["Action"])) == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    }
    assert _listed(by_sid["ListStreams"]["Action"]) == ["dynamodb:ListStreams"]
