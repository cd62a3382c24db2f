//! The one EC2 lookup of an edge zone (DescribeAvailabilityZones), made by every door that
//! starts an environment with `edge` and by the network step, before anything is created.

use aws_sdk_ec2::types::AvailabilityZone;

use crate::edge::{validate_zone_name, ZoneType};
use crate::error::MecError;

/// An edge zone as EC2 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeZone {
    pub name: String,
    pub zone_type: ZoneType,
    /// The zone group: the unit of opt-in (ModifyAvailabilityZoneGroup).
    pub group: String,
    pub opted_in: bool,
}

/// The region a zone name belongs to: the name starts with it (`us-east-1-bos-1a`).
fn in_region(zone: &str, region: &str) -> bool {
    zone.strip_prefix(region)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// Looks the zone up (every zone, opted in or not) and checks that mec can place workers there:
/// a zone of the client's region, known to EC2, a Local Zone or Wavelength Zone. Each refusal is an
/// `InvalidSpec` naming `edge.zone`; nothing is changed.
pub async fn describe_zone(ec2: &aws_sdk_ec2::Client, zone: &str) -> Result<EdgeZone, MecError> {
    // The environment's region is the client's (the pipeline's, or the CLI's --region).
    let region = ec2
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let region = region.as_str();
    let field = "edge.zone";
    validate_zone_name(field, zone)?;
    if !in_region(zone, region) {
        return Err(MecError::invalid_spec(
            field,
            &format!("{zone} is not a zone of the environment's region {region}"),
        ));
    }
    let found = ec2
        .describe_availability_zones()
        .all_availability_zones(true)
        .zone_names(zone)
        .send()
        .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            let err = MecError::from_sdk("DescribeAvailabilityZones", e);
            return Err(match &err {
                // EC2 refuses a name it does not know.
                MecError::AwsError { code, .. } if code == "InvalidParameterValue" => {
                    MecError::invalid_spec(field, &format!("no zone {zone} in {region}"))
                }
                _ => err,
            });
        }
    };
    let described = found
        .availability_zones()
        .iter()
        .find(|z| z.zone_name() == Some(zone))
        .ok_or_else(|| MecError::invalid_spec(field, &format!("no zone {zone} in {region}")))?;
    to_edge_zone(field, described)
}

fn to_edge_zone(field: &str, zone: &AvailabilityZone) -> Result<EdgeZone, MecError> {
    let name = zone.zone_name().unwrap_or_default().to_string();
    let zone_type = match zone.zone_type() {
        Some("local-zone") => ZoneType::LocalZone,
        Some("wavelength-zone") => ZoneType::WavelengthZone,
        other => {
            return Err(MecError::invalid_spec(
                field,
                &format!(
                    "{name} is of zone type {}; edge workers run in a local-zone or a \
                     wavelength-zone",
                    other.unwrap_or("unknown")
                ),
            ))
        }
    };
    let opted_in = matches!(
        zone.opt_in_status().map(|s| s.as_str()),
        Some("opted-in") | Some("opt-in-not-required")
    );
    Ok(EdgeZone {
        name,
        zone_type,
        group: zone.group_name().unwrap_or_default().to_string(),
        opted_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::AvailabilityZoneOptInStatus;

    #[test]
    fn a_zone_belongs_to_the_region_its_name_starts_with() {
        assert!(in_region("us-east-1-bos-1a", "us-east-1"));
        assert!(!in_region("us-east-12-x-1a", "us-east-1"));
        assert!(!in_region("us-west-2-lax-1a", "us-east-1"));
    }

    #[test]
    fn a_regions_availability_zone_is_no_edge() {
        let zone = AvailabilityZone::builder()
            .zone_name("us-east-1-bos-1a")
            .zone_type("availability-zone")
            .build();
        let err = to_edge_zone("edge.zone", &zone).unwrap_err();
        assert!(
            err.to_string().contains("zone type availability-zone"),
            "{err}"
        );
        let local = AvailabilityZone::builder()
            .zone_name("us-east-1-bos-1a")
            .zone_type("local-zone")
            .group_name("us-east-1-bos-1")
            .opt_in_status(AvailabilityZoneOptInStatus::NotOptedIn)
            .build();
        let edge = to_edge_zone("edge.zone", &local).unwrap();
        assert_eq!(edge.zone_type, ZoneType::LocalZone);
        assert!(!edge.opted_in);
    }
}
