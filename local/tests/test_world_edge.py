"""Local Zones and Wavelength Zones in the world's EC2 (world/edge_rules.py): the zones appear as
AWS lists them, opt-in works as ModifyAvailabilityZoneGroup documents it, and what AWS refuses in
an edge zone is refused with AWS's code. One test per rule, then mec's happy path.

The tests share one bare world and run in file order: the first ones see the account before it
opts in, `opted` opts in both groups for the rest (opt-in lasts the world's life, as on AWS).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import test_world_ec2 as ec2_world
from conftest import BINARIES, ROOT

sys.path.insert(0, str(ROOT / "local"))
sys.path.insert(0, str(ROOT / "local" / "moto"))

from world.edge_zones import ZONES  # noqa: E402

pytestmark = pytest.mark.skipif(not BINARIES.exists(), reason=f"no Lambda binaries in {BINARIES}")

AMI = "ami-12c6146b"  # one of moto's default images
WAVELENGTH = "us-east-1-wl1-bos-wlz-1"
WAVELENGTH_2 = "us-east-1-wl1-nyc-wlz-1"
LOCAL_ZONE = "us-east-1-bos-1a"
GROUPS = ("us-east-1-wl1", "us-east-1-bos-1")
ENVIRONMENT_TAG = "mec:environment"


class World(ec2_world.World):
    """The bare world of test_world_ec2 (EC2 client, faults.json, `refused`), with edge helpers."""

    def vpc(self) -> str:
        second = uuid.uuid4().int % 200 + 20
        return self.ec2.create_vpc(CidrBlock=f"10.{second}.0.0/16")["Vpc"]["VpcId"]

    def block(self, vpc_id: str, third: int) -> str:
        vpc = self.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"]
        return vpc.replace(".0.0/16", f".{third}.0/24")

    def subnet(self, vpc_id: str, zone: str, third: int, by_id: bool = False) -> str:
        where = {"AvailabilityZoneId": ZONES[zone].zone_id} if by_id else {"AvailabilityZone": zone}
        return self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=self.block(vpc_id, third), **where)["Subnet"]["SubnetId"]

    def group(self, vpc_id: str) -> str:
        return self.ec2.create_security_group(GroupName=f"g-{uuid.uuid4().hex[:8]}", Description="edge",
                                              VpcId=vpc_id)["GroupId"]

    def wavelength_launch(self, subnet_id: str, group_id: str, instance_type: str = "t3.medium",
                          volume_type: str = "gp2", **extra: Any) -> dict[str, Any]:
        """What mec sends for a Wavelength node: the subnet and groups on the network interface,
        with a carrier IP."""
        return self.ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=instance_type,
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet_id, "Groups": [group_id],
                                "AssociateCarrierIpAddress": True, "DeleteOnTermination": True}],
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1",
                                  "Ebs": {"VolumeSize": 30, "VolumeType": volume_type, "DeleteOnTermination": True}}],
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": ENVIRONMENT_TAG, "Value": "edge"}]}],
            **extra)["Instances"][0]


@pytest.fixture()
def world(bare_world) -> Iterator[World]:
    endpoint, state = bare_world
    yield World(endpoint, state)
    (state / "faults.json").unlink(missing_ok=True)


@pytest.fixture()
def opted(world: World) -> World:
    """Both edge zone groups opted in (idempotent: every test may ask)."""
    for group in GROUPS:
        assert world.ec2.modify_availability_zone_group(GroupName=group, OptInStatus="opted-in")["Return"] is True
    return world


def zone_names(answer: dict[str, Any]) -> list[str]:
    return [z["ZoneName"] for z in answer["AvailabilityZones"]]


# --- before opt-in --------------------------------------------------------------------------------

def test_edge_zones_are_listed_with_all_availability_zones_only(world: World) -> None:
    default = world.ec2.describe_availability_zones()
    assert not set(zone_names(default)) & set(ZONES)
    regional = default["AvailabilityZones"][0]
    assert (regional["OptInStatus"], regional["GroupName"], regional["NetworkBorderGroup"]) == \
        ("opt-in-not-required", "us-east-1-zg-1", "us-east-1")
    every = {z["ZoneName"]: z for z in world.ec2.describe_availability_zones(AllAvailabilityZones=True)["AvailabilityZones"]}
    wavelength = every[WAVELENGTH]
    assert wavelength == {**wavelength, "ZoneType": "wavelength-zone", "GroupName": "us-east-1-wl1",
                          "ZoneId": ZONES[WAVELENGTH].zone_id, "ParentZoneName": "us-east-1a",
                          "NetworkBorderGroup": WAVELENGTH, "RegionName": "us-east-1", "State": "available",
                          "OptInStatus": "not-opted-in"}
    assert wavelength["ParentZoneId"] == every["us-east-1a"]["ZoneId"]
    assert every[LOCAL_ZONE]["ZoneType"] == "local-zone"
    # Naming or filtering does not list a zone not opted in without AllAvailabilityZones.
    assert zone_names(world.ec2.describe_availability_zones(ZoneNames=[WAVELENGTH])) == []
    filtered = world.ec2.describe_availability_zones(AllAvailabilityZones=True, Filters=[
        {"Name": "group-name", "Values": ["us-east-1-wl1"]}, {"Name": "opt-in-status", "Values": ["not-opted-in"]}])
    assert sorted(zone_names(filtered)) == [WAVELENGTH, WAVELENGTH_2]


def test_unknown_zone_names_and_filters_are_refused(world: World) -> None:
    for name in ("us-west-2-lax-1a", "us-east-1-wl1-bos-wlz-9"):
        assert world.refused(world.ec2.describe_availability_zones, ZoneNames=[name]) == \
            ("InvalidParameterValue", f"Invalid availability zone: [{name}]")
    assert world.refused(world.ec2.describe_availability_zones, ZoneIds=["usw2-lax1-az1"]) == \
        ("InvalidParameterValue", "Invalid availability zone-id: [usw2-lax1-az1]")
    assert world.refused(world.ec2.describe_availability_zones, Filters=[{"Name": "network-border-group", "Values": ["x"]}]) \
        == ("InvalidParameterValue", "The filter 'network-border-group' is invalid")
    world.set(lenient=["edge-zone-unknown"])
    assert zone_names(world.ec2.describe_availability_zones(ZoneNames=["us-west-2-lax-1a"])) == []


def test_subnet_in_a_zone_not_opted_in_is_refused(world: World) -> None:
    vpc_id = world.vpc()
    for where, field in (({"AvailabilityZone": WAVELENGTH}, "availabilityZone"),
                         ({"AvailabilityZoneId": ZONES[LOCAL_ZONE].zone_id}, "availabilityZoneId"),
                         ({"AvailabilityZone": "us-west-2a"}, "availabilityZone")):
        code, message = world.refused(world.ec2.create_subnet, VpcId=vpc_id, CidrBlock=world.block(vpc_id, 1), **where)
        assert code == "InvalidParameterValue"
        assert message.startswith(f"Value ({next(iter(where.values()))}) for parameter {field} is invalid. "
                                  "Subnets can currently only be created in the following availability zones: us-east-1a")
        assert WAVELENGTH not in message.split("following availability zones:")[1]


def test_no_instance_type_offerings_before_opt_in(world: World) -> None:
    offered = world.ec2.describe_instance_type_offerings(
        LocationType="availability-zone", Filters=[{"Name": "location", "Values": [WAVELENGTH]}])
    assert offered["InstanceTypeOfferings"] == []


def test_zone_group_opt_in_rules(world: World) -> None:
    assert world.refused(world.ec2.modify_availability_zone_group, GroupName="us-west-2-lax-1",
                         OptInStatus="opted-in")[0] == "InvalidParameterValue"
    assert world.refused(world.ec2.modify_availability_zone_group, GroupName="us-east-1-wl1",
                         OptInStatus="not-opted-in")[0] == "InvalidParameterValue"


# --- opt-in and after -----------------------------------------------------------------------------

def test_opt_in_opts_every_zone_of_the_group_in(opted: World) -> None:
    # Twice: idempotent.
    assert opted.ec2.modify_availability_zone_group(GroupName="us-east-1-wl1", OptInStatus="opted-in")["Return"] is True
    listed = {z["ZoneName"]: z for z in opted.ec2.describe_availability_zones()["AvailabilityZones"]}
    for zone in ZONES:
        assert listed[zone]["OptInStatus"] == "opted-in"
    assert zone_names(opted.ec2.describe_availability_zones(ZoneNames=[LOCAL_ZONE])) == [LOCAL_ZONE]


def test_edge_zones_offer_exactly_their_instance_types(opted: World) -> None:
    for zone, edge in ZONES.items():
        for location_type, location in (("availability-zone", zone), ("availability-zone-id", edge.zone_id)):
            offered = opted.ec2.describe_instance_type_offerings(
                LocationType=location_type, Filters=[{"Name": "location", "Values": [location]}])["InstanceTypeOfferings"]
            assert sorted(o["InstanceType"] for o in offered) == sorted(edge.instance_types)
            assert {(o["Location"], o["LocationType"]) for o in offered} == {(location, location_type)}
    t3 = opted.ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=[
        {"Name": "instance-type", "Values": ["t3.medium"]}])["InstanceTypeOfferings"]
    where = {o["Location"] for o in t3}
    assert {WAVELENGTH, WAVELENGTH_2, "us-east-1a"} <= where and LOCAL_ZONE not in where


def test_instance_type_the_zone_lacks_is_unsupported(opted: World) -> None:
    vpc_id = opted.vpc()
    wavelength, local = opted.subnet(vpc_id, WAVELENGTH, 1), opted.subnet(vpc_id, LOCAL_ZONE, 2)
    group = opted.group(vpc_id)
    code, message = opted.refused(opted.wavelength_launch, subnet_id=wavelength, group_id=group, instance_type="t4g.medium")
    assert code == "Unsupported"
    assert message.startswith(f"Your requested instance type (t4g.medium) is not supported in your requested "
                              f"Availability Zone ({WAVELENGTH}). Please retry your request by not specifying an "
                              "Availability Zone or choosing ")
    # The Local Zone lacks t3.medium; its subnet given as SubnetId.
    code, message = opted.refused(opted.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.medium",
                                  SubnetId=local, SecurityGroupIds=[group])
    assert code == "Unsupported" and f"({LOCAL_ZONE})" in message and WAVELENGTH in message
    opted.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.xlarge", SubnetId=local,
                            SecurityGroupIds=[group])
    opted.set(lenient=["edge-instance-type"])
    opted.wavelength_launch(wavelength, group, instance_type="t4g.medium")


def test_volume_type_the_zone_lacks_is_unsupported(opted: World) -> None:
    vpc_id = opted.vpc()
    subnet, group = opted.subnet(vpc_id, WAVELENGTH, 1), opted.group(vpc_id)
    assert opted.refused(opted.wavelength_launch, subnet_id=subnet, group_id=group, volume_type="gp3") == \
        ("Unsupported", "The requested configuration is currently not supported. "
                        "Please check the documentation for supported configurations.")


def test_spot_in_a_zone_without_spot_is_unsupported(opted: World) -> None:
    vpc_id = opted.vpc()
    subnet, group = opted.subnet(vpc_id, WAVELENGTH, 1), opted.group(vpc_id)
    code, _ = opted.refused(opted.wavelength_launch, subnet_id=subnet, group_id=group,
                            InstanceMarketOptions={"MarketType": "spot"})
    assert code == "Unsupported"


def test_no_public_ipv4_in_a_wavelength_subnet(opted: World) -> None:
    vpc_id = opted.vpc()
    wavelength, local = opted.subnet(vpc_id, WAVELENGTH, 1), opted.subnet(vpc_id, LOCAL_ZONE, 2)
    assert opted.refused(opted.ec2.modify_subnet_attribute, SubnetId=wavelength,
                         MapPublicIpOnLaunch={"Value": True})[0] == "InvalidParameterValue"
    opted.ec2.modify_subnet_attribute(SubnetId=local, MapPublicIpOnLaunch={"Value": True})
    group = opted.group(vpc_id)
    code, _ = opted.refused(opted.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.medium",
                            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": wavelength, "Groups": [group],
                                                "AssociatePublicIpAddress": True}])
    assert code == "InvalidParameterValue"


def test_one_carrier_gateway_per_vpc(opted: World) -> None:
    vpc_id = opted.vpc()
    opted.ec2.create_carrier_gateway(VpcId=vpc_id)
    assert opted.refused(opted.ec2.create_carrier_gateway, VpcId=vpc_id)[0] == "ResourceLimitExceeded"


def test_deleting_a_routed_carrier_gateway_leaves_a_blackhole_and_the_vpc_waits_for_it(opted: World) -> None:
    vpc_id = opted.vpc()
    gateway = opted.ec2.create_carrier_gateway(VpcId=vpc_id)["CarrierGateway"]["CarrierGatewayId"]
    table = opted.ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    opted.ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", CarrierGatewayId=gateway)
    assert opted.refused(opted.ec2.delete_vpc, VpcId=vpc_id) == \
        ("DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    opted.ec2.delete_carrier_gateway(CarrierGatewayId=gateway)
    routes = opted.ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert [(r.get("CarrierGatewayId"), r["State"]) for r in routes if r["DestinationCidrBlock"] == "0.0.0.0/0"] == \
        [(gateway, "blackhole")]
    opted.ec2.delete_route_table(RouteTableId=table)
    opted.ec2.delete_vpc(VpcId=vpc_id)


# --- mec's path ---------------------------------------------------------------------------------------

def test_happy_path_subnets_carrier_gateway_route_and_a_wavelength_node(opted: World) -> None:
    environment = f"edge-{uuid.uuid4().hex[:6]}"
    tags = [{"Key": ENVIRONMENT_TAG, "Value": environment}]
    vpc_id = opted.vpc()
    subnets = {zone: opted.subnet(vpc_id, zone, k + 1, by_id=k % 2 == 1) for k, zone in enumerate(ZONES)}
    described = opted.ec2.describe_subnets(SubnetIds=list(subnets.values()))["Subnets"]
    assert {s["SubnetId"]: (s["AvailabilityZone"], s["AvailabilityZoneId"], s["MapPublicIpOnLaunch"]) for s in described} \
        == {subnets[z]: (z, ZONES[z].zone_id, False) for z in ZONES}
    gateway = opted.ec2.create_carrier_gateway(VpcId=vpc_id, TagSpecifications=[
        {"ResourceType": "carrier-gateway", "Tags": tags}])["CarrierGateway"]["CarrierGatewayId"]
    found = opted.ec2.describe_carrier_gateways(Filters=[{"Name": f"tag:{ENVIRONMENT_TAG}", "Values": [environment]}])
    assert [(g["CarrierGatewayId"], g["VpcId"], g["State"]) for g in found["CarrierGateways"]] == [(gateway, vpc_id, "available")]
    assert opted.ec2.describe_carrier_gateways(Filters=[
        {"Name": f"tag:{ENVIRONMENT_TAG}", "Values": ["someone-else"]}])["CarrierGateways"] == []
    table = opted.ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    opted.ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", CarrierGatewayId=gateway)
    opted.ec2.associate_route_table(RouteTableId=table, SubnetId=subnets[WAVELENGTH])
    routes = opted.ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "CarrierGatewayId": gateway, "State": "active"}.items() <= \
        next(r for r in routes if r["DestinationCidrBlock"] == "0.0.0.0/0").items()

    instance = opted.wavelength_launch(subnets[WAVELENGTH], opted.group(vpc_id))
    assert instance["Placement"]["AvailabilityZone"] == WAVELENGTH
    seen = opted.ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    carrier = seen["NetworkInterfaces"][0]["Association"]["CarrierIp"]
    assert seen["PublicIpAddress"] == carrier
    assert "PublicIp" not in seen["NetworkInterfaces"][0]["Association"]
    opted.ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    opted.ec2.delete_carrier_gateway(CarrierGatewayId=gateway)
    assert opted.ec2.describe_carrier_gateways(CarrierGatewayIds=[gateway])["CarrierGateways"] == []


# --- IAM map (world/iam/operations.py) ----------------------------------------------------------------

def test_iam_map_knows_the_edge_operations() -> None:
    from world.iam import operations

    def checks(operation: str, **params: Any) -> list[tuple[str, str]]:
        found = operations.checks_for(operations.Call("ec2", operation, params, "123456789012", "us-east-1"))
        assert found is not None, operation
        return [(c.action, c.resource) for c in found]

    arn = "arn:aws:ec2:us-east-1:123456789012:"
    assert checks("ModifyAvailabilityZoneGroup", GroupName="us-east-1-wl1", OptInStatus="opted-in") == \
        [("ec2:ModifyAvailabilityZoneGroup", "*")]
    assert checks("DescribeAvailabilityZones") == [("ec2:DescribeAvailabilityZones", "*")]
    assert checks("DescribeCarrierGateways") == [("ec2:DescribeCarrierGateways", "*")]
    assert checks("CreateCarrierGateway", VpcId="vpc-1", TagSpecifications=[
        {"ResourceType": "carrier-gateway", "Tags": [{"Key": ENVIRONMENT_TAG, "Value": "e"}]}]) == [
        ("ec2:CreateCarrierGateway", f"{arn}carrier-gateway/*"), ("ec2:CreateCarrierGateway", f"{arn}vpc/vpc-1"),
        ("ec2:CreateTags", f"{arn}carrier-gateway/*")]
    assert checks("DeleteCarrierGateway", CarrierGatewayId="cagw-1") == \
        [("ec2:DeleteCarrierGateway", f"{arn}carrier-gateway/cagw-1")]
