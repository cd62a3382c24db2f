//! One batch's RunInstances, with the capacity fallbacks: spot to on demand, then the next zone.

use super::*;

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
pub(crate) async fn launch_with_fallback(
    aws: &Aws,
    request: &LaunchRequest<'_>,
    image: &Image,
    profile: &str,
    indexes: &[u32],
) -> Result<Vec<Instance>, MecError> {
    // Edge workers: on demand (Spot is not offered in every edge zone), in their zone only.
    let markets = match request.edge {
        Some(_) => vec![Market::OnDemand],
        None => markets(request.role, request.spec.spot),
    };
    let mut attempt = 0u32;
    let mut refused = Vec::new();
    let first = indexes.first().copied().unwrap_or(0);
    let placements = match request.edge {
        Some(edge) => vec![Subnet {
            subnet_id: edge.subnet_id.clone(),
            availability_zone: edge.zone.clone(),
        }],
        None => placements_for(request.network, request.role, first),
    };
    'zones: for placement in placements {
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
pub(crate) struct Target<'a> {
    subnet: &'a Subnet,
    market: Market,
    /// Numbers the fallback attempts of a batch: each gets its own ClientToken.
    attempt: u32,
}

/// One RunInstances call for the nodes `indexes` (all or nothing: MinCount = MaxCount). A failure
/// comes with EC2's error code, which decides the fallback.
pub(crate) async fn run_batch(
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
                        .volume_type(match request.edge {
                            Some(edge) => VolumeType::from(edge.volume_type.as_str()),
                            None => VolumeType::Gp3,
                        })
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
    // A Wavelength Zone's instances get a carrier address, asked for on the network interface
    // (RunInstances NetworkInterface AssociateCarrierIpAddress); every other one gets its
    // subnet's public address.
    call = match request.edge {
        Some(edge) if edge.zone_type == crate::edge::ZoneType::WavelengthZone => call
            .network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .subnet_id(&target.subnet.subnet_id)
                    .groups(&request.network.security_group_id)
                    .associate_carrier_ip_address(true)
                    .delete_on_termination(true)
                    .build(),
            ),
        _ => call
            .subnet_id(&target.subnet.subnet_id)
            .security_group_ids(&request.network.security_group_id),
    };
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
pub(crate) fn market_of(instance: &Instance) -> Market {
    tags::value_of(instance.tags(), tags::MARKET)
        .and_then(Market::parse)
        .unwrap_or(match instance.instance_lifecycle() {
            Some(InstanceLifecycleType::Spot) => Market::Spot,
            _ => Market::OnDemand,
        })
}
