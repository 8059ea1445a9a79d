"""Static checks on the synthesized templates: cdk-nag, cfn-lint, checkov; tags and outputs."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

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


def _expanded(stage: Synthesized, workdir: Path) -> Path:
    """The template after the SAM transform, as CloudFormation will deploy it.

    SAM copies a resource's Metadata to the function and REST API it generates but not to the
    stage and deployment, so checkov skips recorded on a SAM resource are carried to every
    resource generated from it (their logical ids start with the SAM resource's).
    """
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    source = copy.deepcopy(stage.json)
    # The SAM translator needs a region (for ARNs it renders); no credentials.
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": stage.context["region"]}):
        expanded: dict[str, Any] = transform(source, {}, NoManagedPolicies())
    sam_metadata = {
        logical_id: resource["Metadata"]["checkov"]
        for logical_id, resource in stage.json["Resources"].items()
        if resource["Type"].startswith("AWS::Serverless::")
        and "checkov" in resource.get("Metadata", {})
    }
    for logical_id, resource in expanded["Resources"].items():
        for source_id, skips in sam_metadata.items():
            if logical_id.startswith(source_id):
                resource.setdefault("Metadata", {}).setdefault("checkov", skips)
    path = workdir / "expanded.template.json"
    path.write_text(json.dumps(expanded, indent=1))
    return path


def test_sam_expansion_generates_the_stage_the_dependencies_wait_for(
    dev: Synthesized, tmp_path: Path
) -> None:
    expanded = json.loads(_expanded(dev, tmp_path).read_text())
    stage = expanded["Resources"]["RestAPIapiStage"]
    assert stage["Type"] == "AWS::ApiGateway::Stage"
    assert stage["Properties"]["TracingEnabled"] is True
    assert "AccessLogSetting" in stage["Properties"]
    assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] > 0


def test_cfn_lint_reports_nothing(stage: Synthesized) -> None:
    result = subprocess.run(
        [str(CFN_LINT), str(stage.path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


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


def _assert_clean(report: dict[str, Any]) -> None:
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100
    assert summary["skipped"] == len(report["results"]["skipped_checks"]) > 0
    for skipped in report["results"]["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} has no reason"


def test_checkov_passes_on_the_template(stage: Synthesized) -> None:
    _assert_clean(_checkov(stage.path))


def test_checkov_passes_on_the_sam_expanded_template(stage: Synthesized, tmp_path: Path) -> None:
    _assert_clean(_checkov(_expanded(stage, tmp_path)))


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
