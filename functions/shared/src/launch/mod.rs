//! Launching the cluster's instances: find what exists by tag, launch only what is missing.
//!
//! Shared by the master and workers steps. A retry of the same launch finds the instances of the
//! first attempt by their tags (the emulator does not enforce ClientToken; AWS does, and mec still
//! sends a deterministic one so that a lost response cannot double a batch on AWS).
//!
//! Capacity fallback, per batch: spot workers that get no spot capacity (or hit a spot limit) are
//! launched on demand in the same zone; a zone with no capacity at all is left for the network's
//! next zone. Each node's `mec:market` tag and its zone say what it got.
//!
//! By concern: this file has the step (input, output, the launch loop); [`existing`] finds the
//! environment's instances and their indexes; [`image`] picks the AMI; [`capacity`] makes one
//! batch's RunInstances with its fallbacks.

use aws_sdk_ec2::types::{
    ArchitectureType, BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState,
    IamInstanceProfileSpecification, Instance, InstanceInterruptionBehavior, InstanceLifecycleType,
    InstanceMarketOptionsRequest, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest,
    InstanceNetworkInterfaceSpecification, MarketType, ResourceType, SpotInstanceType,
    SpotMarketOptions, VolumeType,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tracing::{info, warn};

use crate::aws::Aws;
use crate::consistency;
use crate::error::MecError;
use crate::model::{EdgeNetwork, Market, Network, Node, Subnet};
use crate::naming;
use crate::send_after_create;
use crate::settings::Settings;
use crate::spec::EnvironmentSpec;
use crate::tags::{self, Role};
use crate::user_data;

mod capacity;
mod existing;
mod image;

use capacity::*;
pub use capacity::{fallback_for, markets, Fallback, SPOT_FALLBACK_CODES, ZONE_FALLBACK_CODES};
use existing::*;
pub use existing::{find_instances, IndexedInstance};
use image::*;

/// What one launch step asks for.
#[derive(Debug, Clone)]
pub struct LaunchRequest<'a> {
    pub spec: &'a EnvironmentSpec,
    pub run_id: &'a str,
    pub network: &'a Network,
    pub role: Role,
    /// Some: this launch is the edge workers' (in the edge zone's subnet), numbered after the
    /// region's workers.
    pub edge: Option<&'a EdgeNetwork>,
}

impl LaunchRequest<'_> {
    fn count(&self) -> u32 {
        match (self.role, self.edge) {
            (Role::Worker, Some(_)) => self.spec.edge_workers(),
            (Role::Master, _) => self.spec.masters,
            (Role::Worker, None) => self.spec.workers,
            (Role::Network, _) => 0,
        }
    }

    /// The node indexes this launch owns: the edge workers follow the region's.
    fn indexes(&self) -> std::ops::Range<u32> {
        let first = match self.edge {
            Some(_) => self.spec.workers,
            None => 0,
        };
        first..first + self.count()
    }

    /// True for an instance of this launch's pool: in the edge subnet for the edge workers,
    /// elsewhere for the others.
    fn owns(&self, instance: &Instance) -> bool {
        let edge_subnet = self.network.edge.as_ref().map(|e| e.subnet_id.as_str());
        let in_edge = edge_subnet.is_some() && instance.subnet_id() == edge_subnet;
        in_edge == self.edge.is_some()
    }

    fn instance_type(&self) -> &str {
        match (self.role, self.edge) {
            (_, Some(edge)) => &edge.instance_type,
            (Role::Worker, None) => &self.spec.worker_instance_type,
            _ => &self.spec.instance_type,
        }
    }

    fn instance_type_field(&self) -> &'static str {
        match (self.role, self.edge) {
            (_, Some(_)) => "edge.zone",
            (Role::Worker, None) => "worker_instance_type",
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
    let indexes = request.indexes();
    let environment = request.spec.name.as_str();
    let mut instances: Vec<IndexedInstance> = find_instances(aws, environment, Some(request.role))
        .await?
        .into_iter()
        .filter(|i| request.owns(&i.instance))
        .collect();
    index_untagged(aws, environment, request.role, &mut instances, &indexes).await?;

    let missing = count.saturating_sub(instances.len() as u32);
    if missing > 0 {
        let profile = settings.node_instance_profile.as_deref().ok_or_else(|| {
            MecError::Configuration("MEC_NODE_INSTANCE_PROFILE is not set".into())
        })?;
        let image = resolve_image(aws, settings, request).await?;
        let mut free = free_indexes(&instances, &indexes);
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
        .filter(|i| indexes.contains(&i.index))
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

fn to_node(environment: &str, role: Role, entry: &IndexedInstance) -> Node {
    Node {
        instance_id: entry.instance.instance_id().unwrap_or_default().to_string(),
        name: naming::node_name(environment, role, entry.index),
        role,
        index: entry.index,
        private_ip: entry.instance.private_ip_address().map(str::to_string),
        // A Wavelength instance has a carrier address instead (reached from the carrier's
        // network).
        public_ip: entry
            .instance
            .public_ip_address()
            .or_else(|| {
                entry
                    .instance
                    .network_interfaces()
                    .iter()
                    .find_map(|n| n.association().and_then(|a| a.carrier_ip()))
            })
            .map(str::to_string),
        market: Some(market_of(&entry.instance)),
        availability_zone: entry
            .instance
            .placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_string),
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
    if input.spec.edge.is_some() && input.network.edge.is_none() && role == Role::Worker {
        return Err(MecError::invalid_input(
            "network.edge",
            "is missing: the spec has edge workers (run the network step again)",
        ));
    }
    let request = LaunchRequest {
        spec: &input.spec,
        run_id: &input.run_id,
        network: &input.network,
        role,
        edge: None,
    };
    // The edge workers launch next to the region's, in their own zone.
    let edge = match (role, input.network.edge.as_ref()) {
        (Role::Worker, Some(edge)) if input.spec.edge_workers() > 0 => Some(LaunchRequest {
            edge: Some(edge),
            ..request.clone()
        }),
        _ => None,
    };
    let launches = async {
        match &edge {
            Some(edge) => {
                let (mut nodes, edge_nodes) = tokio::try_join!(
                    ensure_nodes(aws, settings, &request),
                    ensure_nodes(aws, settings, edge)
                )?;
                nodes.extend(edge_nodes);
                Ok(nodes)
            }
            None => ensure_nodes(aws, settings, &request).await,
        }
    };
    let nodes = tracing::Instrument::instrument(launches, span).await?;
    Ok(LaunchOutput { nodes })
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
        assert_eq!(free_indexes(&existing, &(0..5)), vec![1, 3, 4]);
        assert_eq!(free_indexes(&[], &(0..3)), vec![0, 1, 2]);
        assert!(free_indexes(&[indexed(0)], &(0..1)).is_empty());
        // The edge workers' range follows the region's workers.
        assert_eq!(free_indexes(&existing, &(2..5)), vec![3, 4]);
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
            edge: None,
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
