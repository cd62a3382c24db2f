//! Launching the cluster's instances: find what exists by tag, launch only what is missing.
//!
//! Shared by the master and workers steps. A retry of the same launch finds the instances of the
//! first attempt by their tags (the emulator does not enforce ClientToken; AWS does, and mec still
//! sends a deterministic one so that a lost response cannot double a batch on AWS).
//!
//! Capacity fallback, per batch: spot workers that get no spot capacity (or hit a spot limit) are
//! launched on demand in the same zone; a zone with no capacity at all is left for the network's
//! next zone. Each node's `mec:market` tag and its zone say what it got.

use aws_sdk_ec2::types::{
    ArchitectureType, BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState,
    IamInstanceProfileSpecification, Instance, InstanceInterruptionBehavior, InstanceLifecycleType,
    InstanceMarketOptionsRequest, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest,
    MarketType, ResourceType, SpotInstanceType, SpotMarketOptions, VolumeType,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tracing::{info, warn};

use crate::aws::Aws;
use crate::consistency;
use crate::error::MecError;
use crate::model::{Market, Network, Node, Subnet};
use crate::naming;
use crate::send_after_create;
use crate::settings::Settings;
use crate::spec::EnvironmentSpec;
use crate::tags::{self, Role};
use crate::user_data;

/// States in which an instance still counts as a node of the environment.
const LIVE_STATES: &[&str] = &["pending", "running", "stopping", "stopped"];

/// What one launch step asks for.
#[derive(Debug, Clone)]
pub struct LaunchRequest<'a> {
    pub spec: &'a EnvironmentSpec,
    pub run_id: &'a str,
    pub network: &'a Network,
    pub role: Role,
}

impl LaunchRequest<'_> {
    fn count(&self) -> u32 {
        match self.role {
            Role::Master => self.spec.masters,
            Role::Worker => self.spec.workers,
            Role::Network => 0,
        }
    }

    fn instance_type(&self) -> &str {
        match self.role {
            Role::Worker => &self.spec.worker_instance_type,
            _ => &self.spec.instance_type,
        }
    }

    fn instance_type_field(&self) -> &'static str {
        match self.role {
            Role::Worker => "worker_instance_type",
            _ => "instance_type",
        }
    }
}

/// Makes sure the environment has `count` live instances of `role`, indexed 0..count, and
/// returns them by index. Calling it again creates nothing that exists already.
pub async fn ensure_nodes(
    aws: &Aws,
    settings: &Settings,
    request: &LaunchRequest<'_>,
) -> Result<Vec<Node>, MecError> {
    let count = request.count();
    let environment = request.spec.name.as_str();
    let mut instances = find_instances(aws, environment, Some(request.role)).await?;
    index_untagged(aws, environment, request.role, &mut instances).await?;

    let missing = count.saturating_sub(instances.len() as u32);
    if missing > 0 {
        let profile = settings.node_instance_profile.as_deref().ok_or_else(|| {
            MecError::Configuration("MEC_NODE_INSTANCE_PROFILE is not set".into())
        })?;
        let image = resolve_image(aws, settings, request).await?;
        let mut free = free_indexes(&instances, count);
        while !free.is_empty() {
            let batch: Vec<u32> = free
                .drain(..free.len().min(batch_size(settings, request.role)))
                .collect();
            let launched = launch_with_fallback(aws, request, &image, profile, &batch).await?;
            for (instance, index) in launched.into_iter().zip(batch.iter()) {
                tag_index(aws, environment, request.role, &instance, *index).await?;
                instances.push(IndexedInstance {
                    index: *index,
                    instance,
                });
            }
        }
        info!(
            role = request.role.as_str(),
            launched = missing,
            "launched instances"
        );
    } else {
        info!(
            role = request.role.as_str(),
            existing = instances.len(),
            "all instances exist"
        );
    }

    instances.sort_by_key(|i| i.index);
    Ok(instances
        .iter()
        .filter(|i| i.index < count)
        .map(|i| to_node(environment, request.role, i))
        .collect())
}

/// Masters launch one per call, so that each can start in a zone of its own (see
/// [`placements_for`]); workers in batches of `launch_batch_size`.
fn batch_size(settings: &Settings, role: Role) -> usize {
    match role {
        Role::Master => 1,
        _ => settings.launch_batch_size.max(1) as usize,
    }
}

/// The zones a batch tries, in order. Workers start in the primary zone; master `i` starts in
/// zone `i` (mod the zone count), which spreads an HA control plane over three zones, so that
/// the dqlite quorum survives the loss of one. Every zone stays a fallback for every node.
pub fn placements_for(network: &Network, role: Role, first_index: u32) -> Vec<Subnet> {
    let mut placements = network.placements();
    if role == Role::Master && !placements.is_empty() {
        let shift = first_index as usize % placements.len();
        placements.rotate_left(shift);
    }
    placements
}

/// An instance and the node index it carries (or was just given).
#[derive(Debug, Clone)]
pub struct IndexedInstance {
    pub index: u32,
    pub instance: Instance,
}

/// Live instances of the environment (of one role, or all), with the index from their tags
/// (`u32::MAX` when a launch died before tagging it).
pub async fn find_instances(
    aws: &Aws,
    environment: &str,
    role: Option<Role>,
) -> Result<Vec<IndexedInstance>, MecError> {
    let mut filters = vec![
        tags::environment_filter(environment),
        Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.iter().map(|s| s.to_string()).collect()))
            .build(),
    ];
    if let Some(role) = role {
        filters.push(tags::filter(tags::ROLE, role.as_str()));
    }
    let mut found = Vec::new();
    let mut pages = aws
        .ec2
        .describe_instances()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("DescribeInstances", e))?;
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            let index = tags::value_of(instance.tags(), tags::INDEX)
                .and_then(|v| v.parse().ok())
                .unwrap_or(u32::MAX);
            found.push(IndexedInstance {
                index,
                instance: instance.clone(),
            });
        }
    }
    Ok(found)
}

/// Gives instances that a died launch left without an index the lowest free indexes.
async fn index_untagged(
    aws: &Aws,
    environment: &str,
    role: Role,
    instances: &mut [IndexedInstance],
) -> Result<(), MecError> {
    let total = instances.len() as u32;
    let mut free = free_indexes(instances, total).into_iter();
    for entry in instances.iter_mut().filter(|i| i.index == u32::MAX) {
        if let Some(index) = free.next() {
            tag_index(aws, environment, role, &entry.instance, index).await?;
            entry.index = index;
        }
    }
    Ok(())
}

/// Indexes below `count` that no instance carries yet, lowest first.
fn free_indexes(instances: &[IndexedInstance], count: u32) -> Vec<u32> {
    (0..count)
        .filter(|i| !instances.iter().any(|e| e.index == *i))
        .collect()
}

async fn tag_index(
    aws: &Aws,
    environment: &str,
    role: Role,
    instance: &Instance,
    index: u32,
) -> Result<(), MecError> {
    let id = instance.instance_id().unwrap_or_default();
    // Right after RunInstances, EC2 may not know the instance yet (eventual consistency).
    send_after_create!(
        "CreateTags",
        aws.ec2
            .create_tags()
            .resources(id)
            .tags(tags::tag(tags::INDEX, &index.to_string()))
            .tags(tags::tag(
                tags::NAME,
                &naming::node_name(environment, role, index),
            ))
    )?;
    Ok(())
}

/// The AMI and root device for the instance type's architecture.
#[derive(Debug, Clone)]
struct Image {
    id: String,
    root_device: String,
}

async fn resolve_image(
    aws: &Aws,
    settings: &Settings,
    request: &LaunchRequest<'_>,
) -> Result<Image, MecError> {
    let instance_type = request.instance_type();
    let types = aws
        .ec2
        .describe_instance_types()
        .instance_types(instance_type.into())
        .send()
        .await;
    let types = match types {
        Ok(t) => t,
        Err(e) => {
            let err = MecError::from_sdk("DescribeInstanceTypes", e);
            return Err(match &err {
                MecError::AwsError { code, .. } if code.starts_with("InvalidInstanceType") => {
                    unknown_type(request)
                }
                _ => err,
            });
        }
    };
    let info = types
        .instance_types()
        .first()
        .ok_or_else(|| unknown_type(request))?;
    let arm = info
        .processor_info()
        .map(|p| {
            p.supported_architectures()
                .contains(&ArchitectureType::Arm64)
        })
        .unwrap_or(false);

    let id = match &settings.ami_override {
        Some(id) => id.clone(),
        None => {
            let parameter = if arm {
                &settings.ami_parameter_arm64
            } else {
                &settings.ami_parameter_x86_64
            };
            let out = aws
                .ssm
                .get_parameter()
                .name(parameter)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("GetParameter", e))?;
            out.parameter()
                .and_then(|p| p.value())
                .map(str::to_string)
                .ok_or_else(|| {
                    MecError::Configuration(format!("AMI parameter {parameter} has no value"))
                })?
        }
    };
    let images = aws
        .ec2
        .describe_images()
        .image_ids(&id)
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeImages", e))?;
    let image = images.images().first().ok_or_else(|| {
        MecError::Configuration(format!("AMI {id} does not exist in this region"))
    })?;
    Ok(Image {
        root_device: image.root_device_name().unwrap_or("/dev/sda1").to_string(),
        id,
    })
}

fn unknown_type(request: &LaunchRequest<'_>) -> MecError {
    MecError::invalid_spec(
        request.instance_type_field(),
        &format!(
            "`{}` is not an EC2 instance type offered in this region",
            request.instance_type()
        ),
    )
}

/// Error codes after which spot workers are launched on demand instead (EC2 API error codes): no
/// spot capacity, a spot-only limit, or no permission for spot — the launch policy lacks the
/// `spot-instances-request` resource (`UnauthorizedOperation`), or the account has no EC2 Spot
/// service-linked role and the caller may not create it
/// (`AuthFailure.ServiceLinkedRoleCreationNotPermitted`). An on-demand launch that is refused
/// too stops there with its own error.
pub const SPOT_FALLBACK_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "UnfulfillableCapacity",
    "MaxSpotInstanceCountExceeded",
    "SpotMaxPriceTooLow",
    "UnauthorizedOperation",
    "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
];

/// Error codes after which the next availability zone is tried: the zone has no capacity.
pub const ZONE_FALLBACK_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "UnfulfillableCapacity",
];

/// The markets to try, in order: spot then on demand for spot workers, on demand otherwise.
pub fn markets(role: Role, spot: bool) -> Vec<Market> {
    if role == Role::Worker && spot {
        vec![Market::Spot, Market::OnDemand]
    } else {
        vec![Market::OnDemand]
    }
}

/// What to do after a failed RunInstances with `code` in `market`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Same zone, next market (spot → on demand).
    NextMarket,
    /// Next zone, markets from the start.
    NextZone,
    /// A final or retry-later error: stop here.
    Stop,
}

pub fn fallback_for(market: Market, code: &str) -> Fallback {
    match market {
        Market::Spot if SPOT_FALLBACK_CODES.contains(&code) => Fallback::NextMarket,
        Market::OnDemand if ZONE_FALLBACK_CODES.contains(&code) => Fallback::NextZone,
        _ => Fallback::Stop,
    }
}

/// Launches one batch, falling back through markets and zones (see the module comment). When
/// every zone is out of capacity the error is `CapacityUnavailable`: the state machine retries.
async fn launch_with_fallback(
    aws: &Aws,
    request: &LaunchRequest<'_>,
    image: &Image,
    profile: &str,
    indexes: &[u32],
) -> Result<Vec<Instance>, MecError> {
    let markets = markets(request.role, request.spec.spot);
    let mut attempt = 0u32;
    let mut refused = Vec::new();
    let first = indexes.first().copied().unwrap_or(0);
    'zones: for placement in placements_for(request.network, request.role, first) {
        for market in &markets {
            let target = Target {
                subnet: &placement,
                market: *market,
                attempt,
            };
            attempt += 1;
            match run_batch(aws, request, image, profile, indexes, &target).await {
                Ok(instances) => {
                    if !refused.is_empty() {
                        info!(
                            role = request.role.as_str(),
                            market = market.as_str(),
                            availability_zone = placement.availability_zone,
                            "launched after falling back"
                        );
                    }
                    return Ok(instances);
                }
                Err((code, err)) => {
                    let fallback = fallback_for(*market, &code);
                    if fallback == Fallback::Stop {
                        return Err(err);
                    }
                    warn!(
                        role = request.role.as_str(),
                        market = market.as_str(),
                        availability_zone = placement.availability_zone,
                        code,
                        "no capacity, falling back"
                    );
                    refused.push(format!(
                        "{} in {}: {code}",
                        market.as_str(),
                        placement.availability_zone
                    ));
                    if fallback == Fallback::NextZone {
                        continue 'zones;
                    }
                }
            }
        }
    }
    Err(MecError::CapacityUnavailable(format!(
        "RunInstances for {} {} node(s) of {}: {}",
        indexes.len(),
        request.role.as_str(),
        request.instance_type(),
        refused.join("; ")
    )))
}

/// Where and how one RunInstances call launches.
struct Target<'a> {
    subnet: &'a Subnet,
    market: Market,
    /// Numbers the fallback attempts of a batch: each gets its own ClientToken.
    attempt: u32,
}

/// One RunInstances call for the nodes `indexes` (all or nothing: MinCount = MaxCount). A failure
/// comes with EC2's error code, which decides the fallback.
async fn run_batch(
    aws: &Aws,
    request: &LaunchRequest<'_>,
    image: &Image,
    profile: &str,
    indexes: &[u32],
    target: &Target<'_>,
) -> Result<Vec<Instance>, (String, MecError)> {
    let spec = request.spec;
    let count = indexes.len() as i32;
    let first = indexes.first().copied().unwrap_or(0);
    let role = request.role;
    let name = format!("{}-{}", spec.name, role.as_str());
    let mut instance_tags = tags::resource_tags(&spec.name, role, &name, &spec.tags);
    instance_tags.push(tags::tag(tags::MARKET, target.market.as_str()));
    let volume_tags = tags::resource_tags(&spec.name, role, &format!("{name}-root"), &spec.tags);
    let batch = naming::launch_batch_key(first, indexes.len() as u32, target.attempt);
    let mut call = aws
        .ec2
        .run_instances()
        .image_id(&image.id)
        .instance_type(request.instance_type().into())
        .min_count(count)
        .max_count(count)
        .subnet_id(&target.subnet.subnet_id)
        .security_group_ids(&request.network.security_group_id)
        .iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .name(profile)
                .build(),
        )
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(HttpTokensState::Required)
                .http_endpoint(InstanceMetadataEndpointState::Enabled)
                .http_put_response_hop_limit(1)
                .build(),
        )
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(&image.root_device)
                .ebs(
                    EbsBlockDevice::builder()
                        .volume_size(spec.root_volume_gib as i32)
                        .volume_type(VolumeType::Gp3)
                        .encrypted(true)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        // The MicroK8s snap downloads at boot, while the SSM agent registers (no secrets here:
        // anything on the instance can read its user data).
        .user_data(user_data::prefetch(&spec.microk8s_channel))
        .tag_specifications(tags::specification(ResourceType::Instance, instance_tags))
        .tag_specifications(tags::specification(ResourceType::Volume, volume_tags))
        .client_token(naming::client_token(
            &spec.name,
            request.run_id,
            role,
            batch,
        ));
    if target.market == Market::Spot {
        call = call.instance_market_options(
            InstanceMarketOptionsRequest::builder()
                .market_type(MarketType::Spot)
                .spot_options(
                    SpotMarketOptions::builder()
                        .spot_instance_type(SpotInstanceType::OneTime)
                        .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                        .build(),
                )
                .build(),
        );
    }
    // The subnet and security group may have been created moments ago: while EC2 does not know
    // them yet (eventual consistency), the same call is tried again. Its ClientToken is unused
    // until a call succeeds.
    let mut pauses = consistency::DELAYS_MS.iter();
    let out = loop {
        match call.clone().send().await {
            Ok(out) => break out,
            Err(e) => {
                let code = e.code().unwrap_or_default().to_string();
                let err = MecError::from_sdk("RunInstances", e);
                match pauses.next() {
                    Some(ms) if consistency::is_not_found(&err) => {
                        tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
                    }
                    _ => return Err((code, err)),
                }
            }
        }
    };
    let mut instances = out.instances().to_vec();
    // AMI launch index order = the order of `indexes`, so node numbers follow launch order.
    instances.sort_by_key(|i| i.ami_launch_index().unwrap_or(0));
    Ok(instances)
}

/// How the instance was bought: its `mec:market` tag, else what EC2 says (an untagged instance
/// of a launch that died before tagging still has EC2's lifecycle).
fn market_of(instance: &Instance) -> Market {
    tags::value_of(instance.tags(), tags::MARKET)
        .and_then(Market::parse)
        .unwrap_or(match instance.instance_lifecycle() {
            Some(InstanceLifecycleType::Spot) => Market::Spot,
            _ => Market::OnDemand,
        })
}

fn to_node(environment: &str, role: Role, entry: &IndexedInstance) -> Node {
    Node {
        instance_id: entry.instance.instance_id().unwrap_or_default().to_string(),
        name: naming::node_name(environment, role, entry.index),
        role,
        index: entry.index,
        private_ip: entry.instance.private_ip_address().map(str::to_string),
        public_ip: entry.instance.public_ip_address().map(str::to_string),
        market: Some(market_of(&entry.instance)),
        availability_zone: entry
            .instance
            .placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed(index: u32) -> IndexedInstance {
        IndexedInstance {
            index,
            instance: Instance::builder().build(),
        }
    }

    #[test]
    fn free_indexes_fill_the_gaps_first() {
        let existing = [indexed(0), indexed(2), indexed(u32::MAX)];
        assert_eq!(free_indexes(&existing, 5), vec![1, 3, 4]);
        assert_eq!(free_indexes(&[], 3), vec![0, 1, 2]);
        assert!(free_indexes(&[indexed(0)], 1).is_empty());
    }

    #[test]
    fn masters_start_in_zones_of_their_own() {
        let subnet = |id: &str, az: &str| Subnet {
            subnet_id: id.into(),
            availability_zone: az.into(),
        };
        let network = Network {
            vpc_id: "vpc-1".into(),
            subnet_id: "subnet-a".into(),
            availability_zone: "az-a".into(),
            internet_gateway_id: "igw-1".into(),
            route_table_id: "rtb-1".into(),
            security_group_id: "sg-1".into(),
            subnets: vec![
                subnet("subnet-a", "az-a"),
                subnet("subnet-b", "az-b"),
                subnet("subnet-c", "az-c"),
            ],
        };
        let zones = |role, index| -> Vec<String> {
            placements_for(&network, role, index)
                .into_iter()
                .map(|s| s.availability_zone)
                .collect()
        };
        assert_eq!(zones(Role::Master, 0), ["az-a", "az-b", "az-c"]);
        assert_eq!(zones(Role::Master, 1), ["az-b", "az-c", "az-a"]);
        assert_eq!(zones(Role::Master, 2), ["az-c", "az-a", "az-b"]);
        assert_eq!(zones(Role::Master, 3), ["az-a", "az-b", "az-c"]);
        assert_eq!(zones(Role::Worker, 2), ["az-a", "az-b", "az-c"]);
        let single = Network {
            subnets: vec![],
            ..network.clone()
        };
        assert_eq!(placements_for(&single, Role::Master, 2).len(), 1);
    }

    #[test]
    fn only_spot_workers_try_spot_first() {
        assert_eq!(
            markets(Role::Worker, true),
            vec![Market::Spot, Market::OnDemand]
        );
        assert_eq!(markets(Role::Worker, false), vec![Market::OnDemand]);
        assert_eq!(markets(Role::Master, true), vec![Market::OnDemand]);
    }

    #[test]
    fn fallback_rules() {
        use Fallback::*;
        let spot = Market::Spot;
        let od = Market::OnDemand;
        assert_eq!(
            fallback_for(spot, "InsufficientInstanceCapacity"),
            NextMarket
        );
        assert_eq!(
            fallback_for(spot, "MaxSpotInstanceCountExceeded"),
            NextMarket
        );
        assert_eq!(fallback_for(spot, "SpotMaxPriceTooLow"), NextMarket);
        assert_eq!(fallback_for(od, "InsufficientInstanceCapacity"), NextZone);
        assert_eq!(fallback_for(od, "MaxSpotInstanceCountExceeded"), Stop);
        assert_eq!(fallback_for(od, "InstanceLimitExceeded"), Stop);
        assert_eq!(fallback_for(spot, "UnauthorizedOperation"), NextMarket);
        assert_eq!(
            fallback_for(spot, "AuthFailure.ServiceLinkedRoleCreationNotPermitted"),
            NextMarket
        );
        assert_eq!(fallback_for(od, "UnauthorizedOperation"), Stop);
        assert_eq!(fallback_for(spot, "InvalidParameterValue"), Stop);
        assert_eq!(fallback_for(od, ""), Stop);
    }

    #[test]
    fn market_comes_from_the_tag_then_the_lifecycle() {
        let tagged = Instance::builder()
            .tags(tags::tag(tags::MARKET, "on-demand"))
            .instance_lifecycle(InstanceLifecycleType::Spot)
            .build();
        assert_eq!(market_of(&tagged), Market::OnDemand);
        let untagged = Instance::builder()
            .instance_lifecycle(InstanceLifecycleType::Spot)
            .build();
        assert_eq!(market_of(&untagged), Market::Spot);
        assert_eq!(market_of(&Instance::builder().build()), Market::OnDemand);
    }
}

/// Input of the master and workers steps.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchInput {
    pub spec: EnvironmentSpec,
    pub run_id: String,
    pub network: Network,
}

/// Output of the master and workers steps: the nodes, by index.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct LaunchOutput {
    pub nodes: Vec<Node>,
}

/// The whole master or workers step: parse, validate, launch what is missing.
pub async fn handle_launch(
    aws: &Aws,
    settings: &Settings,
    role: Role,
    event: serde_json::Value,
) -> Result<LaunchOutput, MecError> {
    let input: LaunchInput = crate::input::parse_value(event, "input", MecError::invalid_input)?;
    input.spec.validate()?;
    crate::model::validate_run_id(&input.run_id)?;
    let step = match role {
        Role::Master => "master",
        _ => "workers",
    };
    let span = tracing::info_span!("step", environment = %input.spec.name, step);
    let request = LaunchRequest {
        spec: &input.spec,
        run_id: &input.run_id,
        network: &input.network,
        role,
    };
    let nodes =
        tracing::Instrument::instrument(ensure_nodes(aws, settings, &request), span).await?;
    Ok(LaunchOutput { nodes })
}
