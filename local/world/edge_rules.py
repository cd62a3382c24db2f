"""Edge zones in the world's EC2: AWS Local Zones and Wavelength Zones, with AWS's rules for them.

mec places worker nodes in Local Zones and Wavelength Zones; moto knows neither (no edge zone in
its zone list, no opt-in, no ModifyAvailabilityZoneGroup, no carrier IP, every instance type and
volume type everywhere). This module adds the zones of world/edge_zones.py (ZONES) to moto's
us-east-1 and refuses, for every caller and before moto sees the call, what AWS refuses there.
Opt-in state is per account, kept for the server's life. faults.json `"lenient": [names]`
switches a rule off, as for world/ec2_rules.py.

What the world adds (not refusals):
- DescribeAvailabilityZones answers every field of AWS's AvailabilityZone for the edge zones
  (ZoneType local-zone / wavelength-zone, GroupName, ZoneId, ParentZoneName, ParentZoneId,
  NetworkBorderGroup, RegionName, State available, OptInStatus not-opted-in, then opted-in) and,
  for the region's own zones, OptInStatus opt-in-not-required, GroupName us-east-1-zg-1 and
  NetworkBorderGroup us-east-1 (botocore ec2 AvailabilityZone: "For Availability Zones, this
  parameter always has the value of opt-in-not-required"; GroupName example "us-east-1-zg-1").
  A zone of a group not opted in is listed only with AllAvailabilityZones=true (botocore
  DescribeAvailabilityZonesRequest.AllAvailabilityZones: "Include all ... Local Zones, and
  Wavelength Zones regardless of your opt-in status"; Terraform's provider sends
  AllAvailabilityZones=true with every group-name or zone-name lookup, e.g.
  findAvailabilityZoneGroupByName). Filters: every name botocore documents (group-name,
  opt-in-status, parent-zone-name, parent-zone-id, region-name, state, zone-id, zone-name,
  zone-type, group-long-name, message).
- ModifyAvailabilityZoneGroup (moto lacks it): OptInStatus opted-in opts every zone of the group
  in; answers Return=true; idempotent.
- DescribeInstanceTypeOfferings (availability-zone and availability-zone-id): an opted-in edge zone
  offers exactly its `instance_types`; a zone not opted in offers nothing ("The AWS API will not
  return EC2 Instances offering from a zone when its group wasn't yet opted into the account",
  openshift/installer#7137, observed on AWS).
- Carrier IP: an instance launched into a Wavelength subnet with
  NetworkInterface.N.AssociateCarrierIpAddress=true gets one; DescribeInstances shows it as
  NetworkInterfaces[].Association.CarrierIp and as PublicIpAddress (botocore Instance.PublicIpAddress
  "The public IPv4 address, or the Carrier IP address assigned to the instance, if applicable. A
  Carrier IP address only applies to an instance launched in a subnet associated with a Wavelength
  Zone"; InstanceNetworkInterfaceAssociation.CarrierIp). DescribeNetworkInterfaces does not show it.
- DescribeCarrierGateways honours tag:<key>, tag-key and tag-value filters (moto 5.2 ignores them
  and lists every gateway: a teardown by tag would delete another environment's gateway).
- A route whose carrier gateway was deleted shows State blackhole (botocore DeleteCarrierGateway:
  "If you do not delete the route that contains the carrier gateway as the Target, the route is a
  blackhole route"; moto keeps it active).
- A subnet created with AvailabilityZoneId is filed under its zone's name (moto 5.2 files it under
  None), so moto's per-zone bookkeeping holds; a subnet in an edge zone is never its zone's default
  subnet (moto makes the first subnet of any zone DefaultForAz with MapPublicIpOnLaunch true; AWS
  has default subnets only in the default VPC's Availability Zones, VPC User Guide "Default
  subnets").

| rule | what AWS refuses (code) | source |
|---|---|---|
| edge-zone-unknown | DescribeAvailabilityZones ZoneName.N / ZoneId.N naming no zone of the region (a typo, a zone of another region such as us-west-2-lax-1a in us-east-1) (InvalidParameterValue "Invalid availability zone: [x]" / "Invalid availability zone-id: [x]") | message as AWS prints it (openshift/rosa e2e tests "Invalid availability zone: [us-west-2abhd]"; Eucalyptus' AWS-compatible DescribeAvailabilityZones); the zone-id variant only from another emulator's tests (no AWS answer found) |
| edge-zone-filter | DescribeAvailabilityZones with a filter name botocore does not document (InvalidParameterValue "The filter 'x' is invalid") | botocore DescribeAvailabilityZonesRequest.Filters (the list); message only from another emulator's tests (no AWS answer found) |
| zone-group-opt-in | ModifyAvailabilityZoneGroup OptInStatus other than opted-in (InvalidParameterValue) | botocore ModifyAvailabilityZoneGroupRequest.OptInStatus: "The only valid value is opted-in. You must contact Amazon Web Services Support to opt out of a Local Zone or Wavelength Zone group"; code and message: no AWS answer found (EC2's usual shape) |
| zone-group-unknown | ModifyAvailabilityZoneGroup GroupName that is no edge zone group of the region (InvalidParameterValue) | botocore GroupName "The name of the ... Local Zone group, or Wavelength Zone group" ("Use DescribeAvailabilityZones to view the value for GroupName", API reference); code and message: no AWS answer found. Regional AZ groups (us-east-1-zg-1) are refused too: no source says what AWS answers for them |
| subnet-zone-opt-in | CreateSubnet in an edge zone of a group not opted in, or in a zone that is not the region's (AvailabilityZone or AvailabilityZoneId) (InvalidParameterValue "Value (z) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: …") | VPC User Guide "Subnets in AWS Wavelength" ("To use a Wavelength Zone, you must first opt in to the Zone. Next, create a subnet") and "Extend a VPC to a Local Zone" ("Opt in to the Local Zone. Create a subnet in the Local Zone"); message as AWS prints it for a zone where the account cannot create subnets and for another region's zone (hashicorp/terraform#3434, crossplane-contrib/provider-aws#1048); AWS's answer for a not-opted-in edge zone itself was not found |
| edge-instance-type | RunInstances into an edge zone subnet (SubnetId or NetworkInterface.N.SubnetId) with an InstanceType the zone does not offer (Unsupported "Your requested instance type (t) is not supported in your requested Availability Zone (z). Please retry your request by not specifying an Availability Zone or choosing a, b….") | EC2 User Guide / Wavelength Developer Guide "Quotas and considerations" (the zone's instance types, world/edge_zones.py); message as AWS prints it (skyplane-project/skyplane#172, longhorn/longhorn-tests#1130); the zones listed after "choosing" are the world's own pick: the region's zones that offer the type |
| edge-volume-type | RunInstances into an edge zone subnet with BlockDeviceMapping.N.Ebs.VolumeType the zone lacks (gp3 in Wavelength) (Unsupported "The requested configuration is currently not supported. Please check the documentation for supported configurations.") | Wavelength Developer Guide "Quotas and considerations" (EBS: gp2 only); awslabs/amazon-eks-ami#1295 ("gp3 is only available in some AWS Local Zones"); code and message: AWS's generic answer to an unsupported launch configuration (hashicorp/terraform-provider-aws#9113), no answer found for this case |
| edge-spot | RunInstances into an edge zone subnet without Spot with InstanceMarketOptions.MarketType=spot (Unsupported, same generic message) | Wavelength Developer Guide "Quotas and considerations" (Spot Instances not offered); code and message: as edge-volume-type, no answer found for this case |
| wavelength-no-public-ip | ModifySubnetAttribute MapPublicIpOnLaunch=true on a Wavelength subnet, RunInstances NetworkInterface.N.AssociatePublicIpAddress=true into one (InvalidParameterValue) | VPC User Guide "Subnets in AWS Wavelength" (an instance there gets a carrier IP address, the carrier gateway NATs it); hashicorp/terraform-aws-hcp-consul#36 (enabling auto-assign public IPs on a Wavelength subnet fails "every time"); "you cannot assign standard public IPs to resources in Wavelength Zones" (AWS for Solutions Architects, ch. 7); code and message: no AWS answer found |
| carrier-gateway-per-vpc | CreateCarrierGateway in a VPC that already has one (ResourceLimitExceeded) | VPC User Guide "Amazon VPC quotas" (Carrier gateways per VPC: 1, not adjustable); code: EC2 errors-overview ResourceLimitExceeded ("You have exceeded an Amazon EC2 resource limit"); no AWS answer found for this case, message ours |
| dependency-vpc-carrier-gateway | DeleteVpc while a carrier gateway is in it (DependencyViolation "The vpc '…' has dependencies and cannot be deleted.") | botocore DeleteVpc ("You must detach or delete all gateways and resources that are associated with the VPC before you can delete it"); message as world/ec2_time.py's dependency-vpc (terraform-provider-aws) |

Allowed, as on AWS: CreateCarrierGateway in a VPC without a Wavelength subnet, and a route to it
(terraform-provider-aws acceptance tests TestAccWavelengthCarrierGateway_basic and
testAccVPCRouteTableConfig_ipv4CarrierGateway create both in a VPC with no subnet, against AWS;
the API reference's CreateRoute.CarrierGatewayId "You can only use this option when the VPC
contains a subnet which is associated with a Wavelength Zone" is not what AWS enforces there);
DeleteCarrierGateway while a route targets it (the route turns blackhole).

Still forgiven (no source found for AWS's answer): an instance launched with
AssociateCarrierIpAddress outside a Wavelength subnet; a launch into an edge zone by
Placement.AvailabilityZone without a subnet; a BlockDeviceMapping without VolumeType (the AMI's
type decides on AWS); CreateVolume in an edge zone; Wavelength-to-Wavelength traffic in one VPC.
"""

from __future__ import annotations

import copy
import ipaddress
import random
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.responses import ActionResult, BaseResponse
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend, ec2_backends
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend, Zone
from moto.ec2.models.carrier_gateways import CarrierGatewayBackend
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ec2.models.instances import Instance
from moto.ec2.models.route_tables import Route
from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions
from moto.ec2.utils import tag_filter_matches

from world.edge_zones import REGION, ZONES, EdgeZone
from world.errors import aws_error

Params = dict[str, list[str]]
Refusal = tuple[str, str]

# The region's own zones (botocore AvailabilityZone: GroupName example, OptInStatus text).
REGIONAL_GROUP = f"{REGION}-zg-1"
OPT_IN_NOT_REQUIRED = "opt-in-not-required"
OPTED_IN = "opted-in"
NOT_OPTED_IN = "not-opted-in"
# AWS's generic refusal of a launch configuration it does not support (terraform-provider-aws#9113).
UNSUPPORTED_CONFIGURATION = ("The requested configuration is currently not supported. "
                             "Please check the documentation for supported configurations.")
# Filters botocore documents for DescribeAvailabilityZones, and the Zone attribute each reads.
ZONE_FILTERS: dict[str, str] = {
    "group-long-name": "group_long_name", "group-name": "group_name", "message": "message_text",
    "opt-in-status": "opt_in_status", "parent-zone-id": "parent_zone_id", "parent-zone-name": "parent_zone_name",
    "region-name": "region_name", "state": "state", "zone-id": "zone_id", "zone-name": "name",
    "zone-type": "zone_type",
}

# (account, group) pairs opted in: for the server's life.
_OPTED: set[tuple[str, str]] = set()
_LOCK = threading.Lock()
_LENIENT: list[Callable[[], frozenset[str]]] = [lambda: frozenset()]


def first(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def numbered(params: Params, prefix: str) -> list[str]:
    """The values of a list parameter (`ZoneName.1`, `ZoneName.2`...), in order."""
    keys = sorted((int(k[len(prefix):]), k) for k in params if k.startswith(prefix) and k[len(prefix):].isdigit())
    return [params[k][0] for _, k in keys if params[k]]


def true(value: Any) -> bool:
    return str(value).lower() == "true"


# --- zones and opt-in ------------------------------------------------------------------------------


def opted_in(account: str, group: str) -> bool:
    with _LOCK:
        return (account, group) in _OPTED


def opt_in(account: str, group: str) -> None:
    with _LOCK:
        _OPTED.add((account, group))


def edge_groups() -> set[str]:
    return {zone.group for zone in ZONES.values()}


def regional_zones() -> list[Zone]:
    return [z for z in RegionsAndZonesBackend.zones.get(REGION, []) if z.name not in ZONES]


def moto_zone(edge: EdgeZone) -> Zone:
    """A moto Zone carrying every AvailabilityZone field AWS answers for an edge zone."""
    zone = Zone(name=edge.name, region_name=REGION, zone_id=edge.zone_id, zone_type=edge.zone_type)
    parents = {z.name: z.zone_id for z in regional_zones()}
    zone.group_name = edge.group  # type: ignore[attr-defined]
    zone.parent_zone_name = edge.parent  # type: ignore[attr-defined]
    zone.parent_zone_id = parents.get(edge.parent)  # type: ignore[attr-defined]
    zone.network_border_group = edge.border_group  # type: ignore[attr-defined]
    zone.opt_in_status = NOT_OPTED_IN  # type: ignore[attr-defined]
    return zone


def install_zones() -> None:
    """Adds the edge zones to moto's us-east-1 (which CreateSubnet validates names against) and
    gives the region's zones the fields AWS answers for them."""
    for zone in regional_zones():
        zone.opt_in_status = OPT_IN_NOT_REQUIRED  # type: ignore[attr-defined]
        zone.group_name = REGIONAL_GROUP  # type: ignore[attr-defined]
        zone.network_border_group = REGION  # type: ignore[attr-defined]
    known = {z.name for z in RegionsAndZonesBackend.zones.setdefault(REGION, [])}
    RegionsAndZonesBackend.zones[REGION].extend(moto_zone(e) for e in ZONES.values() if e.name not in known)


def view(zone: Zone, account: str) -> Zone:
    """The zone as `account` sees it: an edge zone with the account's opt-in status."""
    edge = ZONES.get(zone.name)
    if edge is None:
        return zone
    seen = copy.copy(zone)
    seen.opt_in_status = OPTED_IN if opted_in(account, edge.group) else NOT_OPTED_IN  # type: ignore[attr-defined]
    return seen


def zones_of(account: str, region: str) -> list[Zone]:
    return [view(z, account) for z in RegionsAndZonesBackend.zones.get(region, [])]


def usable(zone: Zone) -> bool:
    """A zone the account can place resources in: the region's own, or an opted-in edge zone."""
    return getattr(zone, "opt_in_status", OPT_IN_NOT_REQUIRED) != NOT_OPTED_IN


def zone_matches(zone: Zone, name: str, values: list[str]) -> bool:
    if name == "message":
        return any(m.get("message") in values for m in zone.messages)
    value = getattr(zone, ZONE_FILTERS[name], None)
    return any(re.fullmatch(re.escape(v).replace(r"\*", ".*").replace(r"\?", "."), str(value)) for v in values) \
        if value is not None else False


def describe_availability_zones(self: AvailabilityZonesAndRegions) -> ActionResult:
    """DescribeAvailabilityZones as AWS answers it: edge zones of groups not opted in only with
    AllAvailabilityZones; unknown names and filters refused."""
    self.error_on_dryrun()
    params: Params = self.querystring
    backend = self.ec2_backend
    zones = zones_of(backend.account_id, backend.region_name)
    names, ids = numbered(params, "ZoneName."), numbered(params, "ZoneId.")
    filters = self._filters_from_querystring() or {}
    lenient = _LENIENT[0]
    unknown_name = next((n for n in names if n not in {z.name for z in zones}), None)
    if unknown_name and "edge-zone-unknown" not in lenient():
        raise EC2ClientError("InvalidParameterValue", f"Invalid availability zone: [{unknown_name}]")
    unknown_id = next((i for i in ids if i not in {z.zone_id for z in zones}), None)
    if unknown_id and "edge-zone-unknown" not in lenient():
        raise EC2ClientError("InvalidParameterValue", f"Invalid availability zone-id: [{unknown_id}]")
    bad_filter = next((f for f in filters if f not in ZONE_FILTERS), None)
    if bad_filter and "edge-zone-filter" not in lenient():
        raise EC2ClientError("InvalidParameterValue", f"The filter '{bad_filter}' is invalid")
    if not true(first(params, "AllAvailabilityZones")):
        zones = [z for z in zones if usable(z)]
    zones = [z for z in zones if (not names or z.name in names) and (not ids or z.zone_id in ids)]
    for name, values in filters.items():
        if name in ZONE_FILTERS:
            zones = [z for z in zones if zone_matches(z, name, list(values))]
    return ActionResult({"AvailabilityZones": zones})


def modify_availability_zone_group(self: AvailabilityZonesAndRegions) -> ActionResult:
    """ModifyAvailabilityZoneGroup: opts the account in to an edge zone group (idempotent)."""
    self.error_on_dryrun()
    params: Params = self.querystring
    group, status = first(params, "GroupName") or "", first(params, "OptInStatus") or ""
    backend = self.ec2_backend
    if group not in edge_groups() or backend.region_name != REGION:
        raise EC2ClientError("InvalidParameterValue", f"Value ({group}) for parameter groupName is invalid. "
                                                      "The zone group does not exist in the current region.")
    if status != OPTED_IN:
        raise EC2ClientError("InvalidParameterValue", f"Value ({status}) for parameter optInStatus is invalid. "
                                                      "Contact AWS Support to opt out of a zone group.")
    opt_in(backend.account_id, group)
    return ActionResult({"Return": True})


def backend_zones(original: Callable[..., list[Zone]]) -> Callable[..., list[Zone]]:
    """moto's own zone lists (default subnets, get_zone_by_name...) see an edge zone only once
    the account opted in, with its opt-in status: no default subnet is ever made there."""

    def describe(self: Any, *args: Any, **kwargs: Any) -> list[Zone]:
        return [z for z in (view(z, self.account_id) for z in original(self, *args, **kwargs)) if usable(z)]

    return describe


# --- instance type offerings -----------------------------------------------------------------------


def offerings(original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    def describe(self: Any, location_type: str | None = None, filters: dict[str, Any] | None = None) -> list[Any]:
        found = original(self, location_type, filters)
        if location_type not in ("availability-zone", "availability-zone-id") or self.region_name != REGION:
            return found
        for edge in ZONES.values():
            if not opted_in(self.account_id, edge.group):
                continue
            location = edge.name if location_type == "availability-zone" else edge.zone_id
            for instance_type in edge.instance_types:
                offer = {"InstanceType": instance_type, "LocationType": location_type, "Location": location}
                if self.matches_filters(offer, filters or {}, location_type):
                    found.append(offer)
        return found

    return describe


def offered_in(backend: Any, instance_type: str) -> list[str]:
    """The zones that offer `instance_type` to the account (the region's own, then opted-in edge
    zones), as DescribeInstanceTypeOfferings lists them."""
    return [o["Location"] for o in backend.describe_instance_type_offerings(
        "availability-zone", {"instance-type": [instance_type]})]


# --- the rules --------------------------------------------------------------------------------------


def subnet(backend: Any, subnet_id: str | None) -> Any:
    if not subnet_id:
        return None
    try:
        return backend.get_subnet(subnet_id)
    except Exception:  # noqa: BLE001 - an unknown subnet is moto's error to give
        return None


def edge_of(backend: Any, subnet_id: str | None) -> EdgeZone | None:
    found = subnet(backend, subnet_id)
    return ZONES.get(found.availability_zone) if found is not None else None


def check_subnet_zone(backend: Any, params: Params) -> Refusal | None:
    name, zone_id = first(params, "AvailabilityZone"), first(params, "AvailabilityZoneId")
    if not name and not zone_id:
        return None
    zones = zones_of(backend.account_id, backend.region_name)
    wanted = next((z for z in zones if (name and z.name == name) or (not name and z.zone_id == zone_id)), None)
    if wanted is not None and usable(wanted):
        return None
    allowed = ", ".join(z.name for z in zones if usable(z))
    field, value = ("availabilityZone", name) if name else ("availabilityZoneId", zone_id)
    return ("InvalidParameterValue", f"Value ({value}) for parameter {field} is invalid. "
                                     f"Subnets can currently only be created in the following availability zones: {allowed}.")


def launch_subnets(params: Params) -> list[tuple[str, str]]:
    """(subnet ID, NetworkInterface.N prefix or "") of every subnet a RunInstances names."""
    found = [(params["SubnetId"][0], "")] if first(params, "SubnetId") else []
    for key, values in params.items():
        match = re.fullmatch(r"(NetworkInterface\.\d+\.)SubnetId", key)
        if match and values:
            found.append((values[0], match.group(1)))
    return found


def launch_zone(backend: Any, params: Params) -> EdgeZone | None:
    return next((e for e in (edge_of(backend, s) for s, _ in launch_subnets(params)) if e is not None), None)


def check_instance_type(backend: Any, params: Params) -> Refusal | None:
    edge = launch_zone(backend, params)
    instance_type = first(params, "InstanceType") or "m1.small"  # moto's default, as EC2's
    if edge is None or instance_type in edge.instance_types:
        return None
    choices = [zone for zone in offered_in(backend, instance_type) if zone != edge.name]
    return ("Unsupported", f"Your requested instance type ({instance_type}) is not supported in your requested "
                           f"Availability Zone ({edge.name}). Please retry your request by not specifying an "
                           f"Availability Zone or choosing {', '.join(choices)}.")


def check_volume_type(backend: Any, params: Params) -> Refusal | None:
    edge = launch_zone(backend, params)
    if edge is None:
        return None
    for key, values in params.items():
        if re.fullmatch(r"BlockDeviceMapping\.\d+\.Ebs\.VolumeType", key) and values and values[0] not in edge.volume_types:
            return "Unsupported", UNSUPPORTED_CONFIGURATION
    return None


def check_spot(backend: Any, params: Params) -> Refusal | None:
    edge = launch_zone(backend, params)
    spot = (first(params, "InstanceMarketOptions.MarketType") or "").lower() == "spot"
    if edge is None or edge.spot or not spot:
        return None
    return "Unsupported", UNSUPPORTED_CONFIGURATION


def check_public_ip(backend: Any, params: Params) -> Refusal | None:
    """No public IPv4 in a Wavelength subnet: ModifySubnetAttribute and RunInstances."""
    if first(params, "MapPublicIpOnLaunch.Value") is not None:
        edge = edge_of(backend, first(params, "SubnetId"))
        if edge is not None and edge.zone_type == "wavelength-zone" and true(first(params, "MapPublicIpOnLaunch.Value")):
            return ("InvalidParameterValue", "Value (true) for parameter mapPublicIpOnLaunch is invalid. "
                                             "A subnet in a Wavelength Zone assigns carrier IP addresses, not public IPv4 addresses.")
        return None
    for subnet_id, prefix in launch_subnets(params):
        edge = edge_of(backend, subnet_id)
        if prefix and edge is not None and edge.zone_type == "wavelength-zone" \
                and true(first(params, f"{prefix}AssociatePublicIpAddress")):
            return ("InvalidParameterValue", "Value (true) for parameter associatePublicIpAddress is invalid. "
                                             "Use associateCarrierIpAddress in a subnet of a Wavelength Zone.")
    return None


def check_carrier_gateway_per_vpc(backend: Any, params: Params) -> Refusal | None:
    vpc_id = first(params, "VpcId")
    if vpc_id and any(g.vpc_id == vpc_id for g in backend.carrier_gateways.values()):
        return ("ResourceLimitExceeded", f"The maximum number of carrier gateways for VPC '{vpc_id}' has been reached "
                                         "(Carrier gateways per VPC: 1).")
    return None


def check_vpc_carrier_gateway(backend: Any, params: Params) -> Refusal | None:
    vpc_id = first(params, "VpcId")
    if vpc_id and any(g.vpc_id == vpc_id for g in backend.carrier_gateways.values()):
        return "DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
    return None


Check = Callable[[Any, Params], Refusal | None]

# (rule name, actions, check); DescribeAvailabilityZones and ModifyAvailabilityZoneGroup refuse
# in their own handlers (edge-zone-unknown, edge-zone-filter, zone-group-*).
RULES: tuple[tuple[str, frozenset[str], Check], ...] = (
    ("subnet-zone-opt-in", frozenset({"CreateSubnet"}), check_subnet_zone),
    ("edge-instance-type", frozenset({"RunInstances"}), check_instance_type),
    ("edge-volume-type", frozenset({"RunInstances"}), check_volume_type),
    ("edge-spot", frozenset({"RunInstances"}), check_spot),
    ("wavelength-no-public-ip", frozenset({"RunInstances", "ModifySubnetAttribute"}), check_public_ip),
    ("carrier-gateway-per-vpc", frozenset({"CreateCarrierGateway"}), check_carrier_gateway_per_vpc),
    ("dependency-vpc-carrier-gateway", frozenset({"DeleteVpc"}), check_vpc_carrier_gateway),
)
# The names faults.json `"lenient"` can switch off (zone-group-opt-in and zone-group-unknown cannot:
# there is nothing to opt in to without them).
RULE_NAMES = frozenset({name for name, _, _ in RULES} | {"edge-zone-unknown", "edge-zone-filter"})


def refusal(backend: Any, action: str, params: Params, lenient: Callable[[], frozenset[str]]) -> Refusal | None:
    for name, actions, check in RULES:
        if action not in actions:
            continue
        refused = check(backend, params)
        if refused and name not in lenient():
            return refused
    return None


# --- moto's gaps -------------------------------------------------------------------------------------


def carrier_ip() -> str:
    """A carrier IP address: any public IPv4 address (the world does not model carriers' pools)."""
    while True:
        address = ipaddress.IPv4Address(random.getrandbits(32))
        if address.is_global and not address.is_multicast:
            return str(address)


def nic_specs(kwargs: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return (n for n in kwargs.get("nics") or [] if isinstance(n, dict))


def install_carrier_ips() -> None:
    """Instances launched into a Wavelength subnet with AssociateCarrierIpAddress get a carrier IP,
    shown where DescribeInstances shows it on AWS."""
    run_instances = EC2Backend.run_instances

    def launch(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = run_instances(self, *args, **kwargs)
        wanted = {int(n.get("DeviceIndex") or 0) for n in nic_specs(kwargs) if true(n.get("AssociateCarrierIpAddress"))}
        for instance in reservation.instances:
            for index in wanted:
                eni = instance.nics.get(index)
                edge = ZONES.get(eni.subnet.availability_zone) if eni is not None else None
                if edge is not None and edge.zone_type == "wavelength-zone":
                    eni.carrier_ip = carrier_ip()
        return reservation

    EC2Backend.run_instances = launch  # type: ignore[method-assign]

    association = NetworkInterface.association

    def with_carrier_ip(self: NetworkInterface) -> dict[str, Any]:
        found = association.fget(self)  # type: ignore[attr-defined]
        carrier = getattr(self, "carrier_ip", None)
        return {**found, "carrierIp": carrier} if carrier else found

    NetworkInterface.association = property(with_carrier_ip)  # type: ignore[method-assign,assignment]

    public_ip_address = Instance.public_ip_address

    def public_or_carrier(self: Instance) -> str | None:
        address = public_ip_address.fget(self)  # type: ignore[attr-defined]
        primary = self.nics.get(0) if isinstance(self.nics, dict) else None
        return address or getattr(primary, "carrier_ip", None)

    Instance.public_ip_address = property(public_or_carrier)  # type: ignore[method-assign,assignment]


def install_carrier_gateway_fixes() -> None:
    """Tag filters for DescribeCarrierGateways; blackhole routes to deleted carrier gateways."""
    describe = CarrierGatewayBackend.describe_carrier_gateways

    def describe_carrier_gateways(self: Any, ids: list[str] | None = None, filters: Any = None) -> list[Any]:
        tags = {k: v for k, v in (filters or {}).items() if k.startswith("tag")}
        rest = {k: v for k, v in (filters or {}).items() if not k.startswith("tag")}
        found = describe(self, ids, rest or None)
        return [g for g in found if all(tag_filter_matches(g, name, list(values)) for name, values in tags.items())]

    CarrierGatewayBackend.describe_carrier_gateways = describe_carrier_gateways  # type: ignore[method-assign]

    state = Route.state

    def route_state(self: Route) -> str:
        gateway = self.carrier_gateway
        backend = getattr(getattr(self, "route_table", None), "ec2_backend", None)
        if gateway is not None and backend is not None and gateway.id not in backend.carrier_gateways:
            return "blackhole"
        return state.fget(self)  # type: ignore[attr-defined]

    Route.state = property(route_state)  # type: ignore[method-assign,assignment]


def install_subnet_zone_ids() -> None:
    """CreateSubnet by AvailabilityZoneId only: moto files the subnet under its zone's name."""
    create_subnet = EC2Backend.create_subnet

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        zone_id = kwargs.get("availability_zone_id")
        if zone_id and not kwargs.get("availability_zone"):
            kwargs["availability_zone"] = next(
                (z.name for z in RegionsAndZonesBackend.zones.get(self.region_name, []) if z.zone_id == zone_id), None)
        created = create_subnet(self, *args, **kwargs)
        if created.availability_zone in ZONES:
            # moto makes the first subnet of a zone its default subnet (MapPublicIpOnLaunch true);
            # an edge zone has no default subnet: a subnet created there maps nothing.
            created.default_for_az = False
            created.map_public_ip_on_launch = False
        return created

    EC2Backend.create_subnet = create  # type: ignore[method-assign]


def install(faults: Any) -> None:
    """Adds the edge zones to moto and wraps its EC2 dispatch with the rules above."""
    from world.ec2_rules import lenient_names

    _LENIENT[0] = lambda: lenient_names(faults)
    install_zones()
    RegionsAndZonesBackend.describe_availability_zones = backend_zones(  # type: ignore[method-assign]
        RegionsAndZonesBackend.describe_availability_zones)
    AvailabilityZonesAndRegions.describe_availability_zones = describe_availability_zones  # type: ignore[method-assign]
    AvailabilityZonesAndRegions.modify_availability_zone_group = modify_availability_zone_group  # type: ignore[attr-defined]
    EC2Backend.describe_instance_type_offerings = offerings(  # type: ignore[method-assign]
        EC2Backend.describe_instance_type_offerings)
    install_carrier_ips()
    install_carrier_gateway_fixes()
    install_subnet_zone_ids()
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        if (getattr(self, "service_name", None) or "").lower() == "ec2":
            backend = ec2_backends[self.current_account][self.region]
            found = refusal(backend, self._get_action(), self.querystring, _LENIENT[0])
            if found:
                return aws_error(self, 400, *found)
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
