//! Workers at the edge: AWS Local Zones and Wavelength Zones (docs/edge.md).
//!
//! What mec relies on, from AWS's documentation:
//! - zone names: a Local Zone is `<region>-<location>-<n><letter>` (`us-east-1-bos-1a`), a
//!   Wavelength Zone `<region>-wl1-<location>-wlz-<n>` (`us-east-1-wl1-bos-wlz-1`); both belong to
//!   a zone group that the account opts into (EC2 User Guide, "Regions and Zones";
//!   DescribeAvailabilityZones `ZoneType`, `GroupName`, `OptInStatus`);
//! - instance types at the edge are few and x86_64 (Wavelength Developer Guide, "Quotas and
//!   considerations": t3.medium, t3.xlarge, r5.2xlarge, g4dn.2xlarge); EBS gp2 everywhere, gp3 not
//!   in every zone; no Spot in Wavelength Zones;
//! - the MTU between an edge instance and one in the region is 1,300 bytes (EC2 User Guide,
//!   "Network maximum transmission unit (MTU) for your EC2 instance").
//!
//! This module holds the names and facts (no AWS call: every step validates specs with it);
//! `zones` makes the lookup every door makes (DescribeAvailabilityZones); the network step opts
//! in, probes the instance types and builds the edge subnet.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::MecError;

/// Instance types tried for edge workers, in order (the first that the zone offers): the
/// Wavelength list, cheapest first, and the general-purpose sizes Local Zones offer.
pub const EDGE_INSTANCE_TYPES: &[&str] = &[
    "t3.medium",
    "t3.xlarge",
    "c5.2xlarge",
    "m5.2xlarge",
    "r5.2xlarge",
    "g4dn.2xlarge",
];
/// The root volume type of edge workers: gp2 is offered in every Local and Wavelength Zone, gp3
/// is not.
pub const EDGE_VOLUME_TYPE: &str = "gp2";
/// The path MTU between an edge zone and the region (EC2 User Guide, "Network MTU").
pub const EDGE_PATH_MTU: u32 = 1300;
/// Calico's VXLAN header (Calico docs, "Configure MTU": VXLAN overhead 50 bytes).
pub const VXLAN_OVERHEAD: u32 = 50;

/// The pod interface MTU (Calico `veth_mtu`) a cluster with edge nodes needs, so that VXLAN
/// packets between the region and the edge fit the 1,300-byte path.
pub fn calico_veth_mtu() -> u32 {
    EDGE_PATH_MTU - VXLAN_OVERHEAD
}

/// The kinds of edge zone mec places workers in (DescribeAvailabilityZones `ZoneType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneType {
    LocalZone,
    WavelengthZone,
}

impl ZoneType {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneType::LocalZone => "local-zone",
            ZoneType::WavelengthZone => "wavelength-zone",
        }
    }
}

/// The shape of a zone name (`edge.zone`): lowercase letters, digits and hyphens, and not a
/// region's availability zone (`us-east-1a`), which is no edge.
pub fn validate_zone_name(field: &str, zone: &str) -> Result<(), MecError> {
    let chars_ok = zone
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let parts: Vec<&str> = zone.split('-').collect();
    if !chars_ok || zone.len() > 64 || parts.len() < 4 || parts.iter().any(|p| p.is_empty()) {
        return Err(MecError::invalid_spec(
            field,
            "must be a Local Zone (like us-east-1-bos-1a) or Wavelength Zone (like \
             us-east-1-wl1-bos-wlz-1) name",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_take_the_edge_shapes_only() {
        for good in [
            "us-east-1-wl1-bos-wlz-1",
            "us-east-1-bos-1a",
            "us-west-2-lax-1b",
        ] {
            assert!(validate_zone_name("edge.zone", good).is_ok(), "{good}");
        }
        for bad in [
            "us-east-1a",
            "US-EAST-1-BOS-1A",
            "us-east-1--bos",
            "",
            "us east",
        ] {
            assert!(validate_zone_name("edge.zone", bad).is_err(), "{bad}");
        }
        assert_eq!(calico_veth_mtu(), 1250);
    }
}
