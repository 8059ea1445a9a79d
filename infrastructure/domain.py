"""The API's custom domain: regional TLS 1.2 name, base path mapping, optional Route 53 alias."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_route53 as route53
from constructs import Construct

from infrastructure.config import API_STAGE, CustomDomain
from infrastructure.rest_api import RestApi, after_stage


class ApiDomain(Construct):
    """Serves the stage at the root of ``https://<domain>/``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, domain: CustomDomain, rest_api: RestApi
    ) -> None:
        super().__init__(scope, construct_id)
        name = apigw.CfnDomainName(
            self,
            "DomainName",
            domain_name=domain.name,
            regional_certificate_arn=domain.certificate_arn,
            endpoint_configuration=apigw.CfnDomainName.EndpointConfigurationProperty(
                types=["REGIONAL"]
            ),
            security_policy="TLS_1_2",
        )
        mapping = apigw.CfnBasePathMapping(
            self,
            "BasePathMapping",
            domain_name=name.ref,
            rest_api_id=rest_api.api.ref,
            stage=API_STAGE,
        )
        after_stage(mapping)
        if domain.hosted_zone_id:
            route53.CfnRecordSet(
                self,
                "AliasRecord",
                hosted_zone_id=domain.hosted_zone_id,
                name=domain.name,
                type="A",
                alias_target=route53.CfnRecordSet.AliasTargetProperty(
                    dns_name=name.attr_regional_domain_name,
                    hosted_zone_id=name.attr_regional_hosted_zone_id,
                ),
            )
        self.url = f"https://{domain.name}/"
