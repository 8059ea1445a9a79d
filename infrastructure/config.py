"""Per-stage deployment settings, built from CDK context by the entry point only."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.auth.permissions import PERMISSIONS
from infrastructure.powertools import check_region

Stage = Literal["dev", "prod"]
BillingMode = Literal["PAY_PER_REQUEST", "PROVISIONED"]

# The Lambda runtime is pinned: Chalice would otherwise take it from whichever Python runs synth.
# python3.13 runs on Amazon Linux 2023 and is supported until 2029 (python3.11 is deprecated
# first); the package import test runs the deployment zip on a 3.13 interpreter.
LAMBDA_RUNTIME = "python3.13"
# Graviton: cheaper per GB-second. The zip holds no native code (tests/package checks it) and the
# Powertools layer is published for arm64, so nothing is built for a particular architecture.
LAMBDA_ARCHITECTURE = "arm64"
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


ClientKind = Literal["console", "machine"]
_CLIENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


@dataclass(frozen=True)
class UsagePlanTier:
    """Throttle and daily quota of a usage plan (per API key)."""

    rate_limit: float
    burst_limit: int
    quota_per_day: int


@dataclass(frozen=True)
class ApiClient:
    """A client of the API: its own API key and usage plan, and (machine clients) the scopes
    its Cognito app client is granted. The console is the one ``console`` client: people sign
    in through it, and their groups, not scopes, decide what they may do."""

    name: str
    kind: ClientKind
    scopes: tuple[str, ...]
    tier: UsagePlanTier


@dataclass(frozen=True)
class DeploymentSettings:
    """Everything that differs between deployments, typed and validated."""

    stage: Stage
    region: str
    api_domain: CustomDomain | None
    web_domain: CustomDomain | None
    cors_allow_origin: str | None
    alarm_email: str | None
    billing_mode: BillingMode
    read_capacity_max: int
    write_capacity_max: int
    throttle_rate_limit: float
    throttle_burst_limit: int
    waf_rate_limit_per_5min: int
    log_retention_days: int
    api_clients: tuple[ApiClient, ...]
    # CIDRs allowed to reach the API (IPv4 and IPv6); empty: no allowlist rule.
    ip_allowlist: tuple[str, ...] = ()

    @property
    def console_client(self) -> ApiClient:
        return next(client for client in self.api_clients if client.kind == "console")

    @property
    def machine_clients(self) -> tuple[ApiClient, ...]:
        return tuple(client for client in self.api_clients if client.kind == "machine")

    @property
    def is_prod(self) -> bool:
        """Production keeps data on stack deletion and guards tables against deletion."""
        return self.stage == "prod"

    @property
    def is_provisioned(self) -> bool:
        """Provisioned capacity with auto-scaling (else on-demand)."""
        return self.billing_mode == "PROVISIONED"

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
        region = text("region") or "us-west-2"
        check_region(region)
        billing = text("billingMode") or ("PROVISIONED" if stage == "prod" else "PAY_PER_REQUEST")
        if billing not in ("PAY_PER_REQUEST", "PROVISIONED"):
            raise ValueError(
                f"context billingMode must be PAY_PER_REQUEST or PROVISIONED, not {billing!r}"
            )
        api_domain = _domain(text("domainName"), text("certificateArn"), text("hostedZoneId"))
        web_domain = _domain(text("webDomainName"), text("webCertificateArn"), None)
        settings = cls(
            stage="prod" if stage == "prod" else "dev",
            region=region,
            api_domain=api_domain,
            web_domain=web_domain,
            cors_allow_origin=text("corsAllowOrigin"),
            alarm_email=text("alarmEmail"),
            billing_mode="PROVISIONED" if billing == "PROVISIONED" else "PAY_PER_REQUEST",
            read_capacity_max=number("readCapacityMax"),
            write_capacity_max=number("writeCapacityMax"),
            throttle_rate_limit=float(number("throttleRateLimit")),
            throttle_burst_limit=number("throttleBurstLimit"),
            waf_rate_limit_per_5min=number("wafRateLimitPer5Min"),
            log_retention_days=number("logRetentionDays"),
            api_clients=api_clients(get("apiClients"), get("usagePlanTiers")),
            ip_allowlist=ip_allowlist(get("ipAllowlist")),
        )
        settings.check_capacity()
        return settings

    def check_capacity(self) -> None:
        """Provisioned tables must be able to scale to what the stage admits.

        Every admitted request costs at least one read or one write unit, and all of them may be
        reads (or writes), so each auto-scaling maximum must reach the stage's steady rate. The
        burst above it is absorbed by DynamoDB's burst capacity (up to 300 s of unused units)
        while auto-scaling reacts. On-demand tables need no such bound.
        """
        if not self.is_provisioned:
            return
        for key, maximum in (
            ("readCapacityMax", self.read_capacity_max),
            ("writeCapacityMax", self.write_capacity_max),
        ):
            if maximum < self.throttle_rate_limit:
                raise ValueError(
                    f"{key} ({maximum}) is below throttleRateLimit ({self.throttle_rate_limit:g} "
                    "requests/s): with provisioned capacity the tables could never serve what "
                    "the API admits; raise it or lower the throttle (or use PAY_PER_REQUEST)"
                )


def _domain(name: str | None, certificate: str | None, zone: str | None) -> CustomDomain | None:
    if not name:
        return None
    if not certificate:
        raise ValueError(f"domain {name} needs its certificate ARN in context")
    return CustomDomain(name=name, certificate_arn=certificate, hosted_zone_id=zone)


def _json_value(value: Any) -> Any:
    """Context from the command line (-c key=...) arrives as a JSON string."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


def api_clients(clients_value: Any, tiers_value: Any) -> tuple[ApiClient, ...]:
    """``apiClients`` (name, kind, scopes, tier) against ``usagePlanTiers``, validated."""
    clients, tiers = _json_value(clients_value), _json_value(tiers_value)
    if not isinstance(clients, list) or not isinstance(tiers, dict):
        raise ValueError("context apiClients (a list) and usagePlanTiers (a map) are required")
    parsed: list[ApiClient] = []
    for entry in clients:
        name, kind, tier = entry.get("name"), entry.get("kind", "machine"), entry.get("tier")
        scopes = tuple(entry.get("scopes", []))
        if not isinstance(name, str) or not _CLIENT_NAME.match(name):
            raise ValueError(f"apiClients: name {name!r} must be lowercase letters, digits, -")
        if kind not in ("console", "machine"):
            raise ValueError(f"apiClients {name}: kind must be console or machine")
        if kind == "console" and scopes:
            raise ValueError(f"apiClients {name}: the console's people get groups, not scopes")
        if kind == "machine" and (not scopes or not set(scopes) <= set(PERMISSIONS)):
            raise ValueError(f"apiClients {name}: scopes must be some of {', '.join(PERMISSIONS)}")
        if tier not in tiers:
            raise ValueError(f"apiClients {name}: tier {tier!r} is not in usagePlanTiers")
        limits = tiers[tier]
        parsed.append(
            ApiClient(
                name=name,
                kind="console" if kind == "console" else "machine",
                scopes=scopes,
                tier=UsagePlanTier(
                    rate_limit=float(limits["rateLimit"]),
                    burst_limit=int(limits["burstLimit"]),
                    quota_per_day=int(limits["quotaPerDay"]),
                ),
            )
        )
    names = [client.name for client in parsed]
    if len(set(names)) != len(names):
        raise ValueError("apiClients: names must be unique")
    if sum(client.kind == "console" for client in parsed) != 1:
        raise ValueError("apiClients: exactly one client must be the console (kind console)")
    return tuple(parsed)


def ip_allowlist(value: Any) -> tuple[str, ...]:
    """``ipAllowlist``: IPv4 and IPv6 CIDRs in WAF's form (network address, explicit prefix).

    WAF accepts every prefix length but /0, and only a network's own address ("10.0.0.0/8",
    not "10.1.2.3/8"): a host bit set is a typo to refuse here rather than at deploy time.
    """
    entries = _json_value(value) or []
    if not isinstance(entries, list):
        raise ValueError("context ipAllowlist must be a list of CIDRs")
    cidrs: list[str] = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"ipAllowlist: {entry!r} is not a CIDR ({exc})") from exc
        if network.prefixlen == 0:
            raise ValueError(f"ipAllowlist: {entry!r} allows every address (/0)")
        cidrs.append(network.with_prefixlen)
    return tuple(cidrs)
