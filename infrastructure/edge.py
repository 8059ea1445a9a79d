"""The API's edge: an API key and usage plan per client, and the WAF web ACL with its logs
(managed rules, a per-IP rate limit and, when asked for, the IP allowlist)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Fn
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infrastructure.allowlist import IpAllowlist
from infrastructure.clients import ApiClients
from infrastructure.config import ApiClient
from infrastructure.rest_api import RestApi, after_stage


class Edge(Construct):
    """Who may call the API and how often: a key and usage plan per client, managed rules, a
    per-IP rate limit, and (``ip_allowlist``) only the listed networks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: RestApi,
        clients: Sequence[ApiClient],
        waf_rate_limit_per_5min: int,
        ip_allowlist: Sequence[str],
        log_options: dict[str, Any],
    ) -> None:
        super().__init__(scope, construct_id)
        self.clients = ApiClients(
            self,
            "Clients",
            api_name=rest_api.api_name,
            rest_api_id=rest_api.api.ref,
            clients=clients,
            after_stage=after_stage,
        )
        self.allowlist = (
            IpAllowlist(self, "Allowlist", api_name=rest_api.api_name, cidrs=ip_allowlist)
            if ip_allowlist
            else None
        )
        self.web_acl = self._web_acl(f"{rest_api.api_name}-waf", waf_rate_limit_per_5min)
        association = wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=rest_api.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        after_stage(association)
        # WAF only logs to groups whose name starts with aws-waf-logs-. The web ACL's generated
        # id makes the name new on every create: a retry after a failed first create (which may
        # keep the group) does not meet an existing one.
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=Fn.join("-", ["aws-waf-logs", rest_api.api_name, self.web_acl.attr_id]),
            **log_options,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[waf_logs.log_group_arn],
        )

    def _web_acl(self, metric_name: str, rate_limit: int) -> wafv2.CfnWebACL:
        """The web ACL; the allowlist's rule, when there is one, comes first (priority 0), so a
        blocked address costs no managed rule or rate count."""

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(name: str, priority: int, **overrides: Any) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name, **overrides
                    )
                ),
                visibility_config=visibility(name),
            )

        first = 1 if self.allowlist else 0
        return wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(metric_name),
            rules=[
                *([self.allowlist.rule] if self.allowlist else []),
                managed(
                    "AWSManagedRulesCommonRuleSet",
                    first,
                    # The API accepts JSON bodies up to 64 KiB; the rule set blocks above 8 KiB.
                    rule_action_overrides=[
                        wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name="SizeRestrictions_BODY",
                            action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                        )
                    ],
                ),
                managed("AWSManagedRulesKnownBadInputsRuleSet", first + 1),
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerIp",
                    priority=first + 2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("RatePerIp"),
                ),
            ],
        )
