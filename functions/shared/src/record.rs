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
    /// What the rollback deleted, when a failure triggered one.
    #[serde(default)]
    pub rollback_removed: Vec<Resource>,
}

/// One line of a listing: an environment and its latest execution's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSummary {
    pub name: String,
    pub status: Status,
    /// RFC 3339 start time of the execution that set the status.
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

    #[test]
    fn status_serializes_in_capitals() {
        assert_eq!(serde_json::to_string(&Status::Ready).unwrap(), "\"READY\"");
        let s: Status = serde_json::from_str("\"DELETING\"").unwrap();
        assert_eq!(s, Status::Deleting);
    }
}
