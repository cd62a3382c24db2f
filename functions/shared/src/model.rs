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
