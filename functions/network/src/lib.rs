//! The network step: the environment's VPC, public subnets (one per availability zone that
//! offers the spec's instance types, up to [`MAX_ZONES`]: launches fall back to the next zone
//! when one has no capacity), internet gateway, route table and cluster security group. Each piece is looked up by tag first and created only when missing,
//! so the step can run again after any failure.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, IpPermission, IpRange, LocationType, ResourceType,
    UserIdGroupPair, Vpc,
};
use mec_shared::cidr::Ipv4Cidr;
use mec_shared::consistency::retry_until_visible;
use mec_shared::edge::ZoneType;
use mec_shared::model::{validate_run_id, Network, Subnet};
use mec_shared::tags::{self, Role};
use mec_shared::{send_after_create, send_once, send_once_after_create};
use mec_shared::{Aws, EnvironmentSpec, MecError};
use serde::Deserialize;
use tracing::{info, warn, Instrument};

mod edge;

/// Port ranges (protocol, first, last) MicroK8s nodes use between each other (MicroK8s docs,
/// "Services and ports"; Kubernetes' default NodePort range).
pub const CLUSTER_PORTS: &[(&str, i32, i32)] = &[
    ("tcp", 16443, 16443), // API server
    ("tcp", 25000, 25000), // cluster agent: join requests
    ("tcp", 19001, 19001), // dqlite
    ("tcp", 12379, 12379), // etcd, when used
    ("tcp", 10250, 10250), // kubelet
    ("tcp", 10255, 10255), // kubelet read-only
    ("tcp", 10257, 10257), // controller-manager
    ("tcp", 10259, 10259), // scheduler
    ("udp", 4789, 4789),   // Calico VXLAN
    ("tcp", 30000, 32767), // NodePort services, reached on any node
    ("udp", 30000, 32767), // NodePort services (UDP)
];
pub const API_PORT: i32 = 16443;
/// Rule descriptions. EC2 allows only `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*` in them, 255 characters
/// at most (EC2 API reference, IpRange and UserIdGroupPair `Description`); a test checks both.
pub const CLUSTER_RULE_DESCRIPTION: &str = "MicroK8s traffic between the cluster nodes";
pub const API_RULE_DESCRIPTION: &str = "Kubernetes API for operators";
/// The group's own description: the same character set (CreateSecurityGroup `GroupDescription`).
pub const GROUP_DESCRIPTION: &str = "mec MicroK8s cluster nodes";
/// Most availability zones an environment gets a subnet in: the primary and two to fall back to.
pub const MAX_ZONES: usize = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInput {
    pub spec: EnvironmentSpec,
    pub run_id: String,
}

pub async fn handle(aws: &Aws, event: serde_json::Value) -> Result<Network, MecError> {
    let input: NetworkInput =
        mec_shared::input::parse_value(event, "input", MecError::invalid_input)?;
    input.spec.validate()?;
    validate_run_id(&input.run_id)?;
    let span = tracing::info_span!("step", environment = %input.spec.name, step = "network");
    ensure_network(aws, &input.spec).instrument(span).await
}

pub async fn ensure_network(aws: &Aws, spec: &EnvironmentSpec) -> Result<Network, MecError> {
    // The edge zone is checked, opted in and probed before anything is created: a refusal
    // leaves nothing behind.
    let edge_plan = match &spec.edge {
        Some(edge_spec) => Some(edge::prepare(aws, &edge_spec.zone).await?),
        None => None,
    };
    let edge_zone = edge_plan.as_ref().map(|plan| plan.zone.name.clone());
    let vpc_id = ensure_vpc(aws, spec).await?;
    // Every subnet of the environment in the VPC, by block: the region's and the edge's.
    let mut all_subnets = subnets_of(aws, spec, &vpc_id).await?;
    let subnets =
        ensure_subnets(aws, spec, &vpc_id, &mut all_subnets, edge_zone.as_deref()).await?;
    let primary = subnets
        .first()
        .cloned()
        .ok_or_else(|| MecError::Configuration(format!("VPC {vpc_id} has no room for a subnet")))?;
    let internet_gateway_id = ensure_internet_gateway(aws, spec, &vpc_id).await?;
    let edge_subnet = match &edge_plan {
        Some(plan) => Some(edge::ensure_subnet(aws, spec, &vpc_id, plan, &all_subnets).await?),
        None => None,
    };
    // A Local Zone's subnet routes through the internet gateway like the region's; a
    // Wavelength Zone's through its carrier gateway, in a route table of its own.
    let mut public_subnets: Vec<&str> = subnets.iter().map(|s| s.subnet_id.as_str()).collect();
    if let (Some(plan), Some(subnet_id)) = (&edge_plan, &edge_subnet) {
        if plan.zone.zone_type == ZoneType::LocalZone {
            public_subnets.push(subnet_id);
        }
    }
    let route_table_id = ensure_route_table(
        aws,
        spec,
        &vpc_id,
        &public_subnets,
        "public",
        Target::Internet(&internet_gateway_id),
    )
    .await?;
    let edge = match (edge_plan, edge_subnet) {
        (Some(plan), Some(subnet_id)) => {
            let carrier_gateway_id = if plan.zone.zone_type == ZoneType::WavelengthZone {
                let id = edge::ensure_carrier_gateway(aws, spec, &vpc_id).await?;
                ensure_route_table(
                    aws,
                    spec,
                    &vpc_id,
                    &[&subnet_id],
                    "edge",
                    Target::Carrier(&id),
                )
                .await?;
                Some(id)
            } else {
                None
            };
            Some(plan.into_network(subnet_id, carrier_gateway_id))
        }
        _ => None,
    };
    let security_group_id = ensure_security_group(aws, spec, &vpc_id).await?;
    info!(
        vpc_id,
        subnet_id = primary.subnet_id,
        availability_zone = primary.availability_zone,
        zones = subnets.len(),
        edge_zone,
        "network ready"
    );
    Ok(Network {
        vpc_id,
        subnet_id: primary.subnet_id,
        availability_zone: primary.availability_zone,
        internet_gateway_id,
        route_table_id,
        security_group_id,
        subnets,
        edge,
    })
}

fn by_env(spec: &EnvironmentSpec) -> Filter {
    tags::environment_filter(&spec.name)
}

fn name_tags(spec: &EnvironmentSpec, suffix: &str) -> Vec<aws_sdk_ec2::types::Tag> {
    tags::resource_tags(
        &spec.name,
        Role::Network,
        &format!("{}-{suffix}", spec.name),
        &spec.tags,
    )
}

/// The environment's VPC among those tagged for it. There is one, unless a CreateVpc was applied
/// but its answer lost and the step's retry did not see it yet (EC2's describes by tag are
/// eventually consistent): then the one that holds the environment's subnets, else the lowest id,
/// so that every run settles on the same one. The others are left to the teardown, which deletes
/// everything tagged for the environment.
async fn choose_vpc<'a>(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpcs: &'a [Vpc],
) -> Result<Option<&'a Vpc>, MecError> {
    if vpcs.len() < 2 {
        return Ok(vpcs.first());
    }
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(by_env(spec))
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeSubnets", e))?;
    let holding = |vpc: &Vpc| {
        subnets
            .subnets()
            .iter()
            .filter(|s| s.vpc_id() == vpc.vpc_id())
            .count()
    };
    let chosen = vpcs.iter().max_by(|a, b| {
        holding(a)
            .cmp(&holding(b))
            .then_with(|| b.vpc_id().cmp(&a.vpc_id()))
    });
    warn!(
        vpcs = ?vpcs.iter().filter_map(|v| v.vpc_id()).collect::<Vec<_>>(),
        chosen = chosen.and_then(|v| v.vpc_id()),
        "several VPCs tagged for the environment (a lost answer): the others are the teardown's"
    );
    Ok(chosen)
}

async fn ensure_vpc(aws: &Aws, spec: &EnvironmentSpec) -> Result<String, MecError> {
    let found = aws
        .ec2
        .describe_vpcs()
        .filters(by_env(spec))
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeVpcs", e))?;
    let vpc_id = match choose_vpc(aws, spec, found.vpcs()).await? {
        Some(vpc) => {
            if vpc.cidr_block() != Some(spec.vpc_cidr.as_str()) {
                return Err(MecError::invalid_spec(
                    "vpc_cidr",
                    &format!(
                        "differs from the environment's existing VPC ({}); delete the environment first",
                        vpc.cidr_block().unwrap_or("?")
                    ),
                ));
            }
            vpc.vpc_id().unwrap_or_default().to_string()
        }
        None => {
            let created = send_once!(
                "CreateVpc",
                aws.ec2
                    .create_vpc()
                    .cidr_block(&spec.vpc_cidr)
                    .tag_specifications(tags::specification(
                        ResourceType::Vpc,
                        name_tags(spec, "vpc"),
                    ))
            )?;
            let id = created
                .vpc()
                .and_then(|v| v.vpc_id())
                .unwrap_or_default()
                .to_string();
            info!(vpc_id = id, "created VPC");
            id
        }
    };
    // One attribute per call, as EC2 requires; both are idempotent.
    for hostnames in [false, true] {
        let call = aws.ec2.modify_vpc_attribute().vpc_id(&vpc_id);
        let value = AttributeBooleanValue::builder().value(true).build();
        let call = if hostnames {
            call.enable_dns_hostnames(value)
        } else {
            call.enable_dns_support(value)
        };
        send_after_create!("ModifyVpcAttribute", call)?;
    }
    Ok(vpc_id)
}

/// The environment's subnets in the VPC, by CIDR block, lowest first (the primary is the
/// first subnet created: the one in the VPC's lowest block).
async fn subnets_of(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
) -> Result<Vec<(Ipv4Cidr, Subnet)>, MecError> {
    let found = aws
        .ec2
        .describe_subnets()
        .filters(by_env(spec))
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeSubnets", e))?;
    let mut existing: Vec<(Ipv4Cidr, Subnet)> = found
        .subnets()
        .iter()
        .filter_map(|s| {
            let cidr = Ipv4Cidr::parse(s.cidr_block()?).ok()?;
            let subnet = Subnet {
                subnet_id: s.subnet_id()?.to_string(),
                availability_zone: s.availability_zone().unwrap_or_default().to_string(),
            };
            Some((cidr, subnet))
        })
        .collect();
    existing.sort_by_key(|(cidr, _)| cidr.address());
    Ok(existing)
}

/// One public subnet per zone of [`choose_availability_zones`] (as many as the VPC has room for,
/// keeping one block for the edge zone's subnet when there is one), the primary first; the edge
/// zone's subnet is not one of them. Existing subnets (`all`) are kept; a new one takes the lowest
/// free block and is added to `all`.
async fn ensure_subnets(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
    all: &mut Vec<(Ipv4Cidr, Subnet)>,
    edge_zone: Option<&str>,
) -> Result<Vec<Subnet>, MecError> {
    let vpc_cidr = Ipv4Cidr::parse(&spec.vpc_cidr)
        .map_err(|rule| MecError::invalid_spec("vpc_cidr", &rule))?;
    let blocks = vpc_cidr.subnet_blocks().len();
    let is_regional = |s: &Subnet| Some(s.availability_zone.as_str()) != edge_zone;
    let edge_needs_a_block =
        edge_zone.is_some_and(|zone| !all.iter().any(|(_, s)| s.availability_zone == zone));
    let zones = choose_availability_zones(aws, spec).await?;
    for az in zones.iter().take(MAX_ZONES) {
        if all.iter().any(|(_, s)| &s.availability_zone == az) {
            continue;
        }
        let regional = all.iter().filter(|(_, s)| is_regional(s)).count();
        if regional > 0 && edge_needs_a_block && all.len() + 2 > blocks {
            break; // the last free block is the edge zone's
        }
        let name = if regional == 0 {
            "public".to_string()
        } else {
            format!("public-{az}")
        };
        let Some(created) = create_subnet(aws, spec, vpc_id, all, az, &name).await? else {
            break; // a small VPC holds fewer zones
        };
        all.push(created);
    }
    let regional: Vec<Subnet> = all
        .iter()
        .map(|(_, s)| s.clone())
        .filter(|s| is_regional(s))
        .collect();
    for subnet in &regional {
        map_public_ip_on_launch(aws, &subnet.subnet_id).await?;
    }
    Ok(regional)
}

/// Instances launched in the subnet get a public address (the nodes reach SSM and the snap
/// store through the internet gateway; nothing reaches them but the API port's allowed CIDRs).
pub(crate) async fn map_public_ip_on_launch(aws: &Aws, subnet_id: &str) -> Result<(), MecError> {
    let call = aws
        .ec2
        .modify_subnet_attribute()
        .subnet_id(subnet_id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build());
    send_after_create!("ModifySubnetAttribute", call)?;
    Ok(())
}

/// Creates a subnet in `az` in the lowest block of the VPC no `existing` subnet overlaps; None
/// when the VPC has no free block.
pub(crate) async fn create_subnet(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
    existing: &[(Ipv4Cidr, Subnet)],
    az: &str,
    name: &str,
) -> Result<Option<(Ipv4Cidr, Subnet)>, MecError> {
    let vpc_cidr = Ipv4Cidr::parse(&spec.vpc_cidr)
        .map_err(|rule| MecError::invalid_spec("vpc_cidr", &rule))?;
    let Some(block) = vpc_cidr
        .subnet_blocks()
        .into_iter()
        .find(|b| !existing.iter().any(|(c, _)| c.overlaps(b)))
    else {
        return Ok(None);
    };
    let call = aws
        .ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(block.to_string())
        .availability_zone(az)
        .tag_specifications(tags::specification(
            ResourceType::Subnet,
            name_tags(spec, name),
        ));
    let id = match send_once_after_create!("CreateSubnet", call) {
        Ok(created) => created
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_string(),
        // An earlier attempt created it (its answer was lost) and the describe above did
        // not show it yet: take that one.
        Err(MecError::AwsError { code, .. }) if code == "InvalidSubnet.Conflict" => {
            adopt_subnet(aws, vpc_id, &block.to_string()).await?
        }
        Err(e) => return Err(e),
    };
    info!(subnet_id = id, cidr = %block, availability_zone = az, "created subnet");
    Ok(Some((
        block,
        Subnet {
            subnet_id: id,
            availability_zone: az.to_string(),
        },
    )))
}

/// The id of the subnet that holds `cidr` in the VPC, once EC2's describe shows it.
async fn adopt_subnet(aws: &Aws, vpc_id: &str, cidr: &str) -> Result<String, MecError> {
    let call = aws
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(Filter::builder().name("cidr-block").values(cidr).build());
    let id = retry_until_visible("DescribeSubnets", || {
        let call = call.clone();
        async move {
            let found = call
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DescribeSubnets", e))?;
            Ok(found
                .subnets()
                .first()
                .and_then(|s| s.subnet_id())
                .map(str::to_string))
        }
    })
    .await?;
    info!(
        subnet_id = id,
        cidr, "adopted a subnet an earlier attempt created"
    );
    Ok(id)
}

/// The security group named `name` in the VPC (its id and rules), once EC2's describe shows it.
async fn adopt_security_group(
    aws: &Aws,
    vpc_id: &str,
    name: &str,
) -> Result<(String, BTreeSet<Rule>), MecError> {
    let call = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(Filter::builder().name("group-name").values(name).build());
    let id = retry_until_visible("DescribeSecurityGroups", || {
        let call = call.clone();
        async move {
            let found = call
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DescribeSecurityGroups", e))?;
            Ok(found.security_groups().first().and_then(|g| {
                Some((
                    g.group_id()?.to_string(),
                    existing_rules(g.ip_permissions()),
                ))
            }))
        }
    })
    .await?;
    info!(
        group_id = id.0,
        name, "adopted a security group an earlier attempt created"
    );
    Ok(id)
}

/// Every availability zone (by name, so the choice is stable) that offers every instance type
/// of the spec.
async fn choose_availability_zones(
    aws: &Aws,
    spec: &EnvironmentSpec,
) -> Result<Vec<String>, MecError> {
    let wanted: BTreeSet<&str> = [
        spec.instance_type.as_str(),
        spec.worker_instance_type.as_str(),
    ]
    .into();
    let mut offers: Vec<(String, String)> = Vec::new();
    let mut pages = aws
        .ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(
            Filter::builder()
                .name("instance-type")
                .set_values(Some(wanted.iter().map(|t| t.to_string()).collect()))
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("DescribeInstanceTypeOfferings", e))?;
        for offer in page.instance_type_offerings() {
            if let (Some(t), Some(az)) = (offer.instance_type(), offer.location()) {
                offers.push((az.to_string(), t.as_str().to_string()));
            }
        }
    }
    let zones = pick_zones(&offers, &wanted);
    if zones.is_empty() {
        return Err(MecError::invalid_spec(
            "instance_type",
            &format!(
                "no availability zone of this region offers {}",
                wanted.into_iter().collect::<Vec<_>>().join(" and ")
            ),
        ));
    }
    Ok(zones)
}

/// The zones among `offers` (zone, type) that have every wanted type, by name.
pub fn pick_zones(offers: &[(String, String)], wanted: &BTreeSet<&str>) -> Vec<String> {
    let zones: BTreeSet<&str> = offers.iter().map(|(az, _)| az.as_str()).collect();
    zones
        .into_iter()
        .filter(|az| {
            wanted
                .iter()
                .all(|t| offers.iter().any(|(z, ty)| z == az && ty == t))
        })
        .map(str::to_string)
        .collect()
}

async fn ensure_internet_gateway(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
) -> Result<String, MecError> {
    let found = aws
        .ec2
        .describe_internet_gateways()
        .filters(by_env(spec))
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeInternetGateways", e))?;
    // The one attached to the VPC, if a lost answer left several (the others: the teardown's).
    let gateways = found.internet_gateways();
    let chosen = gateways
        .iter()
        .find(|g| g.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)))
        .or_else(|| gateways.iter().min_by_key(|g| g.internet_gateway_id()));
    let (igw_id, attached) = match chosen {
        Some(igw) => (
            igw.internet_gateway_id().unwrap_or_default().to_string(),
            igw.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)),
        ),
        None => {
            let created = send_once!(
                "CreateInternetGateway",
                aws.ec2
                    .create_internet_gateway()
                    .tag_specifications(tags::specification(
                        ResourceType::InternetGateway,
                        name_tags(spec, "igw"),
                    ))
            )?;
            let id = created
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .unwrap_or_default()
                .to_string();
            info!(internet_gateway_id = id, "created internet gateway");
            (id, false)
        }
    };
    if !attached {
        let call = aws
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(&igw_id)
            .vpc_id(vpc_id);
        match send_after_create!("AttachInternetGateway", call) {
            // Attached by an attempt whose answer was lost.
            Err(MecError::AwsError { code, .. }) if code == "Resource.AlreadyAssociated" => {}
            other => {
                other?;
            }
        }
    }
    Ok(igw_id)
}

/// Where a route table's default route goes.
#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    /// The VPC's internet gateway (the region's subnets, a Local Zone's).
    Internet(&'a str),
    /// The VPC's carrier gateway (a Wavelength Zone's subnet).
    Carrier(&'a str),
}

/// The route table named `<env>-<name>`, its default route to `target`, associated with
/// `subnet_ids`; each piece added only when missing.
async fn ensure_route_table(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
    subnet_ids: &[&str],
    name: &str,
    target: Target<'_>,
) -> Result<String, MecError> {
    let found = aws
        .ec2
        .describe_route_tables()
        .filters(by_env(spec))
        .filters(tags::filter(tags::NAME, &format!("{}-{name}", spec.name)))
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeRouteTables", e))?;
    let existing = found.route_tables().first().cloned();
    let table_id = match &existing {
        Some(table) => table.route_table_id().unwrap_or_default().to_string(),
        None => {
            let call = aws
                .ec2
                .create_route_table()
                .vpc_id(vpc_id)
                .tag_specifications(tags::specification(
                    ResourceType::RouteTable,
                    name_tags(spec, name),
                ));
            let created = send_after_create!("CreateRouteTable", call)?;
            created
                .route_table()
                .and_then(|t| t.route_table_id())
                .unwrap_or_default()
                .to_string()
        }
    };
    let has_default_route = existing.as_ref().is_some_and(|t| {
        t.routes().iter().any(|r| {
            r.destination_cidr_block() == Some("0.0.0.0/0")
                && match target {
                    Target::Internet(id) => r.gateway_id() == Some(id),
                    Target::Carrier(id) => r.carrier_gateway_id() == Some(id),
                }
        })
    });
    if !has_default_route {
        let call = aws
            .ec2
            .create_route()
            .route_table_id(&table_id)
            .destination_cidr_block("0.0.0.0/0");
        let call = match target {
            Target::Internet(id) => call.gateway_id(id),
            Target::Carrier(id) => call.carrier_gateway_id(id),
        };
        let created = send_after_create!("CreateRoute", call);
        match created {
            // A retry whose first attempt was applied (its answer lost): the route is there.
            Err(MecError::AwsError { code, .. }) if code == "RouteAlreadyExists" => {}
            other => {
                other?;
            }
        }
    }
    for subnet_id in subnet_ids {
        let associated = existing.as_ref().is_some_and(|t| {
            t.associations()
                .iter()
                .any(|a| a.subnet_id() == Some(*subnet_id))
        });
        if !associated {
            let call = aws
                .ec2
                .associate_route_table()
                .route_table_id(&table_id)
                .subnet_id(*subnet_id);
            let associated = send_after_create!("AssociateRouteTable", call);
            match associated {
                // Associated by an attempt whose answer was lost.
                Err(MecError::AwsError { code, .. }) if code == "Resource.AlreadyAssociated" => {}
                other => {
                    other?;
                }
            }
        }
    }
    Ok(table_id)
}

/// One ingress rule as (protocol, first port, last port, source), source being a group id or a
/// CIDR.
type Rule = (String, i32, i32, String);

/// The rules the cluster group must have: MicroK8s ports from itself, the API from the
/// allowed CIDRs, nothing else (no port 22: nodes are managed through SSM).
pub fn wanted_rules(group_id: &str, api_allowed_cidrs: &[String]) -> BTreeSet<Rule> {
    let mut rules: BTreeSet<Rule> = CLUSTER_PORTS
        .iter()
        .map(|(proto, from, to)| (proto.to_string(), *from, *to, group_id.to_string()))
        .collect();
    for cidr in api_allowed_cidrs {
        rules.insert(("tcp".into(), API_PORT, API_PORT, cidr.clone()));
    }
    rules
}

fn existing_rules(permissions: &[IpPermission]) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    for p in permissions {
        let proto = p.ip_protocol().unwrap_or_default().to_string();
        let (Some(from), Some(to)) = (p.from_port(), p.to_port()) else {
            continue;
        };
        let sources = p
            .user_id_group_pairs()
            .iter()
            .filter_map(|pair| pair.group_id())
            .chain(p.ip_ranges().iter().filter_map(|range| range.cidr_ip()));
        for source in sources {
            rules.insert((proto.clone(), from, to, source.to_string()));
        }
    }
    rules
}

fn to_permission(rule: &Rule) -> IpPermission {
    let (proto, from, to, source) = rule;
    let builder = IpPermission::builder()
        .ip_protocol(proto)
        .from_port(*from)
        .to_port(*to);
    if source.starts_with("sg-") {
        builder
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(source)
                    .description(CLUSTER_RULE_DESCRIPTION)
                    .build(),
            )
            .build()
    } else {
        builder
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip(source)
                    .description(API_RULE_DESCRIPTION)
                    .build(),
            )
            .build()
    }
}

async fn ensure_security_group(
    aws: &Aws,
    spec: &EnvironmentSpec,
    vpc_id: &str,
) -> Result<String, MecError> {
    let found = aws
        .ec2
        .describe_security_groups()
        .filters(by_env(spec))
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeSecurityGroups", e))?;
    let (group_id, existing) = match found.security_groups().first() {
        Some(group) => (
            group.group_id().unwrap_or_default().to_string(),
            existing_rules(group.ip_permissions()),
        ),
        None => {
            let group_name = format!("mec-{}-cluster", spec.name);
            let call = aws
                .ec2
                .create_security_group()
                .group_name(&group_name)
                .description(GROUP_DESCRIPTION)
                .vpc_id(vpc_id)
                .tag_specifications(tags::specification(
                    ResourceType::SecurityGroup,
                    name_tags(spec, "cluster"),
                ));
            match send_once_after_create!("CreateSecurityGroup", call) {
                Ok(created) => (
                    created.group_id().unwrap_or_default().to_string(),
                    BTreeSet::new(),
                ),
                // Created by an attempt whose answer was lost (names are unique in a VPC).
                Err(MecError::AwsError { code, .. }) if code == "InvalidGroup.Duplicate" => {
                    adopt_security_group(aws, vpc_id, &group_name).await?
                }
                Err(e) => return Err(e),
            }
        }
    };
    let missing: Vec<IpPermission> = wanted_rules(&group_id, &spec.api_allowed_cidrs)
        .difference(&existing)
        .map(to_permission)
        .collect();
    if !missing.is_empty() {
        let call = aws
            .ec2
            .authorize_security_group_ingress()
            .group_id(&group_id)
            .set_ip_permissions(Some(missing));
        let result = send_after_create!("AuthorizeSecurityGroupIngress", call);
        match result {
            Ok(_) => {}
            // Another attempt added them in between: the rules we want are there.
            Err(MecError::AwsError { code, .. }) if code == "InvalidPermission.Duplicate" => {}
            Err(e) => return Err(e),
        }
    }
    Ok(group_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_open_no_ssh_and_the_api_only_to_allowed_cidrs() {
        let rules = wanted_rules("sg-1", &["203.0.113.0/24".into()]);
        assert!(rules
            .iter()
            .all(|(_, from, to, _)| !(*from..=*to).contains(&22)));
        let from_outside: Vec<_> = rules
            .iter()
            .filter(|(_, _, _, src)| !src.starts_with("sg-"))
            .collect();
        assert_eq!(
            from_outside,
            vec![&(
                "tcp".to_string(),
                16443,
                16443,
                "203.0.113.0/24".to_string()
            )]
        );
        assert!(rules.contains(&("tcp".into(), 25000, 25000, "sg-1".into())));
        assert!(rules.contains(&("udp".into(), 4789, 4789, "sg-1".into())));
        // NodePort services answer on every node.
        assert!(rules.contains(&("tcp".into(), 30000, 32767, "sg-1".into())));
        assert!(!rules.iter().any(|(_, _, _, src)| src == "0.0.0.0/0"));
    }

    /// EC2 API reference, IpRange / UserIdGroupPair `Description` and CreateSecurityGroup
    /// `GroupDescription`: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*", up to 255.
    fn ec2_description_allowed(text: &str) -> bool {
        text.len() <= 255
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c))
    }

    #[test]
    fn descriptions_use_only_what_ec2_allows() {
        for text in [
            CLUSTER_RULE_DESCRIPTION,
            API_RULE_DESCRIPTION,
            GROUP_DESCRIPTION,
        ] {
            assert!(ec2_description_allowed(text), "{text}");
        }
        assert!(!ec2_description_allowed("the cluster's nodes"));
        let permissions: Vec<IpPermission> = wanted_rules("sg-1", &["203.0.113.0/24".into()])
            .iter()
            .map(to_permission)
            .collect();
        for p in &permissions {
            let descriptions = p
                .user_id_group_pairs()
                .iter()
                .filter_map(|x| x.description())
                .chain(p.ip_ranges().iter().filter_map(|x| x.description()));
            for text in descriptions {
                assert!(ec2_description_allowed(text), "{text}");
            }
        }
    }

    #[test]
    fn existing_rules_are_not_added_again() {
        let wanted = wanted_rules("sg-1", &[]);
        let permissions: Vec<IpPermission> = wanted.iter().map(to_permission).collect();
        assert_eq!(existing_rules(&permissions), wanted);
    }

    #[test]
    fn zone_choice_is_stable_and_needs_every_type() {
        let offers = vec![
            ("us-east-1c".to_string(), "t4g.medium".to_string()),
            ("us-east-1b".to_string(), "t4g.medium".to_string()),
            ("us-east-1b".to_string(), "m7g.large".to_string()),
            ("us-east-1a".to_string(), "m7g.large".to_string()),
        ];
        let both: BTreeSet<&str> = ["t4g.medium", "m7g.large"].into();
        assert_eq!(pick_zones(&offers, &both), ["us-east-1b"]);
        let one: BTreeSet<&str> = ["t4g.medium"].into();
        assert_eq!(pick_zones(&offers, &one), ["us-east-1b", "us-east-1c"]);
        let none: BTreeSet<&str> = ["x1.huge"].into();
        assert!(pick_zones(&offers, &none).is_empty());
    }
}
