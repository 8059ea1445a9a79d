"""The optional IP allowlist: WAF IP sets and a rule that blocks every other address."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

RULE_NAME = "AllowedAddressesOnly"


class IpAllowlist(Construct):
    """One IP set per address version present in ``cidrs`` (an IP set holds one version), and
    ``rule``: block a request whose source address is in none of them. Evaluated first (priority
    0), so a blocked address costs no managed rule or rate count."""

    def __init__(
        self, scope: Construct, construct_id: str, *, api_name: str, cidrs: Sequence[str]
    ) -> None:
        super().__init__(scope, construct_id)
        if not cidrs:
            raise ValueError("an allowlist needs at least one CIDR")
        references: list[wafv2.CfnWebACL.StatementProperty] = []
        self.ip_sets: list[wafv2.CfnIPSet] = []
        for version, label in (("IPV4", "V4"), ("IPV6", "V6")):
            addresses = [cidr for cidr in cidrs if (":" in cidr) == (version == "IPV6")]
            if not addresses:
                continue
            ip_set = wafv2.CfnIPSet(
                self,
                f"Addresses{label}",
                scope="REGIONAL",
                ip_address_version=version,
                addresses=addresses,
                description=f"{api_name}: the {version} networks allowed to call the API",
            )
            self.ip_sets.append(ip_set)
            references.append(
                wafv2.CfnWebACL.StatementProperty(
                    ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(
                        arn=ip_set.attr_arn
                    )
                )
            )
        # An OR statement needs at least two statements.
        allowed = (
            references[0]
            if len(references) == 1
            else wafv2.CfnWebACL.StatementProperty(
                or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=references)
            )
        )
        self.rule = wafv2.CfnWebACL.RuleProperty(
            name=RULE_NAME,
            priority=0,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=allowed)
            ),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=RULE_NAME,
                sampled_requests_enabled=True,
            ),
        )
