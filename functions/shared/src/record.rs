//! The environment record: what status, the API and the CLI report about one environment.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::catalogue::{AddonReport, AddonStatus};
use crate::error::ErrorInfo;
use crate::resource::Resource;
use crate::tags::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Creating,
    Ready,
    Failed,
    Deleting,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRecord {
    pub instance_id: String,
    pub name: String,
    pub role: Role,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    /// Spot or on-demand, after any fallback.
    #[serde(default)]
    pub market: Option<crate::model::Market>,
    /// Where it runs, after any zone fallback.
    #[serde(default)]
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentRecord {
    pub name: String,
    pub status: Status,
    /// The step running now, or the one that failed.
    pub step: Option<String>,
    /// RFC 3339 times.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub nodes: Vec<NodeRecord>,
    /// Name of the SecureString parameter holding the kubeconfig (never the kubeconfig itself).
    pub kubeconfig_parameter: Option<String>,
    /// `https://<master public address>:16443`.
    pub api_endpoint: Option<String>,
    pub error: Option<ErrorInfo>,
    /// Each add-on the add-on step installed (dependencies included), in install order.
    #[serde(default)]
    pub addons: Vec<AddonReport>,
    /// When the environment destroys itself (RFC 3339, UTC), for a spec with `ttl_hours`.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// What the rollback (or a failed teardown) deleted, when a failure triggered one.
    #[serde(default)]
    pub rollback_removed: Vec<Resource>,
    /// The edge zone, its network and what its workers got, and why (READY records with `edge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<crate::model::EdgeNetwork>,
}

/// The provisioning machine's output when an environment is READY (statemachine/provision.asl.json,
/// state `Ready`), kept as the registry item's `record`: the record's READY fields, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadyOutput {
    pub name: String,
    pub status: Status,
    pub vpc_id: String,
    pub kubeconfig_parameter: String,
    pub api_endpoint: String,
    pub addons: Vec<AddonReport>,
    pub expires_at: Option<String>,
    pub masters: Vec<crate::model::Node>,
    /// The region's workers, then the edge workers.
    pub workers: Vec<crate::model::Node>,
    /// The edge zone and what its workers got, and why (null without `edge`).
    #[serde(default)]
    pub edge: Option<crate::model::EdgeNetwork>,
}

impl EnvironmentRecord {
    /// A record with only a name and a status: the other fields are filled by who knows them.
    pub fn new(name: &str, status: Status) -> Self {
        Self {
            name: name.to_string(),
            status,
            step: None,
            created_at: None,
            updated_at: None,
            vpc_id: None,
            nodes: Vec::new(),
            kubeconfig_parameter: None,
            api_endpoint: None,
            error: None,
            addons: Vec::new(),
            expires_at: None,
            rollback_removed: Vec::new(),
            edge: None,
        }
    }

    /// The READY fields from the provisioning machine's output.
    pub fn fill_ready(&mut self, ready: &ReadyOutput) {
        self.vpc_id = Some(ready.vpc_id.clone());
        self.kubeconfig_parameter = Some(ready.kubeconfig_parameter.clone());
        self.api_endpoint = Some(ready.api_endpoint.clone());
        self.expires_at = ready.expires_at.clone();
        self.addons = ready.addons.clone();
        self.edge = ready.edge.clone();
        self.nodes = ready
            .masters
            .iter()
            .chain(&ready.workers)
            .map(NodeRecord::from)
            .collect();
    }
}

impl Status {
    /// The status as the API spells it (`READY`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Ready => "READY",
            Self::Failed => "FAILED",
            Self::Deleting => "DELETING",
            Self::Deleted => "DELETED",
        }
    }

    /// A run is working on the environment.
    pub fn in_flight(self) -> bool {
        matches!(self, Self::Creating | Self::Deleting)
    }
}

/// One line of a listing: an environment and its status in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSummary {
    pub name: String,
    pub status: Status,
    /// RFC 3339 time the status was set.
    pub since: String,
}

impl From<&crate::model::Node> for NodeRecord {
    fn from(node: &crate::model::Node) -> Self {
        Self {
            instance_id: node.instance_id.clone(),
            name: node.name.clone(),
            role: node.role,
            private_ip: node.private_ip.clone(),
            public_ip: node.public_ip.clone(),
            market: node.market,
            availability_zone: node.availability_zone.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The provisioning machine's `Ready` state builds exactly the fields of [`ReadyOutput`]:
    /// the record the registry keeps is the type every door reads.
    #[test]
    fn the_ready_state_builds_the_typed_record() {
        let template = include_str!("../../../statemachine/provision.asl.json");
        let ready = &template[template.find("\"Ready\": {").unwrap()..];
        let parameters = &ready[ready.find("\"Parameters\": {").unwrap()..];
        let parameters = &parameters[..parameters.find('}').unwrap()];
        let mut built: Vec<String> = parameters
            .lines()
            .skip(1)
            .filter_map(|line| line.trim().strip_prefix('"'))
            .filter_map(|rest| rest.split('"').next())
            .map(|key| key.trim_end_matches(".$").to_string())
            .collect();
        built.sort();
        let schema = serde_json::to_value(schemars::schema_for!(ReadyOutput)).unwrap();
        let mut fields: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        fields.sort();
        assert_eq!(built, fields);
    }

    #[test]
    fn status_serializes_in_capitals() {
        assert_eq!(serde_json::to_string(&Status::Ready).unwrap(), "\"READY\"");
        let s: Status = serde_json::from_str("\"DELETING\"").unwrap();
        assert_eq!(s, Status::Deleting);
    }
}
