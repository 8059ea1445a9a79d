"""Network: a VPC without internet access, reaching DynamoDB and S3 through gateway endpoints."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infrastructure.nag import acknowledge


class Network(Construct):
    """Two AZs of isolated subnets, gateway endpoints, an HTTPS-only SG and flow logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_retention: logs.RetentionDays,
        logs_key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=removal_policy,
        )
        # Isolated subnets only: the function talks to DynamoDB and S3 through gateway endpoints,
        # so there is no NAT gateway to pay for and no route to the internet.
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
            restrict_default_security_group=False,
        )
        self.subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.endpoints = {
            "dynamodb": self.vpc.add_gateway_endpoint(
                "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
            ),
            "s3": self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3),
        }

        self.function_security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="Items API function: HTTPS to the DynamoDB and S3 gateway endpoints only",
            allow_all_outbound=False,
        )
        for service in ("dynamodb", "s3"):
            self.function_security_group.add_egress_rule(
                ec2.Peer.prefix_list(self._prefix_list_id(service)),
                ec2.Port.tcp(443),
                f"HTTPS to the {service} gateway endpoint",
            )

    def admit_only(self, statements: Iterable[iam.PolicyStatement]) -> None:
        """Let each gateway endpoint carry exactly these calls (to this stack's resources).

        Without a policy a gateway endpoint admits any call to any table or bucket, in any
        account; with one, code in the VPC reaches nothing the functions are not meant to.
        """
        for statement in statements:
            service = {action.split(":", 1)[0] for action in statement.actions}
            if len(service) != 1 or not service <= self.endpoints.keys():
                continue  # a service reached without these endpoints (logs, X-Ray, EC2, SQS)
            self.endpoints[service.pop()].add_to_policy(
                iam.PolicyStatement(
                    actions=statement.actions,
                    resources=statement.resources,
                    conditions=statement.conditions or None,
                    # Endpoint policies name a principal; the callers' roles still apply.
                    principals=[iam.AnyPrincipal()],
                )
            )

    def _prefix_list_id(self, service: str) -> str:
        """The AWS-managed prefix list of a gateway endpoint service in this region.

        CloudFormation exposes no attribute for it and a context lookup would need credentials at
        synth time, so it is read at deploy time.
        """
        name = f"com.amazonaws.{Aws.REGION}.{service}"
        lookup = cr.AwsCustomResource(
            self,
            f"{service.capitalize()}PrefixList",
            on_update=cr.AwsSdkCall(
                service="EC2",
                action="describeManagedPrefixLists",
                parameters={"Filters": [{"Name": "prefix-list-name", "Values": [name]}]},
                physical_resource_id=cr.PhysicalResourceId.of(f"{service}-prefix-list"),
                output_paths=["PrefixLists.0.PrefixListId"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["ec2:DescribeManagedPrefixLists"],
                        # Describe* calls do not support resource-level permissions.
                        resources=["*"],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
        )
        acknowledge(
            lookup,
            {
                "AwsSolutions-IAM5[Resource::*]": (
                    "ec2:DescribeManagedPrefixLists supports no resource-level permissions"
                )
            },
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")
