//! What steps hand to each other: the run, the network, the nodes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::MecError;
use crate::tags::Role;

/// Identifies one provisioning run (the Step Functions execution name): retries of a step within
/// a run reuse its idempotency tokens, a new run gets new ones.
pub fn validate_run_id(run_id: &str) -> Result<(), MecError> {
    let ok = (1..=80).contains(&run_id.len())
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(MecError::invalid_input(
            "run_id",
            "must be 1–80 characters: letters, digits, hyphens and underscores",
        ))
    }
}

/// The environment's network, as the network step built or found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub vpc_id: String,
    pub subnet_id: String,
    pub availability_zone: String,
    pub internet_gateway_id: String,
    pub route_table_id: String,
    pub security_group_id: String,
    /// Every public subnet of the environment, one per availability zone, the primary
    /// (`subnet_id`) first: launches try the next one when a zone has no capacity.
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// The edge zone's subnet and what was chosen for its workers (null without `edge`).
    #[serde(default)]
    pub edge: Option<EdgeNetwork>,
}

/// The network of the edge workers, and the capacity facts the network step found for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeNetwork {
    pub zone: String,
    pub zone_type: crate::edge::ZoneType,
    pub subnet_id: String,
    /// The Wavelength Zone's carrier gateway (its subnet routes through it); null in a Local
    /// Zone, whose subnet routes through the VPC's internet gateway.
    pub carrier_gateway_id: Option<String>,
    /// The instance type of the edge workers: the first of the edge list the zone offers.
    pub instance_type: String,
    /// Their root volume type.
    pub volume_type: String,
    /// Why these: which types the zone lacked, the volume type, the market.
    pub reason: String,
}

impl Network {
    /// Where to launch, in order of preference: the primary subnet, then the other zones.
    pub fn placements(&self) -> Vec<Subnet> {
        let mut all = vec![Subnet {
            subnet_id: self.subnet_id.clone(),
            availability_zone: self.availability_zone.clone(),
        }];
        for subnet in &self.subnets {
            if !all.iter().any(|s| s.subnet_id == subnet.subnet_id) {
                all.push(subnet.clone());
            }
        }
        all
    }
}

/// One public subnet and its availability zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub subnet_id: String,
    pub availability_zone: String,
}

/// How an instance is bought: spot, or on demand (also the fallback when spot has no capacity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Market {
    Spot,
    OnDemand,
}

impl Market {
    pub fn as_str(&self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::OnDemand => "on-demand",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "spot" => Some(Market::Spot),
            "on-demand" => Some(Market::OnDemand),
            _ => None,
        }
    }
}

/// One EC2 instance of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub instance_id: String,
    pub name: String,
    pub role: Role,
    pub index: u32,
    #[serde(default)]
    pub private_ip: Option<String>,
    #[serde(default)]
    pub public_ip: Option<String>,
    /// Spot or on-demand, as launched (absent in inputs from before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<Market>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// Checks a node list from a step input: ids look like EC2 ids, names are unique.
fn validate_nodes(field: &str, nodes: &[Node]) -> Result<(), MecError> {
    for (i, node) in nodes.iter().enumerate() {
        let id_ok = node.instance_id.starts_with("i-")
            && node.instance_id.len() <= 32
            && node.instance_id[2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric());
        if !id_ok {
            return Err(MecError::invalid_input(
                &format!("{field}[{i}].instance_id"),
                "must be an EC2 instance id like i-0123456789abcdef0",
            ));
        }
        if nodes[..i]
            .iter()
            .any(|n| n.instance_id == node.instance_id || n.name == node.name)
        {
            return Err(MecError::invalid_input(
                &format!("{field}[{i}]"),
                "appears twice (same instance id or name)",
            ));
        }
    }
    Ok(())
}

/// Checks the node lists a cluster step receives: at least one master, each list well formed.
pub fn validate_cluster(masters: &[Node], workers: &[Node]) -> Result<(), MecError> {
    validate_nodes("masters", masters)?;
    validate_nodes("workers", workers)?;
    if masters.is_empty() {
        return Err(MecError::invalid_input(
            "masters",
            "must list at least one node",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids() {
        assert!(validate_run_id("exec-2026-11-28_1").is_ok());
        assert!(validate_run_id("").is_err());
        assert!(validate_run_id("a b").is_err());
        assert!(validate_run_id(&"x".repeat(81)).is_err());
    }

    fn node(id: &str, name: &str) -> Node {
        Node {
            instance_id: id.into(),
            name: name.into(),
            role: Role::Worker,
            index: 0,
            private_ip: None,
            public_ip: None,
            market: None,
            availability_zone: None,
        }
    }

    #[test]
    fn node_lists() {
        assert!(validate_nodes("workers", &[node("i-1", "a"), node("i-2", "b")]).is_ok());
        let dup = validate_nodes("workers", &[node("i-1", "a"), node("i-1", "b")]);
        assert!(matches!(dup, Err(MecError::InvalidInput { field, .. }) if field == "workers[1]"));
        let bad = validate_nodes("masters", &[node("x-1", "a")]);
        assert!(
            matches!(bad, Err(MecError::InvalidInput { field, .. }) if field == "masters[0].instance_id")
        );
    }
}
