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
# The alias API Gateway, the stream and the upload rule invoke: a published version of each
# function (code and configuration together), moved by CodeDeploy for the API handler.
LIVE_ALIAS = "live"
# CodeDeploy's predefined Lambda configurations (CodeDeployDefault.Lambda<Type>), as SAM names them.
DEPLOYMENT_TYPES = (
    "AllAtOnce",
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
)
DEFAULT_DEPLOYMENT_TYPE = {"dev": "AllAtOnce", "prod": "Canary10Percent5Minutes"}
# SnapStart supports Python from 3.12 (Lambda Developer Guide, "Improving startup performance
# with Lambda SnapStart", supported runtimes).
SNAP_START_MIN_PYTHON = (3, 12)
# The commercial regions the same guide lists as without SnapStart (Asia Pacific: New Zealand,
# Taipei).
SNAP_START_UNSUPPORTED_REGIONS = frozenset({"ap-southeast-6", "ap-east-2"})
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
    #: CodeDeploy's traffic shifting for the API handler's alias (context deploymentPreference).
    deployment_type: str = "AllAtOnce"
    #: SnapStart on the API handler's published versions (context snapStart).
    snap_start: bool = False
    #: Provisioned concurrency on the API handler's alias, or None (provisionedConcurrency).
    provisioned_concurrency: int | None = None

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
            **_release_options(get, stage, region),
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


def _release_options(get: Any, stage: str, region: str) -> dict[str, Any]:
    """How the API handler's alias is moved and warmed: deploymentPreference, snapStart and
    provisionedConcurrency (the two cold-start options exclude each other)."""
    deployment_type = (
        str(get("deploymentPreference") or "").strip() or (DEFAULT_DEPLOYMENT_TYPE[stage])
    )
    if deployment_type not in DEPLOYMENT_TYPES:
        raise ValueError(
            f"context deploymentPreference must be one of {', '.join(DEPLOYMENT_TYPES)}, "
            f"not {deployment_type!r}"
        )
    snap_start = _flag(get("snapStart"), "snapStart")
    concurrency_value = get("provisionedConcurrency")
    text = "" if concurrency_value in (None, False) else str(concurrency_value).strip()
    if text and not text.isdigit():
        raise ValueError(
            f"context provisionedConcurrency must be a whole number, not {concurrency_value!r}"
        )
    concurrency = int(text) if text else 0
    if snap_start and concurrency:
        # Lambda refuses it: "SnapStart does not support provisioned concurrency".
        raise ValueError(
            "context snapStart and provisionedConcurrency exclude each other (Lambda does not "
            "support SnapStart with provisioned concurrency): set one of them"
        )
    if snap_start:
        check_snap_start(LAMBDA_RUNTIME, region)
    return {
        "deployment_type": deployment_type,
        "snap_start": snap_start,
        "provisioned_concurrency": concurrency or None,
    }


def check_snap_start(runtime: str, region: str) -> None:
    """Refuse what Lambda would refuse at deploy time for SnapStart on this runtime and region.

    The other limits (no provisioned concurrency, no EFS, at most 512 MB of ephemeral storage)
    are the stack's: provisioned concurrency is refused above, and the functions mount no file
    system and keep the default /tmp (tests/infrastructure/test_release.py pins both).
    """
    if not runtime.startswith("python") or runtime_python(runtime) < SNAP_START_MIN_PYTHON:
        raise ValueError(f"context snapStart needs python3.12 or later, not {runtime}")
    if region in SNAP_START_UNSUPPORTED_REGIONS:
        raise ValueError(f"context snapStart: Lambda offers no SnapStart in {region}")


def runtime_python(runtime: str) -> tuple[int, int]:
    """(3, 13) for "python3.13"."""
    major, minor = runtime.removeprefix("python").split(".")
    return int(major), int(minor)


def _flag(value: Any, key: str) -> bool:
    """A boolean context value: JSON true/false from cdk.json, or the strings -c passes."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "false", "0", "no", "off"):
        return False
    if text in ("true", "1", "yes", "on"):
        return True
    raise ValueError(f"context {key} must be true or false, not {value!r}")


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


# GitHub's names: an owner (user or organization) of up to 39 letters, digits and single inner
# hyphens; a repository of up to 100 letters, digits, ".", "_" and "-". No wildcard can pass.
_GITHUB_REPOSITORY = re.compile(
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/(?P<name>[A-Za-z0-9._-]{1,100})"
)
_OIDC_PROVIDER_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com"
)


@dataclass(frozen=True)
class AccountSettings:
    """What the account stack (``ItemsApi-account``) takes from context."""

    #: owner/name of the repository whose workflows may deploy, or None (no deploy role).
    github_repository: str | None
    #: The account's GitHub OIDC provider when one exists already (IAM allows one per URL).
    github_oidc_provider_arn: str | None

    @classmethod
    def from_context(cls, get: Any) -> AccountSettings:
        """Build from a ``node.try_get_context``-like getter; empty strings mean unset."""
        repository = str(get("githubRepository") or "").strip() or None
        if repository is not None:
            repository = repository.removeprefix("https://github.com/").removesuffix(".git")
            match = _GITHUB_REPOSITORY.fullmatch(repository)
            if match is None or match["name"] in (".", ".."):
                raise ValueError(
                    "context githubRepository must be the repository as GitHub names it, "
                    f"owner/name (e.g. octo-org/items-api), not {get('githubRepository')!r}"
                )
        provider = str(get("githubOidcProviderArn") or "").strip() or None
        if provider is not None and _OIDC_PROVIDER_ARN.fullmatch(provider) is None:
            raise ValueError(
                "context githubOidcProviderArn must be the ARN of the account's provider for "
                "token.actions.githubusercontent.com (arn:aws:iam::<account>:oidc-provider/"
                f"token.actions.githubusercontent.com), not {provider!r}"
            )
        if provider is not None and repository is None:
            raise ValueError("context githubOidcProviderArn is used only with githubRepository")
        return cls(github_repository=repository, github_oidc_provider_arn=provider)
