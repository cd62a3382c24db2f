//! The edge zone's part of the network: the zone checked and opted in, the instance type its
//! workers get, its subnet, and for a Wavelength Zone the carrier gateway (docs/edge.md).

use aws_sdk_ec2::types::{Filter, LocationType, ResourceType};
use mec_shared::cidr::Ipv4Cidr;
use mec_shared::consistency::retry_until_visible;
use mec_shared::edge::{ZoneType, EDGE_INSTANCE_TYPES, EDGE_VOLUME_TYPE};
use mec_shared::model::{EdgeNetwork, Subnet};
use mec_shared::tags;
use mec_shared::zones::{self, EdgeZone};
use mec_shared::{send_once, Aws, EnvironmentSpec, MecError};
use tracing::info;

use super::{by_env, create_subnet, map_public_ip_on_launch, name_tags};

/// What the network step decided for the edge before creating anything.
#[derive(Debug, Clone)]
pub(crate) struct EdgePlan {
    pub(crate) zone: EdgeZone,
    instance_type: String,
    reason: String,
}

impl EdgePlan {
    pub(crate) fn into_network(
        self,
        subnet_id: String,
        carrier_gateway_id: Option<String>,
    ) -> EdgeNetwork {
        EdgeNetwork {
            zone: self.zone.name,
            zone_type: self.zone.zone_type,
            subnet_id,
            carrier_gateway_id,
            instance_type: self.instance_type,
            volume_type: EDGE_VOLUME_TYPE.to_string(),
            reason: self.reason,
        }
    }
}

/// Checks the zone (of this region, a Local or Wavelength Zone), opts its group in when it is
/// not, and picks the workers' instance type. Changes nothing else.
pub(crate) async fn prepare(aws: &Aws, zone_name: &str) -> Result<EdgePlan, MecError> {
    let zone = zones::describe_zone(&aws.ec2, zone_name).await?;
    let offered = if zone.opted_in {
        offered_types(aws, &zone.name).await?
    } else {
        opt_in(aws, &zone).await?;
        // Until the opt-in has taken effect, the zone offers nothing (observed on AWS:
        // openshift/installer#7137): look again for a while, then let the state machine retry
        // (AwsUnavailable).
        retry_until_visible("DescribeInstanceTypeOfferings", || async {
            let offered = offered_types(aws, &zone.name).await?;
            Ok((!offered.is_empty()).then_some(offered))
        })
        .await?
    };
    let (instance_type, reason) = choose_instance_type(&zone, &offered)?;
    info!(
        zone = zone.name,
        zone_type = zone.zone_type.as_str(),
        instance_type,
        "edge zone ready"
    );
    Ok(EdgePlan {
        zone,
        instance_type,
        reason,
    })
}

/// Opts the zone's group in (ModifyAvailabilityZoneGroup is idempotent; mec never opts out).
/// A caller that may not gets an error saying who can, and how.
async fn opt_in(aws: &Aws, zone: &EdgeZone) -> Result<(), MecError> {
    let call = aws
        .ec2
        .modify_availability_zone_group()
        .group_name(&zone.group)
        .opt_in_status(aws_sdk_ec2::types::ModifyAvailabilityZoneOptInStatus::OptedIn);
    match call
        .send()
        .await
        .map_err(|e| MecError::from_sdk("ModifyAvailabilityZoneGroup", e))
    {
        Ok(_) => {
            info!(group = zone.group, "opted in to the zone group");
            Ok(())
        }
        Err(MecError::AwsError { code, .. }) if code == "UnauthorizedOperation" => {
            Err(MecError::Configuration(format!(
                "the zone group {} of {} is not opted in, and the network step may not opt in \
                 (ec2:ModifyAvailabilityZoneGroup): opt in once with `aws ec2 \
                 modify-availability-zone-group --group-name {} --opt-in-status opted-in`",
                zone.group, zone.name, zone.group
            )))
        }
        Err(e) => Err(e),
    }
}

/// The types of the edge list that the zone offers.
async fn offered_types(aws: &Aws, zone: &str) -> Result<Vec<String>, MecError> {
    let mut offered = Vec::new();
    let mut pages = aws
        .ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(Filter::builder().name("location").values(zone).build())
        .filters(
            Filter::builder()
                .name("instance-type")
                .set_values(Some(
                    EDGE_INSTANCE_TYPES.iter().map(|t| t.to_string()).collect(),
                ))
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("DescribeInstanceTypeOfferings", e))?;
        offered.extend(
            page.instance_type_offerings()
                .iter()
                .filter(|o| o.location() == Some(zone))
                .filter_map(|o| o.instance_type().map(|t| t.as_str().to_string())),
        );
    }
    Ok(offered)
}

/// The first type of the edge list the zone offers, and why (what it lacked, the volume type,
/// the market): the record says it.
pub(crate) fn choose_instance_type(
    zone: &EdgeZone,
    offered: &[String],
) -> Result<(String, String), MecError> {
    let position = EDGE_INSTANCE_TYPES
        .iter()
        .position(|t| offered.iter().any(|o| o == t))
        .ok_or_else(|| {
            MecError::invalid_spec(
                "edge.zone",
                &format!(
                    "{} offers none of the edge instance types ({})",
                    zone.name,
                    EDGE_INSTANCE_TYPES.join(", ")
                ),
            )
        })?;
    let chosen = EDGE_INSTANCE_TYPES[position];
    let mut reason = if position == 0 {
        format!(
            "{chosen}: the first edge instance type, offered in {}",
            zone.name
        )
    } else {
        format!(
            "{chosen}: the first edge instance type offered in {} ({} not offered there)",
            zone.name,
            EDGE_INSTANCE_TYPES[..position].join(", ")
        )
    };
    reason.push_str(&format!(
        "; root volume {EDGE_VOLUME_TYPE} (gp3 is not offered in every edge zone); on demand ({})",
        match zone.zone_type {
            ZoneType::WavelengthZone => "Wavelength Zones offer no Spot",
            ZoneType::LocalZone => "Spot is not offered in every Local Zone",
        }
    ));
    Ok((chosen.to_string(), reason))
}

/// The edge zone's subnet (found by its zone among `existing`, else created in the lowest free
/// block). In a
/// Local Zone its instances get public addresses like the region's; in a Wavelength Zone they
/// get carrier addresses at launch instead (RunInstances `AssociateCarrierIpAddress`).
pub(crate) async fn ensure_subnet(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
    plan: &EdgePlan,
    existing: &[(Ipv4Cidr, Subnet)],
) -> Result<String, MecError> {
    let subnet_id = match existing
        .iter()
        .find(|(_, s)| s.availability_zone == plan.zone.name)
    {
        Some((_, subnet)) => subnet.subnet_id.clone(),
        None => {
            let created =
                create_subnet(aws, spec, vpc_id, existing, &plan.zone.name, "edge").await?;
            let (_, subnet) = created.ok_or_else(|| {
                MecError::invalid_spec(
                    "vpc_cidr",
                    "has no free block left for the edge zone's subnet",
                )
            })?;
            subnet.subnet_id
        }
    };
    if plan.zone.zone_type == ZoneType::LocalZone {
        map_public_ip_on_launch(aws, &subnet_id).await?;
    }
    Ok(subnet_id)
}

/// The VPC's carrier gateway: found by tag, else created (one per VPC).
pub(crate) async fn ensure_carrier_gateway(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
) -> Result<String, MecError> {
    let found = aws
        .ec2
        .describe_carrier_gateways()
        .filters(by_env(spec))
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeCarrierGateways", e))?;
    let live = found.carrier_gateways().iter().find(|g| {
        !matches!(
            g.state().map(|s| s.as_str()),
            Some("deleting") | Some("deleted")
        )
    });
    if let Some(id) = live.and_then(|g| g.carrier_gateway_id()) {
        return Ok(id.to_string());
    }
    let created = send_once!(
        "CreateCarrierGateway",
        aws.ec2
            .create_carrier_gateway()
            .vpc_id(vpc_id)
            .tag_specifications(tags::specification(
                ResourceType::CarrierGateway,
                name_tags(spec, "cagw"),
            ))
    )?;
    let id = created
        .carrier_gateway()
        .and_then(|g| g.carrier_gateway_id())
        .unwrap_or_default()
        .to_string();
    info!(carrier_gateway_id = id, "created carrier gateway");
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(zone_type: ZoneType) -> EdgeZone {
        EdgeZone {
            name: "us-east-1-bos-1a".into(),
            zone_type,
            group: "us-east-1-bos-1".into(),
            opted_in: true,
        }
    }

    #[test]
    fn the_first_offered_type_wins_and_the_reason_says_what_was_missing() {
        let offered = vec!["r5.2xlarge".to_string(), "t3.xlarge".to_string()];
        let (chosen, reason) = choose_instance_type(&zone(ZoneType::LocalZone), &offered).unwrap();
        assert_eq!(chosen, "t3.xlarge");
        assert!(reason.contains("t3.medium not offered"), "{reason}");
        assert!(reason.contains("gp2"), "{reason}");
        let (chosen, reason) =
            choose_instance_type(&zone(ZoneType::WavelengthZone), &["t3.medium".into()]).unwrap();
        assert_eq!(chosen, "t3.medium");
        assert!(reason.contains("no Spot"), "{reason}");
        let err =
            choose_instance_type(&zone(ZoneType::LocalZone), &["x1.huge".into()]).unwrap_err();
        assert_eq!(err.error_type(), "InvalidSpec");
    }
}
