//! The teardown step: deletes everything tagged for an environment, in dependency order.
//!
//! One invocation does what it can and reports `complete: false` while instances are still
//! terminating (the state machine waits and calls again, until the deadline the first pass set:
//! `teardown_wait_seconds` from then, deadline.rs). It works on a half-created environment and on
//! one that is already gone: what is not there is simply not deleted.

use aws_sdk_ec2::types::Filter;
use mec_shared::inventory::{self, Resource, ResourceKind};
use mec_shared::spec::validate_name;
use mec_shared::{deadline, expiry, tags, Aws, MecError, Settings};
use serde::{Deserialize, Serialize};
use tracing::{info, Instrument};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeardownInput {
    /// The environment's name.
    pub name: String,
    /// The deadline the first pass returned; none on the first pass.
    #[serde(default)]
    pub deadline: Option<String>,
    /// What the earlier passes removed, carried by the state machine so that the last pass
    /// reports the whole teardown (the record's `rollback_removed`).
    #[serde(default)]
    pub removed: Vec<Resource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeardownOutput {
    pub name: String,
    /// Nothing tagged for the environment is left.
    pub complete: bool,
    /// What this teardown deleted so far, earlier passes included (instances: asked to
    /// terminate).
    pub removed: Vec<Resource>,
    /// What still exists (e.g. instances shutting down).
    pub remaining: Vec<Resource>,
    /// Until when the passes go on.
    pub deadline: String,
    /// The deadline passed with resources still there: the teardown has failed (the reaper
    /// finishes it later).
    pub expired: bool,
}

pub async fn handle(
    aws: &Aws,
    settings: &Settings,
    event: serde_json::Value,
) -> Result<TeardownOutput, MecError> {
    let input: TeardownInput =
        mec_shared::input::parse_value(event, "input", MecError::invalid_input)?;
    validate_name(&input.name).map_err(|_| {
        MecError::invalid_input(
            "name",
            "must be an environment name (3–32 lowercase letters, digits, hyphens)",
        )
    })?;
    let until = match input.deadline {
        Some(at) => {
            deadline::passed(&at, "deadline")?;
            at
        }
        None => deadline::after(settings.teardown_wait_seconds),
    };
    let span = tracing::info_span!("step", environment = %input.name, step = "teardown");
    let mut out = teardown(aws, settings, &input.name, until)
        .instrument(span)
        .await?;
    out.expired = !out.complete && deadline::passed(&out.deadline, "deadline")?;
    out.removed = with_earlier(input.removed, out.removed);
    Ok(out)
}

/// The earlier passes' removals, then this pass's, each resource once (an instance still
/// terminating is asked again on the next pass).
fn with_earlier(mut earlier: Vec<Resource>, now: Vec<Resource>) -> Vec<Resource> {
    for resource in now {
        if !earlier
            .iter()
            .any(|r| r.kind == resource.kind && r.id == resource.id)
        {
            earlier.push(resource);
        }
    }
    earlier
}

pub async fn teardown(
    aws: &Aws,
    settings: &Settings,
    environment: &str,
    deadline: String,
) -> Result<TeardownOutput, MecError> {
    // Say so on the VPC first: if this teardown never finishes, the reaper finishes it.
    mark_deleting(aws, environment).await?;
    let mut removed = Vec::new();
    // The expiry schedule goes first, so that it cannot start a second teardown meanwhile.
    if let Some(group) = settings.schedule_group.as_deref() {
        if expiry::cancel(aws, group, environment).await? {
            removed.push(Resource::new(
                ResourceKind::Schedule,
                expiry::resource_id(group, environment),
            ));
        }
    }
    let found = inventory::list(aws, environment).await?;
    let of = |kind: ResourceKind| {
        found
            .iter()
            .filter(move |r| r.kind == kind)
            .map(|r| r.id.clone())
    };

    // Instances first: everything else in the VPC waits for them to be gone.
    let instances: Vec<String> = of(ResourceKind::Instance).collect();
    if !instances.is_empty() {
        let out = aws
            .ec2
            .terminate_instances()
            .set_instance_ids(Some(instances.clone()))
            .send()
            .await;
        match out.map_err(|e| MecError::from_sdk("TerminateInstances", e)) {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
        let remaining = inventory::list(aws, environment).await?;
        let still_running: Vec<Resource> = remaining
            .iter()
            .filter(|r| r.kind == ResourceKind::Instance)
            .cloned()
            .collect();
        removed.extend(
            instances
                .iter()
                .filter(|id| !still_running.iter().any(|r| &r.id == *id))
                .map(|id| Resource::new(ResourceKind::Instance, id)),
        );
        if !still_running.is_empty() {
            info!(
                terminating = still_running.len(),
                "waiting for instances to terminate"
            );
            return Ok(TeardownOutput {
                name: environment.to_string(),
                complete: false,
                removed,
                remaining,
                deadline,
                expired: false,
            });
        }
    }

    let mut in_use = Vec::new();
    for resource in found.iter().filter(|r| r.kind != ResourceKind::Instance) {
        match delete(aws, resource).await {
            Ok(()) => removed.push(resource.clone()),
            Err(e) if is_not_found(&e) => {}
            // Something (an ENI still detaching, a volume still attached) holds it: next call.
            Err(MecError::ResourceInUse(reason)) => {
                info!(kind = ?resource.kind, id = resource.id, reason, "still in use");
                in_use.push(resource.clone());
            }
            Err(e) => return Err(e),
        }
    }
    let remaining = if in_use.is_empty() {
        inventory::list(aws, environment).await?
    } else {
        in_use
    };
    info!(
        removed = removed.len(),
        remaining = remaining.len(),
        "teardown pass done"
    );
    Ok(TeardownOutput {
        name: environment.to_string(),
        complete: remaining.is_empty(),
        removed,
        remaining,
        deadline,
        expired: false,
    })
}

/// Tags the environment's VPC `mec:status=DELETING` (nothing to do when it is gone already).
async fn mark_deleting(aws: &Aws, environment: &str) -> Result<(), MecError> {
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(tags::environment_filter(environment))
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeVpcs", e))?;
    let unmarked: Vec<String> = vpcs
        .vpcs()
        .iter()
        .filter(|v| tags::value_of(v.tags(), tags::STATUS) != Some(DELETING))
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect();
    if unmarked.is_empty() {
        return Ok(());
    }
    let tagged = aws
        .ec2
        .create_tags()
        .set_resources(Some(unmarked))
        .tags(tags::tag(tags::STATUS, DELETING))
        .send()
        .await
        .map_err(|e| MecError::from_sdk("CreateTags", e));
    match tagged {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

const DELETING: &str = "DELETING";

/// DeleteVolume's answers for a volume that is still attached or already being deleted (EC2
/// API reference, DeleteVolume: "The volume must be in the available state (not attached to an
/// instance)"; error codes `VolumeInUse`, `IncorrectState`).
const VOLUME_BUSY_CODES: &[&str] = &["VolumeInUse", "IncorrectState"];

/// EC2's answer for what is gone already (the other services' are modelled errors, handled
/// where they are called).
fn is_not_found(err: &MecError) -> bool {
    mec_shared::consistency::is_not_found(err)
}

/// Deletes one resource; for the ones with attachments, detaches them first.
async fn delete(aws: &Aws, resource: &Resource) -> Result<(), MecError> {
    let ec2 = &aws.ec2;
    let id = resource.id.as_str();
    match resource.kind {
        ResourceKind::Instance => Ok(()),
        ResourceKind::Volume => {
            let deleted = ec2
                .delete_volume()
                .volume_id(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DeleteVolume", e));
            match deleted {
                // A terminated instance's root volume stays `in-use` while it detaches, then
                // `deleting`: EC2 deletes it itself (DeleteOnTermination); pass again later.
                Err(MecError::AwsError { code, message, .. })
                    if VOLUME_BUSY_CODES.contains(&code.as_str()) =>
                {
                    Err(MecError::ResourceInUse(format!(
                        "DeleteVolume: {code}: {message}"
                    )))
                }
                other => other.map(|_| ()),
            }
        }
        ResourceKind::SecurityGroup => {
            ec2.delete_security_group()
                .group_id(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DeleteSecurityGroup", e))?;
            Ok(())
        }
        ResourceKind::RouteTable => {
            let tables = ec2
                .describe_route_tables()
                .route_table_ids(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DescribeRouteTables", e))?;
            for association in tables.route_tables().iter().flat_map(|t| t.associations()) {
                if association.main() == Some(true) {
                    continue;
                }
                if let Some(association_id) = association.route_table_association_id() {
                    ec2.disassociate_route_table()
                        .association_id(association_id)
                        .send()
                        .await
                        .map_err(|e| MecError::from_sdk("DisassociateRouteTable", e))?;
                }
            }
            ec2.delete_route_table()
                .route_table_id(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DeleteRouteTable", e))?;
            Ok(())
        }
        ResourceKind::CarrierGateway => {
            // Its route table went first (kinds are deleted in order).
            ec2.delete_carrier_gateway()
                .carrier_gateway_id(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DeleteCarrierGateway", e))?;
            Ok(())
        }
        ResourceKind::InternetGateway => {
            let gateways = ec2
                .describe_internet_gateways()
                .filters(
                    Filter::builder()
                        .name("internet-gateway-id")
                        .values(id)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DescribeInternetGateways", e))?;
            for attachment in gateways
                .internet_gateways()
                .iter()
                .flat_map(|g| g.attachments())
            {
                if let Some(vpc_id) = attachment.vpc_id() {
                    let detached = ec2
                        .detach_internet_gateway()
                        .internet_gateway_id(id)
                        .vpc_id(vpc_id)
                        .send()
                        .await
                        .map_err(|e| MecError::from_sdk("DetachInternetGateway", e));
                    match detached {
                        // Detached by an attempt whose answer was lost.
                        Err(MecError::AwsError { code, .. }) if code == "Gateway.NotAttached" => {}
                        other => {
                            other?;
                        }
                    }
                }
            }
            ec2.delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DeleteInternetGateway", e))?;
            Ok(())
        }
        ResourceKind::Subnet => {
            ec2.delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DeleteSubnet", e))?;
            Ok(())
        }
        ResourceKind::Vpc => {
            ec2.delete_vpc()
                .vpc_id(id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("DeleteVpc", e))?;
            Ok(())
        }
        ResourceKind::Schedule => expiry::delete(aws, id).await.map(|_| ()),
        ResourceKind::Parameter => match aws.ssm.delete_parameter().name(id).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found()) =>
            {
                Ok(())
            }
            Err(e) => Err(MecError::from_sdk("DeleteParameter", e)),
        },
    }
}
