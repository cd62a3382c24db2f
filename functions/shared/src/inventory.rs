//! Everything an environment owns, found by its tags — one describe per resource type.
//!
//! Teardown deletes from this list and the leak audit checks it is empty. Every type is listed
//! on its own: emulators (and a died step) can leave a child behind a deleted parent.

use crate::aws::Aws;
use crate::error::MecError;
use crate::naming;
pub use crate::resource::{Resource, ResourceKind};
use crate::tags;
pub use crate::tags::values_filter;

/// Instance states that still cost money or hold an address.
const NOT_TERMINATED: &[&str] = &["pending", "running", "shutting-down", "stopping", "stopped"];

/// Lists every resource tagged for the environment (and its parameters), sorted by kind.
pub async fn list(aws: &Aws, environment: &str) -> Result<Vec<Resource>, MecError> {
    let by_env = || tags::environment_filter(environment);
    let mut found = Vec::new();

    let mut pages = aws
        .ec2
        .describe_instances()
        .filters(by_env())
        .filters(values_filter("instance-state-name", NOT_TERMINATED))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("DescribeInstances", e))?;
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            push(&mut found, ResourceKind::Instance, instance.instance_id());
        }
    }

    let volumes = aws
        .ec2
        .describe_volumes()
        .filters(by_env())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeVolumes", e))?;
    // A `deleted` volume is gone (DescribeVolumes may still show it for a moment); a `deleting`
    // one is not gone yet: teardown waits for it.
    for volume in volumes
        .volumes()
        .iter()
        .filter(|v| v.state() != Some(&aws_sdk_ec2::types::VolumeState::Deleted))
    {
        push(&mut found, ResourceKind::Volume, volume.volume_id());
    }

    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(by_env())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeSecurityGroups", e))?;
    for group in groups.security_groups() {
        push(&mut found, ResourceKind::SecurityGroup, group.group_id());
    }

    let tables = aws
        .ec2
        .describe_route_tables()
        .filters(by_env())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeRouteTables", e))?;
    for table in tables.route_tables() {
        push(&mut found, ResourceKind::RouteTable, table.route_table_id());
    }

    let gateways = aws
        .ec2
        .describe_internet_gateways()
        .filters(by_env())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeInternetGateways", e))?;
    for gateway in gateways.internet_gateways() {
        push(
            &mut found,
            ResourceKind::InternetGateway,
            gateway.internet_gateway_id(),
        );
    }

    let carriers = aws
        .ec2
        .describe_carrier_gateways()
        .filters(by_env())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeCarrierGateways", e))?;
    // A deleted carrier gateway stays visible for a while, in state `deleted`.
    for gateway in carriers
        .carrier_gateways()
        .iter()
        .filter(|g| g.state().map(|s| s.as_str()) != Some("deleted"))
    {
        push(
            &mut found,
            ResourceKind::CarrierGateway,
            gateway.carrier_gateway_id(),
        );
    }

    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(by_env())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeSubnets", e))?;
    for subnet in subnets.subnets() {
        push(&mut found, ResourceKind::Subnet, subnet.subnet_id());
    }

    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(by_env())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeVpcs", e))?;
    for vpc in vpcs.vpcs() {
        push(&mut found, ResourceKind::Vpc, vpc.vpc_id());
    }

    for name in parameter_names(aws, environment).await? {
        found.push(Resource::new(ResourceKind::Parameter, name));
    }

    found.sort();
    Ok(found)
}

/// Names of the SSM parameters under the environment's prefix.
pub async fn parameter_names(aws: &Aws, environment: &str) -> Result<Vec<String>, MecError> {
    let mut names = Vec::new();
    let mut pages = aws
        .ssm
        .get_parameters_by_path()
        .path(naming::parameter_prefix(environment).trim_end_matches('/'))
        .recursive(true)
        .with_decryption(false)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("GetParametersByPath", e))?;
        names.extend(
            page.parameters()
                .iter()
                .filter_map(|p| p.name())
                .map(str::to_string),
        );
    }
    Ok(names)
}

fn push(found: &mut Vec<Resource>, kind: ResourceKind, id: Option<&str>) {
    if let Some(id) = id {
        found.push(Resource::new(kind, id));
    }
}
