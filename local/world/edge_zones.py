"""The edge zones of the local world: AWS Local Zones and Wavelength Zones of us-east-1.

One table, read by the EC2 rules (zones, opt-in, instance types, volume types, spot) and by the
simulated network (the MTU between an edge zone and its region). Each fact names its source.

| fact | value | source |
|---|---|---|
| MTU between an instance in a Local Zone or Wavelength Zone and one in the Region | 1,300 bytes | EC2 User Guide, "Network maximum transmission unit (MTU) for your EC2 instance" |
| MTU within a zone (VPC, jumbo frames) | 9,001 bytes | same page |
| Wavelength instance types | t3.medium, t3.xlarge, r5.2xlarge, g4dn.2xlarge | AWS Wavelength Developer Guide, "Quotas and considerations" |
| Wavelength EBS volume types | gp2 only | same guide |
| Wavelength spot | not offered | same guide |
"""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"
EDGE_TO_REGION_MTU = 1300
IN_ZONE_MTU = 9001


@dataclass(frozen=True)
class EdgeZone:
    name: str
    zone_type: str  # "local-zone" | "wavelength-zone" (DescribeAvailabilityZones ZoneType)
    group: str  # GroupName: the unit of opt-in (ModifyAvailabilityZoneGroup)
    zone_id: str
    parent: str  # ParentZoneName
    border_group: str  # NetworkBorderGroup
    instance_types: tuple[str, ...]
    volume_types: tuple[str, ...]
    spot: bool


ZONES: dict[str, EdgeZone] = {
    zone.name: zone
    for zone in (
        EdgeZone("us-east-1-wl1-bos-wlz-1", "wavelength-zone", "us-east-1-wl1", "use1-wl1-bos-wlz1",
                 "us-east-1a", "us-east-1-wl1-bos-wlz-1",
                 ("t3.medium", "t3.xlarge", "r5.2xlarge", "g4dn.2xlarge"), ("gp2",), False),
        EdgeZone("us-east-1-wl1-nyc-wlz-1", "wavelength-zone", "us-east-1-wl1", "use1-wl1-nyc-wlz1",
                 "us-east-1a", "us-east-1-wl1-nyc-wlz-1",
                 ("t3.medium", "t3.xlarge", "r5.2xlarge", "g4dn.2xlarge"), ("gp2",), False),
        # A Local Zone without t3.medium, so that the fallback along the ordered list is exercised.
        EdgeZone("us-east-1-bos-1a", "local-zone", "us-east-1-bos-1", "use1-bos1-az1",
                 "us-east-1c", "us-east-1-bos-1",
                 ("t3.xlarge", "c5.2xlarge", "m5.2xlarge", "r5.2xlarge", "g4dn.2xlarge"), ("gp2",), False),
    )
}


def zone_type(zone_name: str | None) -> str:
    """The ZoneType of a zone of the world: an edge zone's, else a region's availability zone."""
    edge = ZONES.get(zone_name or "")
    return edge.zone_type if edge else "availability-zone"


def path_mtu(zone_a: str | None, zone_b: str | None) -> int:
    """The MTU of the path between instances in two zones: 1,300 when the zones differ and
    either is at the edge; 9,001 within one zone or between the region's availability zones."""
    if zone_a == zone_b:
        return IN_ZONE_MTU
    if zone_type(zone_a) != "availability-zone" or zone_type(zone_b) != "availability-zone":
        return EDGE_TO_REGION_MTU
    return IN_ZONE_MTU
