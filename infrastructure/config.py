"""Per-stage deployment settings, built from CDK context by the entry point only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Stage = Literal["dev", "prod"]

# The Lambda runtime is pinned: Chalice would otherwise take it from whichever Python runs synth.
LAMBDA_RUNTIME = "python3.11"
LAMBDA_MEMORY_MB = 512
# The SDK's worst case per request is bounded well below this (see docs/reliability.md) and API
# Gateway gives up after 29 s, so 20 s leaves room without letting a stuck call run long.
LAMBDA_TIMEOUT_S = 20
API_STAGE = "api"
SERVICE_NAME = "items-api"
METRICS_NAMESPACE = "ItemsApi"


@dataclass(frozen=True)
class CustomDomain:
    """A domain name with its ACM certificate (and optionally a Route 53 hosted zone)."""

    name: str
    certificate_arn: str
    hosted_zone_id: str | None = None


@dataclass(frozen=True)
class DeploymentSettings:
    """Everything that differs between deployments, typed and validated."""

    stage: Stage
    region: str
    api_domain: CustomDomain | None
    web_domain: CustomDomain | None
    cors_allow_origin: str | None
    alarm_email: str | None
    read_capacity_max: int
    write_capacity_max: int
    throttle_rate_limit: float
    throttle_burst_limit: int
    quota_limit_per_day: int
    waf_rate_limit_per_5min: int
    log_retention_days: int

    @property
    def is_prod(self) -> bool:
        """Production keeps data on stack deletion and guards tables against deletion."""
        return self.stage == "prod"

    @classmethod
    def from_context(cls, get: Any) -> DeploymentSettings:
        """Build from a ``node.try_get_context``-like getter; empty strings mean unset."""

        def text(key: str) -> str | None:
            value = get(key)
            return str(value).strip() or None if value is not None else None

        def number(key: str) -> int:
            value = get(key)
            if value is None or str(value).strip() == "":
                raise ValueError(f"context value {key} is required (see infrastructure/cdk.json)")
            return int(value)

        stage = text("stage") or "dev"
        if stage not in ("dev", "prod"):
            raise ValueError(f"context stage must be dev or prod, not {stage!r}")
        api_domain = _domain(text("domainName"), text("certificateArn"), text("hostedZoneId"))
        web_domain = _domain(text("webDomainName"), text("webCertificateArn"), None)
        return cls(
            stage="prod" if stage == "prod" else "dev",
            region=text("region") or "us-west-2",
            api_domain=api_domain,
            web_domain=web_domain,
            cors_allow_origin=text("corsAllowOrigin"),
            alarm_email=text("alarmEmail"),
            read_capacity_max=number("readCapacityMax"),
            write_capacity_max=number("writeCapacityMax"),
            throttle_rate_limit=float(number("throttleRateLimit")),
            throttle_burst_limit=number("throttleBurstLimit"),
            quota_limit_per_day=number("quotaLimitPerDay"),
            waf_rate_limit_per_5min=number("wafRateLimitPer5Min"),
            log_retention_days=number("logRetentionDays"),
        )


def _domain(name: str | None, certificate: str | None, zone: str | None) -> CustomDomain | None:
    if not name:
        return None
    if not certificate:
        raise ValueError(f"domain {name} needs its certificate ARN in context")
    return CustomDomain(name=name, certificate_arn=certificate, hosted_zone_id=zone)
