"""The world's EC2 is as strict as AWS: in its requests (world/ec2_rules.py) and in time
(world/ec2_time.py). For each rule: the wrong thing gets AWS's refusal (code and message), the right
thing passes, and faults.json `"lenient"` switches the rule off.

Tests send what the SDKs send (botocore's client-side validation off where it would refuse before
the world sees the call: the Rust SDK mec uses validates no ranges).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.config
import botocore.exceptions
import pytest

from conftest import BINARIES, client

pytestmark = pytest.mark.skipif(not BINARIES.exists(), reason=f"no Lambda binaries in {BINARIES}")

RAW = botocore.config.Config(parameter_validation=False, retries={"total_max_attempts": 1})
AMI = "ami-12c6146b"  # one of moto's default images
ALLOWED = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
# What mec's network step sends today (functions/network/src/lib.rs, to_permission).
MEC_RULE_DESCRIPTION = "MicroK8s traffic between the cluster's nodes"


class World:
    """The bare world's EC2 client and faults.json, for one test."""

    def __init__(self, endpoint: str, state: Path) -> None:
        self.endpoint = endpoint
        self.state = state
        self.ec2 = client(endpoint, "ec2", config=RAW)
        self.set()

    def set(self, **values: Any) -> None:
        """faults.json = values; consistency off unless asked (its tests ask)."""
        (self.state / "faults.json").write_text(json.dumps({"consistency_seconds": 0, **values}))

    def refused(self, call: Any, **params: Any) -> tuple[str, str]:
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            call(**params)
        error = refused.value.response["Error"]
        return error["Code"], error["Message"]

    def vpc(self, cidr: str = "10.20.0.0/16") -> str:
        return self.ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]

    def subnet(self, vpc_id: str, cidr: str, public: bool = False) -> str:
        subnet_id = self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
        if public:
            self.ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
        return subnet_id

    def group(self, vpc_id: str, name: str | None = None) -> str:
        return self.ec2.create_security_group(GroupName=name or f"g-{uuid.uuid4().hex[:8]}", Description="test group",
                                              VpcId=vpc_id)["GroupId"]

    def launch(self, subnet_id: str, group_id: str, **extra: Any) -> str:
        return self.ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet_id, SecurityGroupIds=[group_id],
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 30, "DeleteOnTermination": True}}],
            **extra)["Instances"][0]["InstanceId"]

    def state_of(self, instance_id: str) -> str:
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]

    def volumes_of(self, instance_id: str) -> list[str]:
        found = self.ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])
        return [v["VolumeId"] for v in found["Volumes"]]

    def volume_state(self, volume_id: str) -> str:
        return self.ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture()
def world(bare_world) -> Iterator[World]:
    endpoint, state = bare_world
    yield World(endpoint, state)
    (state / "faults.json").unlink(missing_ok=True)


def network(world: World, public: bool = True) -> tuple[str, str, str]:
    """A VPC (a block of its own), a subnet and a group."""
    second = uuid.uuid4().int % 200 + 20
    vpc_id = world.vpc(f"10.{second}.0.0/16")
    return vpc_id, world.subnet(vpc_id, f"10.{second}.0.0/24", public=public), world.group(vpc_id)


# --- request constraints (world/ec2_rules.py) ---------------------------------------------------

def test_mecs_rule_description_is_refused_as_aws_does(world: World) -> None:
    vpc_id, _, group_id = network(world)
    permission = {"IpProtocol": "tcp", "FromPort": 25000, "ToPort": 25000}
    code, message = world.refused(world.ec2.authorize_security_group_ingress, GroupId=group_id, IpPermissions=[
        {**permission, "UserIdGroupPairs": [{"GroupId": group_id, "Description": MEC_RULE_DESCRIPTION}]}])
    assert code == "InvalidParameterValue"
    assert message == ("Invalid rule description. Valid descriptions are strings less than 256 characters from "
                       f"the following set:  {ALLOWED}")
    for ranges in ({"IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "caf\u00e9"}]},
                   {"IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "x" * 256}]},
                   {"Ipv6Ranges": [{"CidrIpv6": "2001:db8::/64", "Description": "it's"}]}):
        assert world.refused(world.ec2.authorize_security_group_ingress, GroupId=group_id,
                             IpPermissions=[{**permission, **ranges}])[0] == "InvalidParameterValue"
    # Every allowed character, 255 of them: accepted.
    fine = ("MicroK8s traffic between the cluster nodes ._-:/()#,@[]+=&;{}!$*" * 4)[:255]
    world.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {**permission, "UserIdGroupPairs": [{"GroupId": group_id, "Description": fine}],
         "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "Kubernetes API for operators"}]}])


def test_lenient_switches_a_rule_off(world: World) -> None:
    _, _, group_id = network(world)
    world.set(lenient=["sg-rule-description"])
    world.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
         "UserIdGroupPairs": [{"GroupId": group_id, "Description": MEC_RULE_DESCRIPTION}]}])


def test_security_group_names_and_descriptions(world: World) -> None:
    vpc_id, _, _ = network(world)
    create = world.ec2.create_security_group
    assert world.refused(create, GroupName="sg-cluster", Description="d", VpcId=vpc_id) == (
        "InvalidParameterValue", "Value (sg-cluster) for parameter GroupName is invalid. Group names may not be in the format sg-*.")
    assert world.refused(create, GroupName="gr\u00fcn", Description="d", VpcId=vpc_id) == (
        "InvalidParameterValue", "Value (gr\u00fcn) for parameter GroupName is invalid. Character sets beyond ASCII are not supported.")
    assert world.refused(create, GroupName="a?b", Description="d", VpcId=vpc_id)[0] == "InvalidParameterValue"
    assert world.refused(create, GroupName="x" * 256, Description="d", VpcId=vpc_id)[0] == "InvalidParameterValue"
    assert world.refused(create, GroupName="default", Description="d", VpcId=vpc_id)[0] == "InvalidGroup.Reserved"
    assert world.refused(create, GroupName="ok-1", Description="nodes \u2014 all", VpcId=vpc_id) == (
        "InvalidParameterValue", "Value (nodes \u2014 all) for parameter GroupDescription is invalid. Character sets beyond ASCII are not supported.")
    assert world.refused(create, GroupName="ok-1", Description="the cluster's nodes", VpcId=vpc_id) == (
        "InvalidParameterValue", "Invalid security group description. Valid descriptions are strings less than 256 characters "
        f"from the following set:  {ALLOWED}")
    # What mec sends (functions/network/src/lib.rs): accepted.
    create(GroupName="mec-lab-1-cluster", Description="mec MicroK8s cluster nodes", VpcId=vpc_id)


def test_tags(world: World) -> None:
    vpc_id = world.vpc("10.9.0.0/16")
    tag = world.ec2.create_tags
    assert world.refused(tag, Resources=[vpc_id], Tags=[{"Key": "aws:owner", "Value": "x"}]) == (
        "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
    assert world.refused(tag, Resources=[vpc_id], Tags=[{"Key": "AWS:owner", "Value": "x"}])[0] == "InvalidParameterValue"
    assert world.refused(tag, Resources=[vpc_id], Tags=[{"Key": "k" * 129, "Value": "x"}]) == (
        "InvalidParameterValue", "Tag key exceeds the maximum length of 128 characters")
    assert world.refused(tag, Resources=[vpc_id], Tags=[{"Key": "k", "Value": "v" * 257}]) == (
        "InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters")
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert world.refused(tag, Resources=[vpc_id], Tags=many)[0] == "TagLimitExceeded"
    # On create too (TagSpecifications), for every resource type.
    spec = [{"ResourceType": "vpc", "Tags": [{"Key": "aws:cloudformation:stack-name", "Value": "x"}]}]
    assert world.refused(world.ec2.create_vpc, CidrBlock="10.8.0.0/16", TagSpecifications=spec)[0] == "InvalidParameterValue"
    spec = [{"ResourceType": "vpc", "Tags": many}]
    assert world.refused(world.ec2.create_vpc, CidrBlock="10.8.0.0/16", TagSpecifications=spec)[0] == "TagLimitExceeded"
    # The limits themselves pass; mec's own keys (mec:environment...) are not reserved.
    tag(Resources=[vpc_id], Tags=[{"Key": "k" * 128, "Value": "v" * 256}, {"Key": "mec:environment", "Value": "lab-1"}])
    tag(Resources=[world.vpc("10.7.0.0/16")], Tags=many[:50])


def test_client_token_length(world: World) -> None:
    _, subnet_id, group_id = network(world)
    code, message = world.refused(world.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet_id,
                                  ClientToken="t" * 65)
    assert code == "InvalidParameterValue" and "clientToken" in message
    assert world.refused(world.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet_id,
                         ClientToken="t\u00e9")[0] == "InvalidParameterValue"
    world.launch(subnet_id, group_id, ClientToken="t" * 64)


def test_subnet_blocks(world: World) -> None:
    vpc_id = world.vpc("10.30.0.0/16")
    assert world.refused(world.ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.30.0.0/29") == (
        "InvalidSubnet.Range", "The CIDR '10.30.0.0/29' is invalid.")
    # moto's own checks, with AWS's codes: outside the VPC, overlapping another subnet.
    assert world.refused(world.ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.31.0.0/24")[0] == "InvalidSubnet.Range"
    world.ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.30.0.0/28")
    assert world.refused(world.ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.30.0.0/24")[0] == "InvalidSubnet.Conflict"
    world.ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.30.16.0/20")


def test_max_results(world: World) -> None:
    code, message = world.refused(world.ec2.describe_route_tables, MaxResults=101)
    assert (code, message) == ("InvalidParameterValue",
                               "Value ( 101 ) for parameter MaxResults is invalid. Expecting a value smaller than or equal to 100.")
    assert world.refused(world.ec2.describe_vpcs, MaxResults=4) == (
        "InvalidParameterValue", "Value ( 4 ) for parameter MaxResults is invalid. Expecting a value greater than or equal to 5.")
    assert world.refused(world.ec2.describe_instance_types, MaxResults=101)[0] == "InvalidParameterValue"
    assert world.refused(world.ec2.describe_instances, MaxResults=1001)[0] == "InvalidParameterValue"
    assert world.refused(world.ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"], MaxResults=5) == (
        "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
    world.ec2.describe_route_tables(MaxResults=100)
    world.ec2.describe_vpcs(MaxResults=5)
    world.ec2.describe_instance_type_offerings(MaxResults=1000)
    world.ec2.describe_volumes(MaxResults=5000)  # above the range: fewer items, not a refusal


def test_list_lengths(world: World) -> None:
    many = [f"t{i}.micro" for i in range(101)]
    assert world.refused(world.ec2.describe_instance_types, InstanceTypes=many)[0] == "InvalidParameterValue"
    assert world.refused(world.ec2.create_tags, Resources=[f"vpc-{i:08x}" for i in range(1001)],
                         Tags=[{"Key": "k", "Value": "v"}])[0] == "InvalidParameterValue"


def test_run_instances_counts(world: World) -> None:
    _, subnet_id, group_id = network(world)
    run = world.ec2.run_instances
    assert world.refused(run, ImageId=AMI, MinCount=3, MaxCount=2, SubnetId=subnet_id)[0] == "InvalidParameterValue"
    assert world.refused(run, ImageId=AMI, MinCount=0, MaxCount=2, SubnetId=subnet_id)[0] == "InvalidParameterValue"
    assert len(run(ImageId=AMI, MinCount=2, MaxCount=2, SubnetId=subnet_id, SecurityGroupIds=[group_id])["Instances"]) == 2


def test_one_attribute_per_call(world: World) -> None:
    vpc_id, subnet_id, _ = network(world)
    code, message = world.refused(world.ec2.modify_vpc_attribute, VpcId=vpc_id, EnableDnsSupport={"Value": True},
                                  EnableDnsHostnames={"Value": True})
    assert code == "InvalidParameterCombination"
    assert message.startswith("Fields for multiple attribute types specified: ")
    assert world.refused(world.ec2.modify_subnet_attribute, SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True},
                         AssignIpv6AddressOnCreation={"Value": False})[0] == "InvalidParameterCombination"
    # As mec does: one attribute per call.
    world.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    world.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})


# --- eventual consistency (world/ec2_time.py) ----------------------------------------------------

def warm(world: World) -> None:
    """A first call of each kind may take a second in a fresh world (moto loads what it needs):
    make those calls once, so that the window is not spent before a test's call arrives."""
    vpc_id, subnet_id, group_id = network(world)
    world.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    world.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}])
    instance_id = world.launch(subnet_id, group_id)
    world.ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "warm", "Value": "1"}])
    world.ec2.describe_instances(InstanceIds=[instance_id])
    world.ec2.describe_vpcs(VpcIds=[vpc_id])


def test_new_ids_are_not_found_for_a_while(world: World) -> None:
    warm(world)
    world.set(consistency_seconds=2.0)
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": "mec:environment", "Value": "consistency"}]}]
    vpc_id = world.ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=tags)["Vpc"]["VpcId"]
    assert world.refused(world.ec2.modify_vpc_attribute, VpcId=vpc_id, EnableDnsSupport={"Value": True}) == (
        "InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")
    assert world.refused(world.ec2.describe_vpcs, VpcIds=[vpc_id])[0] == "InvalidVpcID.NotFound"
    assert world.refused(world.ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.40.0.0/24")[0] == "InvalidVpcID.NotFound"
    # A lookup by tag does not list it yet either (a step retried too soon creates it twice).
    by_tag = [{"Name": "tag:mec:environment", "Values": ["consistency"]}]
    assert world.ec2.describe_vpcs(Filters=by_tag)["Vpcs"] == []
    time.sleep(2.0)
    world.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    assert [v["VpcId"] for v in world.ec2.describe_vpcs(Filters=by_tag)["Vpcs"]] == [vpc_id]


def test_every_kind_of_new_id(world: World) -> None:
    warm(world)
    vpc_id, subnet_id, group_id = network(world)
    time.sleep(1.5)  # these are old enough; what follows is new
    world.set(consistency_seconds=1.5)
    group = world.group(vpc_id)
    assert world.refused(world.ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}]) == (
        "InvalidGroup.NotFound", f"The security group '{group}' does not exist")
    gateway = world.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert world.refused(world.ec2.attach_internet_gateway, InternetGatewayId=gateway, VpcId=vpc_id) == (
        "InvalidInternetGatewayID.NotFound", f"The internetGateway ID '{gateway}' does not exist")
    table = world.ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    assert world.refused(world.ec2.associate_route_table, RouteTableId=table, SubnetId=subnet_id) == (
        "InvalidRouteTableID.NotFound", f"The routeTable ID '{table}' does not exist")
    subnet = world.ec2.create_subnet(VpcId=vpc_id, CidrBlock=world.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
                                     ["CidrBlock"].replace(".0.0/16", ".1.0/24"))["Subnet"]["SubnetId"]
    assert world.refused(world.ec2.modify_subnet_attribute, SubnetId=subnet, MapPublicIpOnLaunch={"Value": True}) == (
        "InvalidSubnetID.NotFound", f"The subnet ID '{subnet}' does not exist")
    assert world.refused(world.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet)[0] == "InvalidSubnetID.NotFound"
    # RunInstances then CreateTags on its instance: what mec's launch does (tag_index).
    instance_id = world.launch(subnet_id, group_id)
    assert world.refused(world.ec2.create_tags, Resources=[instance_id], Tags=[{"Key": "mec:index", "Value": "0"}]) == (
        "InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
    assert world.refused(world.ec2.terminate_instances, InstanceIds=[instance_id])[0] == "InvalidInstanceID.NotFound"
    assert world.refused(world.ec2.describe_instances, InstanceIds=[instance_id])[0] == "InvalidInstanceID.NotFound"
    assert instance_id not in [i["InstanceId"] for r in world.ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    # Tagging on create (TagSpecifications) is what AWS advises instead.
    world.set(consistency_seconds=0)
    world.ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "mec:index", "Value": "0"}])


def test_the_default_window_is_on(world: World) -> None:
    warm(world)
    (world.state / "faults.json").unlink()
    vpc_id = world.vpc("10.41.0.0/16")
    assert world.refused(world.ec2.modify_vpc_attribute, VpcId=vpc_id, EnableDnsSupport={"Value": True})[0] == "InvalidVpcID.NotFound"
    world.set(lenient=["eventual-consistency"], consistency_seconds=5.0)
    vpc_id = world.vpc("10.42.0.0/16")
    world.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    assert vpc_id not in [v["VpcId"] for v in world.ec2.describe_vpcs()["Vpcs"]]  # filters: another rule
    world.set(lenient=["eventual-consistency-filters"], consistency_seconds=5.0)
    assert vpc_id in [v["VpcId"] for v in world.ec2.describe_vpcs()["Vpcs"]]


# --- instances and volumes in time ---------------------------------------------------------------

def test_instances_boot_then_shut_down_and_their_root_volumes_go(world: World) -> None:
    warm(world)
    _, subnet_id, group_id = network(world)
    # x time_scale 0.01: 2 s pending, 2 s shutting down, 2 s deleting (room for a loaded machine).
    world.set(boot_seconds=200, shutdown_seconds=200, volume_delete_seconds=200, time_scale=0.01)
    instance_id = world.launch(subnet_id, group_id)
    assert world.state_of(instance_id) == "pending"
    wait_for(lambda: world.state_of(instance_id) == "running", timeout=5)
    (volume_id,) = world.volumes_of(instance_id)
    assert world.volume_state(volume_id) == "in-use"

    answer = world.ec2.terminate_instances(InstanceIds=[instance_id])["TerminatingInstances"][0]
    assert (answer["PreviousState"]["Name"], answer["CurrentState"]["Name"]) == ("running", "shutting-down")
    assert world.state_of(instance_id) == "shutting-down"
    # Terminating again is idempotent: still shutting down, the clock not reset.
    world.ec2.terminate_instances(InstanceIds=[instance_id])
    assert world.volume_state(volume_id) == "in-use"
    assert world.refused(world.ec2.delete_volume, VolumeId=volume_id) == (
        "VolumeInUse", f"Volume {volume_id} is currently attached to {instance_id}")

    wait_for(lambda: world.state_of(instance_id) == "terminated", timeout=5)
    assert world.volume_state(volume_id) == "deleting"
    assert world.refused(world.ec2.delete_volume, VolumeId=volume_id) == ("IncorrectState", f"{volume_id} is not 'available'.")
    wait_for(lambda: volume_id not in [v["VolumeId"] for v in world.ec2.describe_volumes()["Volumes"]], timeout=5)
    assert world.refused(world.ec2.describe_volumes, VolumeIds=[volume_id])[0] == "InvalidVolume.NotFound"
    # A volume without DeleteOnTermination stays, available.
    world.set(shutdown_seconds=0)
    kept = world.ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet_id, SecurityGroupIds=[group_id],
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": False}}])
    kept_id = kept["Instances"][0]["InstanceId"]
    (kept_volume,) = world.volumes_of(kept_id)
    world.ec2.terminate_instances(InstanceIds=[kept_id])
    wait_for(lambda: world.state_of(kept_id) == "terminated")
    assert world.volume_state(kept_volume) == "available"
    world.ec2.delete_volume(VolumeId=kept_volume)


# --- dependencies --------------------------------------------------------------------------------

def test_nothing_is_deleted_under_a_live_instance(world: World) -> None:
    world.set(shutdown_seconds=100, volume_delete_seconds=0, time_scale=0.01)
    vpc_id, subnet_id, group_id = network(world)
    gateway = world.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    world.ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    other = world.group(vpc_id)
    # Another group's rule names this one: it is a dependent too (mec's group names itself: fine).
    world.ec2.authorize_security_group_ingress(GroupId=other, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": group_id}]}])
    world.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": group_id}]}])
    instance_id = world.launch(subnet_id, group_id)
    assert world.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0].get("PublicIpAddress")

    assert world.refused(world.ec2.delete_subnet, SubnetId=subnet_id) == (
        "DependencyViolation", f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
    assert world.refused(world.ec2.delete_security_group, GroupId=group_id) == (
        "DependencyViolation", f"resource {group_id} has a dependent object")
    assert world.refused(world.ec2.detach_internet_gateway, InternetGatewayId=gateway, VpcId=vpc_id) == (
        "DependencyViolation", f"Network {vpc_id} has some mapped public address(es). "
        "Please unmap those public address(es) before detaching the gateway.")
    assert world.refused(world.ec2.delete_internet_gateway, InternetGatewayId=gateway) == (
        "DependencyViolation", f"The internetGateway '{gateway}' has dependencies and cannot be deleted.")
    assert world.refused(world.ec2.delete_vpc, VpcId=vpc_id) == (
        "DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")

    world.ec2.terminate_instances(InstanceIds=[instance_id])
    # Shutting down still holds its interface, address and groups.
    assert world.refused(world.ec2.delete_subnet, SubnetId=subnet_id)[0] == "DependencyViolation"
    assert world.refused(world.ec2.detach_internet_gateway, InternetGatewayId=gateway, VpcId=vpc_id)[0] == "DependencyViolation"
    wait_for(lambda: world.state_of(instance_id) == "terminated", timeout=3)

    # Terminated: in teardown order, everything goes.
    assert world.refused(world.ec2.delete_security_group, GroupId=group_id)[0] == "DependencyViolation"  # other's rule
    world.ec2.delete_security_group(GroupId=other)
    world.ec2.delete_security_group(GroupId=group_id)
    world.ec2.delete_subnet(SubnetId=subnet_id)
    assert world.refused(world.ec2.delete_vpc, VpcId=vpc_id)[0] == "DependencyViolation"  # the gateway
    world.ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    world.ec2.delete_internet_gateway(InternetGatewayId=gateway)
    world.ec2.delete_vpc(VpcId=vpc_id)


def test_a_vpc_with_its_own_route_table_or_group_is_not_deleted(world: World) -> None:
    vpc_id = world.vpc("10.50.0.0/16")
    table = world.ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    group = world.group(vpc_id)
    assert world.refused(world.ec2.delete_vpc, VpcId=vpc_id)[0] == "DependencyViolation"
    world.ec2.delete_route_table(RouteTableId=table)
    assert world.refused(world.ec2.delete_vpc, VpcId=vpc_id)[0] == "DependencyViolation"
    world.ec2.delete_security_group(GroupId=group)
    world.ec2.delete_vpc(VpcId=vpc_id)  # its main table and default group go with it


def test_dependency_rules_can_be_switched_off(world: World) -> None:
    world.set(lenient=["dependency-subnet"], shutdown_seconds=0)
    _, subnet_id, group_id = network(world)
    world.launch(subnet_id, group_id)
    world.ec2.delete_subnet(SubnetId=subnet_id)
