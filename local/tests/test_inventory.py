"""The tests' own "nothing left" instrument (conftest.tagged): it must see every kind of resource
mec creates for an environment, through both of its independent inventories (the Resource Groups
Tagging API, and plain unfiltered describes filtered by tag here), and nothing of another
environment; an instrument that saw nothing would pass every teardown test."""

from __future__ import annotations

import json

from conftest import client, describe_inventory, tagged, tagging_api_inventory

ENV, OTHER = "inv-lab", "inv-other"


def tags(environment: str, kind: str) -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": "mec:environment", "Value": environment}]}]


def build(endpoint: str, environment: str) -> dict[str, str]:
    """One of each kind mec creates, tagged as mec tags them; their ids by kind."""
    ec2, ssm = client(endpoint, "ec2"), client(endpoint, "ssm")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=tags(environment, "vpc"))["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24", TagSpecifications=tags(environment, "subnet"))["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"{environment}-sg", Description="inventory test", VpcId=vpc,
                                      TagSpecifications=tags(environment, "security-group"))["GroupId"]
    gateway = ec2.create_internet_gateway(TagSpecifications=tags(environment, "internet-gateway"))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc, TagSpecifications=tags(environment, "route-table"))["RouteTable"]["RouteTableId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet,
                                 TagSpecifications=tags(environment, "instance") + tags(environment, "volume"))["Instances"][0]["InstanceId"]
    volume = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    parameter = f"/mec/{environment}/kubeconfig"
    ssm.put_parameter(Name=parameter, Value="x", Type="SecureString", Tags=[{"Key": "mec:environment", "Value": environment}])
    return {"vpc": vpc, "subnet": subnet, "group": group, "gateway": gateway, "table": table, "instance": instance,
            "volume": volume, "parameter": parameter}


def test_both_inventories_see_every_kind_mec_creates_and_nothing_of_another_environment(endpoint):
    mine, other = build(endpoint, ENV), build(endpoint, OTHER)
    # Untagged, but under the environment's path: only the describes (by path) can see it.
    client(endpoint, "ssm").put_parameter(Name=f"/mec/{ENV}/join-token", Value="y", Type="SecureString")
    scheduler = client(endpoint, "scheduler")
    scheduler.create_schedule_group(Name="inv")
    scheduler.create_schedule(Name=f"{ENV}-expiry", GroupName="inv", ScheduleExpression="at(2030-01-01T00:00:00)",
                              FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": "arn:aws:scheduler:::aws-sdk:sfn:startExecution",
                                      "RoleArn": "arn:aws:iam::123456789012:role/inv", "Input": json.dumps({"name": ENV})})

    by_tag = set(tagging_api_inventory(endpoint, ENV))
    by_describe = set(describe_inventory(endpoint, ENV))
    assert set(mine.values()) <= by_tag, set(mine.values()) - by_tag
    assert set(mine.values()) <= by_describe, set(mine.values()) - by_describe
    assert {f"/mec/{ENV}/join-token", f"schedule:inv/{ENV}-expiry"} <= by_describe
    assert not set(other.values()) & set(tagged(endpoint, ENV))

    # A terminated instance is not "left"; everything else is, until deleted.
    ec2 = client(endpoint, "ec2")
    ec2.terminate_instances(InstanceIds=[mine["instance"]])
    left = set(tagged(endpoint, ENV))
    assert mine["instance"] not in left and mine["vpc"] in left
    ec2.delete_route_table(RouteTableId=mine["table"])
    ec2.detach_internet_gateway(InternetGatewayId=mine["gateway"], VpcId=mine["vpc"])
    ec2.delete_internet_gateway(InternetGatewayId=mine["gateway"])
    ec2.delete_security_group(GroupId=mine["group"])
    ec2.delete_subnet(SubnetId=mine["subnet"])
    ec2.delete_vpc(VpcId=mine["vpc"])
    if any(v["VolumeId"] == mine["volume"] for v in ec2.describe_volumes()["Volumes"]):
        ec2.delete_volume(VolumeId=mine["volume"])  # moto keeps it when DeleteOnTermination is off
    client(endpoint, "ssm").delete_parameters(Names=[mine["parameter"], f"/mec/{ENV}/join-token"])
    scheduler.delete_schedule(Name=f"{ENV}-expiry", GroupName="inv")
    assert tagged(endpoint, ENV) == []
    assert set(other.values()) <= set(tagged(endpoint, OTHER))
