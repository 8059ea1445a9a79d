"""Static checks on the synthesized templates: cdk-nag, cfn-lint, checkov; tags and outputs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from tests.infrastructure.conftest import REPO_ROOT, Synthesized

CFN_LINT = REPO_ROOT / ".venv" / "bin" / "cfn-lint"
CHECKOV = REPO_ROOT / ".venv" / "checkov" / "bin" / "checkov"


def test_cdk_nag_would_fail_synthesis_on_an_unacknowledged_finding() -> None:
    # The fixtures synthesize with the same plugins; this proves they do refuse a finding.
    app = App()
    stack = Stack(app, "NagControl")
    s3.Bucket(stack, "UnloggedBucket")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        Template.from_stack(stack)


def test_cdk_nag_passes_with_acknowledgements_that_give_reasons(stage: Synthesized) -> None:
    # Reaching here means Template.from_stack ran both rule packs without an error.
    assert stage.json["Resources"]


def test_sam_expansion_generates_the_stage_the_dependencies_wait_for(
    dev_expanded: Synthesized,
) -> None:
    stage = dev_expanded.json["Resources"]["RestAPIapiStage"]
    assert stage["Type"] == "AWS::ApiGateway::Stage"
    assert stage["Properties"]["TracingEnabled"] is True
    assert "AccessLogSetting" in stage["Properties"]
    assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] > 0


def _cfn_lint(template: Path) -> None:
    result = subprocess.run(
        [str(CFN_LINT), str(template)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_cfn_lint_reports_nothing(stage: Synthesized) -> None:
    _cfn_lint(stage.path)


def test_cfn_lint_reports_nothing_on_the_sam_expanded_template(expanded: Synthesized) -> None:
    _cfn_lint(expanded.path)


def test_cfn_lint_reports_nothing_on_the_account_stack(account: Synthesized) -> None:
    _cfn_lint(account.path)


def _checkov(template: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make test` (it installs checkov's own venv)")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--file",
            str(template),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(result.stdout)
    found: dict[str, Any] = report[0] if isinstance(report, list) else report
    return found


def _assert_clean(report: dict[str, Any], *, at_least_passed: int = 100) -> None:
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > at_least_passed
    assert summary["skipped"] == len(report["results"]["skipped_checks"])
    for skipped in report["results"]["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} has no reason"


def test_checkov_passes_on_the_template(stage: Synthesized) -> None:
    report = _checkov(stage.path)
    _assert_clean(report)
    assert report["summary"]["skipped"] > 0


def test_checkov_passes_on_the_sam_expanded_template(expanded: Synthesized) -> None:
    _assert_clean(_checkov(expanded.path))


def test_checkov_passes_on_the_account_stack(account: Synthesized) -> None:
    _assert_clean(_checkov(account.path), at_least_passed=3)


def test_the_account_stack_passes_cdk_nag(account: Synthesized) -> None:
    # Reaching here means Template.from_stack ran both rule packs on it without an error.
    assert account.resources("AWS::ApiGateway::Account")


_UNTAGGABLE_WITH_TAGS_PROPERTY: set[str] = set()


def test_every_taggable_resource_carries_project_and_environment(stage: Synthesized) -> None:
    tagged = 0
    for logical_id, resource in stage.json["Resources"].items():
        tags = resource.get("Properties", {}).get("Tags")
        if tags is None:
            continue
        tagged += 1
        pairs = (
            tags
            if isinstance(tags, dict)
            else {t["Key"]: t["Value"] for t in tags if isinstance(t, dict) and "Key" in t}
        )
        assert pairs.get("project") == "items-api", logical_id
        assert pairs.get("environment") == stage.context["stage"], logical_id
    for resource_type in (
        "AWS::EC2::VPC",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::Serverless::Function",
        "AWS::Serverless::Api",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",
        "AWS::CloudFront::Distribution",
        "AWS::WAFv2::WebACL",
        "AWS::KMS::Key",
    ):
        for logical_id, resource in stage.resources(resource_type).items():
            assert "Tags" in resource["Properties"], logical_id
    assert tagged > 20


def test_the_account_stack_is_tagged(account: Synthesized) -> None:
    for logical_id, resource in account.resources("AWS::IAM::Role").items():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
        assert tags == {"project": "items-api", "environment": "account"}, logical_id


def test_stack_outputs(stage: Synthesized) -> None:
    outputs = stage.json["Outputs"]
    for name in (
        "ApiUrl",
        "ApiKeyId",
        "ItemsTableName",
        "IdempotencyTableName",
        "AssetsBucketName",
        "DashboardUrl",
        "WebConsoleUrl",
        "AlarmTopicArn",
    ):
        assert name in outputs
    assert outputs["ApiKeyId"]["Value"]["Ref"] in stage.resources("AWS::ApiGateway::ApiKey")
