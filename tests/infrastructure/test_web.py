"""The web console: its own bucket, served by CloudFront with OAC, HTTPS and a CSP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infrastructure.conftest import REPO_ROOT, Synthesized


def _distribution(stage: Synthesized) -> dict[str, Any]:
    config: dict[str, Any] = stage.only("AWS::CloudFront::Distribution")["Properties"][
        "DistributionConfig"
    ]
    return config


def _console_bucket(stage: Synthesized) -> str:
    (origin,) = _distribution(stage)["Origins"]
    bucket_id: str = origin["DomainName"]["Fn::GetAtt"][0]
    assert stage.json["Resources"][bucket_id]["Type"] == "AWS::S3::Bucket"
    return bucket_id


def _assets_bucket(stage: Synthesized) -> str:
    variables = stage.function()["Properties"]["Environment"]["Variables"]
    bucket_id: str = variables["ASSETS_BUCKET_NAME"]["Ref"]
    return bucket_id


def test_distribution_is_https_only_with_origin_access_control(stage: Synthesized) -> None:
    config = _distribution(stage)
    (origin,) = config["Origins"]
    oac_id = next(iter(stage.resources("AWS::CloudFront::OriginAccessControl")))
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = stage.only("AWS::CloudFront::OriginAccessControl")["Properties"]
    assert oac["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["OriginAccessControlConfig"]["SigningProtocol"] == "sigv4"
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert config["DefaultRootObject"] == "index.html"
    assert "Logging" in config
    stage.template.resource_count_is("AWS::CloudFront::CloudFrontOriginAccessIdentity", 0)


def test_the_console_has_a_bucket_of_its_own(stage: Synthesized) -> None:
    """The distribution reads, and the deployment writes, a bucket that holds no attachments."""
    console = _console_bucket(stage)
    assert console != _assets_bucket(stage)
    deployment = stage.only("Custom::CDKBucketDeployment")["Properties"]
    assert deployment["DestinationBucketName"] == {"Ref": console}
    assert "DestinationBucketKeyPrefix" not in deployment


def test_the_console_deployment_has_no_rights_on_the_attachments_bucket(
    stage: Synthesized,
) -> None:
    """BucketDeployment's copier may read and permanently delete (DeleteObject*, versions
    included) in its destination; that must not be where attachments live.

    CDK's BucketDeployment grants its handler s3:GetObject*, s3:List*, s3:DeleteObject* and
    s3:PutObject* on the destination bucket (aws-cdk-lib aws_s3_deployment; IAM User Guide,
    least privilege).
    """
    assets = _assets_bucket(stage)
    deployment_roles = {
        role_id
        for role_id in stage.resources("AWS::IAM::Role")
        if role_id.startswith("CustomCDKBucketDeployment")
    }
    assert len(deployment_roles) == 1
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in stage.resources("AWS::IAM::Policy").values()
        if any(r.get("Ref") in deployment_roles for r in p["Properties"]["Roles"])
    ]
    assert policies
    granted = json.dumps(policies)
    assert f'"{_console_bucket(stage)}"' in granted
    assert f'"{assets}"' not in granted


def test_only_this_distribution_may_read_the_console_bucket(stage: Synthesized) -> None:
    console = _console_bucket(stage)
    statements = [
        statement
        for policy in stage.resources("AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"]["Fn::Join"][1][0] == {"Fn::GetAtt": [console, "Arn"]}
    distribution_id = next(iter(stage.resources("AWS::CloudFront::Distribution")))
    assert distribution_id in json.dumps(statement["Condition"]["StringEquals"]["AWS:SourceArn"])
    for policy in stage.resources("AWS::S3::BucketPolicy").values():
        for any_statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert any_statement.get("Principal") != "*" or any_statement["Effect"] == "Deny"


def _csp(stage: Synthesized) -> str:
    policy = stage.only("AWS::CloudFront::ResponseHeadersPolicy")["Properties"]
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    return json.dumps(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])


def test_strict_content_security_policy(stage: Synthesized) -> None:
    csp = _csp(stage)
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    policy_id = next(iter(stage.resources("AWS::CloudFront::ResponseHeadersPolicy")))
    assert _distribution(stage)["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {
        "Ref": policy_id
    }


def test_csp_lets_the_console_reach_the_api_and_the_bucket(
    dev: Synthesized, prod: Synthesized
) -> None:
    assert "execute-api" in _csp(dev)
    assert f"https://{prod.context['domainName']}" in _csp(prod)
    assert "RegionalDomainName" in _csp(dev)


def test_console_is_published_with_a_generated_config(dev: Synthesized, prod: Synthesized) -> None:
    for stage in (dev, prod):
        deployment = stage.only("Custom::CDKBucketDeployment")["Properties"]
        assert deployment["DistributionPaths"] == ["/*"]
        assert "DistributionId" in deployment
        # The page itself and config.json.
        assert len(deployment["SourceObjectKeys"]) == 2
    dev_markers = json.dumps(dev.only("Custom::CDKBucketDeployment")["Properties"])
    assert "https://${RestAPI}.execute-api." in dev_markers
    # In prod the URL is known at synth time, so it is written into the staged config.json.
    keys = prod.only("Custom::CDKBucketDeployment")["Properties"]["SourceObjectKeys"]
    texts = [
        config.read_text()
        for key in keys
        for config in [
            prod.path.parent / "cdk.out" / f"asset.{key.removesuffix('.zip')}" / "config.json"
        ]
        if config.exists()
    ]
    assert len(texts) == 1
    # Deploy-time values (the console's key, the sign-in domain and client) are markers that
    # BucketDeployment replaces with their JSON strings, quotes included (SourceMarkers).
    markers = prod.only("Custom::CDKBucketDeployment")["Properties"]["SourceMarkers"]
    replacements = {marker: value for source in markers for marker, value in source.items()}
    text = texts[0]
    for marker, value in replacements.items():
        joined = value["Fn::Join"][1]
        assert joined[0].startswith('"'), marker
        assert joined[-1].endswith('"'), marker
        text = text.replace(marker, json.dumps(f"<{marker}>"))
    config = json.loads(text)
    assert config["apiUrl"] == f"https://{prod.context['domainName']}/"
    assert set(config) == {"apiUrl", "apiKey", "auth"}
    assert set(config["auth"]) == {"domain", "clientId"}
    rendered = json.dumps(replacements)
    assert "console-" in rendered  # the console's own API key
    assert ".amazoncognito.com" in rendered


def test_prod_console_on_its_domain_with_tls12(prod: Synthesized) -> None:
    config = _distribution(prod)
    assert config["Aliases"] == [prod.context["webDomainName"]]
    certificate = config["ViewerCertificate"]
    assert certificate["AcmCertificateArn"] == prod.context["webCertificateArn"]
    assert certificate["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert certificate["SslSupportMethod"] == "sni-only"


def test_published_console_is_the_web_folder_without_test_artefacts(dev: Synthesized) -> None:
    keys = dev.only("Custom::CDKBucketDeployment")["Properties"]["SourceObjectKeys"]
    staged = [dev.path.parent / "cdk.out" / f"asset.{key.removesuffix('.zip')}" for key in keys]
    pages = [directory for directory in staged if (directory / "index.html").exists()]
    if not (REPO_ROOT / "web" / "index.html").exists():
        pytest.fail("web/index.html is missing: the console has nothing to publish")
    assert len(pages) == 1
    published = {p.relative_to(pages[0]).as_posix() for p in pages[0].rglob("*") if p.is_file()}
    assert not any(name.startswith("screenshots") for name in published)
    assert "config.json" not in published  # generated per stage, never taken from web/
