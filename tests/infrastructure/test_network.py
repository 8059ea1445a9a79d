"""Network: isolated subnets, gateway endpoints, an HTTPS-only security group, flow logs."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infrastructure.conftest import Synthesized


def test_vpc_has_two_isolated_subnets_and_no_route_to_the_internet(dev: Synthesized) -> None:
    dev.template.resource_count_is("AWS::EC2::VPC", 1)
    subnets = dev.resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(not s["Properties"].get("MapPublicIpOnLaunch", False) for s in subnets.values())
    azs = {str(s["Properties"]["AvailabilityZone"]) for s in subnets.values()}
    assert len(azs) == 2
    dev.template.resource_count_is("AWS::EC2::NatGateway", 0)
    dev.template.resource_count_is("AWS::EC2::InternetGateway", 0)


def test_gateway_endpoints_for_dynamodb_and_s3(dev: Synthesized) -> None:
    endpoints = dev.resources("AWS::EC2::VPCEndpoint")
    assert len(endpoints) == 2
    services = set()
    for endpoint in endpoints.values():
        props = endpoint["Properties"]
        assert props["VpcEndpointType"] == "Gateway"
        assert len(props["RouteTableIds"]) == 2
        services.add(str(props["ServiceName"]).rsplit(".", 1)[-1].strip("'\"]}"))
    assert services == {"dynamodb", "s3"}


def test_function_security_group_allows_only_https_to_the_endpoint_prefix_lists(
    dev: Synthesized,
) -> None:
    fn = dev.function()
    sg_ids = fn["Properties"]["VpcConfig"]["SecurityGroupIds"]
    assert len(sg_ids) == 1
    sg_logical_id = sg_ids[0]["Fn::GetAtt"][0]
    group = dev.json["Resources"][sg_logical_id]["Properties"]
    # No inline egress other than CDK's "disallow all" placeholder.
    for rule in group.get("SecurityGroupEgress", []):
        assert rule["CidrIp"] == "255.255.255.255/32"
    assert not group.get("SecurityGroupIngress")
    egress = [
        r["Properties"]
        for r in dev.resources("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [sg_logical_id, "GroupId"]}
    ]
    assert len(egress) == 2
    for rule in egress:
        assert rule["IpProtocol"] == "tcp"
        assert rule["FromPort"] == rule["ToPort"] == 443
        assert "DestinationPrefixListId" in rule
        assert "CidrIp" not in rule
    # The prefix lists are looked up at deploy time by name, one per gateway service.
    lookups = [str(r["Properties"]["Create"]) for r in dev.resources("Custom::AWS").values()]
    assert any("dynamodb" in text for text in lookups)
    assert any(".s3" in text for text in lookups)


def test_vpc_flow_logs_capture_all_traffic_to_an_encrypted_log_group(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"},
    )
    flow = dev.only("AWS::EC2::FlowLog")["Properties"]
    group = dev.json["Resources"][flow["LogGroupName"]["Ref"]]["Properties"]
    assert group["RetentionInDays"] == dev.context["logRetentionDays"]
    assert "KmsKeyId" in group
    dev.template.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value()})


def _refs(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and not str(inner).startswith("AWS::"):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0])
            else:
                found |= _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _refs(inner)
    return found


def test_gateway_endpoints_admit_only_this_stacks_tables_and_bucket(stage: Synthesized) -> None:
    """Each gateway endpoint has a policy naming only this stack's tables, index and bucket.

    Without a policy a gateway endpoint allows full access to any table or bucket of the
    service, in any account (VPC User Guide, "Control access to VPC endpoints using endpoint
    policies"; gateway endpoints for Amazon S3 and DynamoDB).
    """
    kinds = {"dynamodb": "AWS::DynamoDB::Table", "s3": "AWS::S3::Bucket"}
    endpoints = stage.resources("AWS::EC2::VPCEndpoint").values()
    assert len(endpoints) == 2
    for endpoint in endpoints:
        props = endpoint["Properties"]
        service = str(props["ServiceName"]).rsplit(".", 1)[-1].strip("'\"]}")
        statements = props["PolicyDocument"]["Statement"]
        assert statements
        for statement in statements:
            assert statement["Effect"] == "Allow"
            assert statement["Principal"] == {"AWS": "*"}
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert all(a.startswith(f"{service}:") and "*" not in a for a in actions)
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            for resource in resources:
                named = _refs(resource)
                assert named, f"{service} endpoint admits {resource}"
                for logical_id in named:
                    assert stage.json["Resources"][logical_id]["Type"] == kinds[service]
