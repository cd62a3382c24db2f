//! What an environment owns, by kind and id: the types of the inventory, without its AWS calls
//! (records and answers carry them; only teardown and audit list them).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Kinds of resources mec creates, in the order teardown deletes them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    Instance,
    Volume,
    SecurityGroup,
    RouteTable,
    InternetGateway,
    /// A Wavelength Zone's carrier gateway.
    CarrierGateway,
    Subnet,
    Vpc,
    Parameter,
    /// The expiry schedule, `<schedule group>/<name>`.
    Schedule,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub kind: ResourceKind,
    pub id: String,
}

impl Resource {
    pub fn new(kind: ResourceKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}
