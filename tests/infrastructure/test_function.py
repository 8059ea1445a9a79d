"""The Chalice function: runtime, size, tracing, VPC, environment, logs, least-privilege role."""

from __future__ import annotations

import os
import sys
from typing import Any

from aws_cdk.assertions import Match

from chalicelib import settings as app_settings
from chalicelib.schema import ATTACHMENTS_PREFIX, STATUS_INDEX
from infrastructure.api import powertools_layer_parameter
from tests.infrastructure.conftest import REPO_ROOT, ProcessState, Synthesized


def _function(stage: Synthesized) -> dict[str, Any]:
    props: dict[str, Any] = stage.only("AWS::Serverless::Function")["Properties"]
    return props


def test_function_size_timeout_runtime_and_tracing(stage: Synthesized) -> None:
    stage.template.has_resource_properties(
        "AWS::Serverless::Function",
        {
            "Runtime": "python3.11",
            "MemorySize": 512,
            "Timeout": 20,
            "Tracing": "Active",
            "Handler": "app.app",
        },
    )
    # Below API Gateway's 29 s integration limit.
    assert _function(stage)["Timeout"] < 29


def test_function_runs_in_the_isolated_subnets(dev: Synthesized) -> None:
    vpc = _function(dev)["VpcConfig"]
    subnet_refs = {ref["Ref"] for ref in vpc["SubnetIds"]}
    assert subnet_refs == set(dev.resources("AWS::EC2::Subnet"))


def test_function_environment_names_every_setting(stage: Synthesized) -> None:
    variables = _function(stage)["Environment"]["Variables"]
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


def test_function_logs_to_its_own_log_group_with_retention(stage: Synthesized) -> None:
    group_id = _function(stage)["LoggingConfig"]["LogGroup"]["Ref"]
    group = stage.json["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == stage.context["logRetentionDays"]


def test_powertools_layer_resolved_from_its_public_ssm_parameter(dev: Synthesized) -> None:
    layers = _function(dev)["Layers"]
    assert len(layers) == 1
    parameter = dev.json["Parameters"][layers[0]["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    pinned = next(
        line.split("==")[1].strip()
        for line in (REPO_ROOT / "requirements-layer.txt").read_text().splitlines()
        if line.startswith("aws-lambda-powertools")
    )
    assert parameter["Default"] == f"/aws/service/powertools/python/x86_64/python3.11/{pinned}"
    assert parameter["Default"] == powertools_layer_parameter()


def _role_statements(stage: Synthesized) -> list[dict[str, Any]]:
    role_ref = _function(stage)["Role"]["Fn::GetAtt"][0]
    role = stage.json["Resources"][role_ref]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
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


def test_role_grants_exactly_the_calls_the_code_makes(dev: Synthesized) -> None:
    statements = _role_statements(dev)
    granted = {
        action for s in statements for action in _listed(s["Action"]) if s["Effect"] == "Allow"
    }
    assert granted == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert not any("*" in action for action in granted)
    for statement in statements:
        actions = _listed(statement["Action"])
        resources = _listed(statement["Resource"])
        if "*" in resources:
            # Only where AWS offers no resource-level permission.
            assert all(a.startswith(("ec2:", "xray:")) for a in actions), statement


def test_role_scopes_dynamodb_to_the_tables_and_query_to_the_status_index(
    dev: Synthesized,
) -> None:
    by_sid = {s["Sid"]: s for s in _role_statements(dev)}
    query = by_sid["ItemsStatusIndex"]
    assert _listed(query["Action"]) == ["dynamodb:Query"]
    assert f"/index/{STATUS_INDEX.name}" in str(query["Resource"])
    items = by_sid["ItemsTable"]
    assert "dynamodb:Query" not in items["Action"]
    assert set(items["Resource"]["Fn::GetAtt"][1:]) == {"Arn"}
    idempotency = by_sid["IdempotencyTable"]
    assert set(idempotency["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert items["Resource"] != idempotency["Resource"]


def test_role_reaches_only_the_attachments_prefix_of_the_bucket(dev: Synthesized) -> None:
    statements = [
        s for s in _role_statements(dev) if any(a.startswith("s3:") for a in _listed(s["Action"]))
    ]
    objects = [s for s in statements if "s3:ListBucket" not in _listed(s["Action"])]
    assert len(objects) == 1
    (resource,) = _listed(objects[0]["Resource"])
    assert resource["Fn::Join"][1][-1] == f"/{ATTACHMENTS_PREFIX}*"
    listing = [s for s in statements if "s3:ListBucket" in _listed(s["Action"])]
    assert len(listing) == 1
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": [f"{ATTACHMENTS_PREFIX}*"]}}
    assert "web/" not in str(statements)


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
    assert sys.modules.get("app") is before_synthesis.app_module
