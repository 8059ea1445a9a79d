"""Web console: ``web/`` published to a bucket of its own and served privately by CloudFront.

The console has its own bucket so that nothing publishing it can touch attachments: CDK's
``BucketDeployment`` copier gets read, write and delete rights (versions included) on its
destination bucket, and that bucket holds nothing but the console.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, CfnResource, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infrastructure.config import CustomDomain
from infrastructure.csp import content_security_policy
from infrastructure.nag import acknowledge, checkov_skip

# What the end-to-end tests leave in web/ and must not be published.
_NOT_PUBLISHED = ["screenshots", "screenshots/*", ".gitkeep"]


class WebConsole(Construct):
    """The console's bucket, a CloudFront distribution in front of it, and its deployment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: Path,
        assets_bucket: s3.IBucket,
        log_bucket: s3.IBucket,
        api_connect_source: str,
        auth_connect_source: str,
        domain: CustomDomain | None,
    ) -> None:
        super().__init__(scope, construct_id)
        # Built from web/ on every deploy: nothing in it needs keeping or versioning.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="s3/console/",
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, CfnResource)
        checkov_skip(
            cfn_bucket,
            {"CKV_AWS_21": "holds only the console, rebuilt from web/ by every deployment"},
        )
        # Uploads and downloads go straight to the assets bucket with presigned requests.
        bucket_origins = [
            f"https://{assets_bucket.bucket_regional_domain_name}",
            f"https://{assets_bucket.bucket_name}.s3.{Aws.URL_SUFFIX}",
        ]
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", domain.certificate_arn)
            if domain
            else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Items API web console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                # Origin access control, and a bucket policy letting only this distribution read.
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self._security_headers(
                    [api_connect_source, auth_connect_source, *bucket_origins]
                ),
            ),
            domain_names=[domain.name] if domain else None,
            certificate=certificate,
            # Only a custom certificate lets the TLS policy be chosen.
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix="cloudfront/",
        )
        self._source_dir = source_dir
        host = domain.name if domain else self.distribution.distribution_domain_name
        #: The browser origin of the console (what the API's CORS allows).
        self.origin = f"https://{host}"
        self.url = f"{self.origin}/"
        self._acknowledge(has_custom_certificate=domain is not None)

    def _security_headers(self, connect_sources: list[str]) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Items API console: strict CSP and security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(connect_sources),
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365),
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(
                    protection=True, mode_block=True, override=True
                ),
            ),
        )

    def _acknowledge(self, *, has_custom_certificate: bool) -> None:
        reasons = {
            "AwsSolutions-CFR1": "a management console for API-key holders; no geographic limit "
            "applies to who may hold a key",
            "AwsSolutions-CFR2": "static files only; the API behind it has its own WAF web ACL",
        }
        if not has_custom_certificate:
            reasons["AwsSolutions-CFR4"] = (
                "without webDomainName the default *.cloudfront.net certificate is used, whose "
                "TLS policy CloudFront fixes; set webDomainName/webCertificateArn for TLS 1.2"
            )
        acknowledge(self.distribution, reasons)
        skips = {
            "CKV_AWS_68": reasons["AwsSolutions-CFR2"],
            "CKV_AWS_310": "one S3 origin in the stack's region; static files only",
        }
        if not has_custom_certificate:
            skips["CKV_AWS_174"] = reasons["AwsSolutions-CFR4"]
        cfn_distribution = self.distribution.node.default_child
        assert isinstance(cfn_distribution, cloudfront.CfnDistribution)
        checkov_skip(cfn_distribution, skips)

    def publish(self, *, api_url: str, api_key: str, auth: dict[str, str]) -> None:
        """Deploy web/ and a generated config.json: the API's URL, the console's API key (not a
        secret: it names the console for its usage plan) and where people sign in."""
        config = {"apiUrl": api_url, "apiKey": api_key, "auth": auth}
        sources = [s3deploy.Source.json_data("config.json", config)]
        # Another team member's page may not exist yet on a fresh branch: publish what is there.
        if self._source_dir.is_dir():
            sources.insert(0, s3deploy.Source.asset(str(self._source_dir), exclude=_NOT_PUBLISHED))
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Publish",
            sources=sources,
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )


def deployment_acknowledgements(bucket: s3.IBucket) -> dict[str, str]:
    """Findings on the role of BucketDeployment's CDK-provided copier, with their reasons."""
    stack = Stack.of(bucket)
    bucket_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER
    staging = f"arn:aws:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-{stack.region}/*"
    copy = "BucketDeployment copies the console from CDK's staging bucket into its own bucket"
    return {
        **{
            f"AwsSolutions-IAM5[Action::s3:{action}]": copy
            for action in ("GetBucket*", "GetObject*", "List*", "Abort*", "DeleteObject*")
        },
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]": f"{copy}; that bucket holds "
        "nothing but the console, which it replaces on every deployment",
        f"AwsSolutions-IAM5[Resource::{staging}]": "CDK's asset staging bucket, read-only",
        "AwsSolutions-IAM5[Resource::*]": "cloudfront:CreateInvalidation/GetInvalidation of the "
        "console after publishing; CDK renders it on *",
    }
