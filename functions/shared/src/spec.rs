//! The environment spec: what a user asks for (execution input, API body, CLI file).
//!
//! Parsing applies the defaults (docs/architecture.md) and rejects unknown fields;
//! [`EnvironmentSpec::validate`] checks every rule and names the field at fault.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;
use crate::error::MecError;

/// Lowest MicroK8s track accepted: mec writes a launch configuration (1.27+) before installing.
const MIN_TRACK: (u32, u32) = (1, 27);
const CHANNEL_RISKS: &[&str] = &["stable", "candidate", "beta", "edge"];
const MAX_TAGS: usize = 20;

/// One MEC environment: a VPC of its own and a MicroK8s cluster on EC2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mec environment spec")]
pub struct EnvironmentSpec {
    /// 3–32 characters: lowercase letters, digits and hyphens, starting with a letter.
    pub name: String,
    /// Worker nodes, 0–100.
    #[serde(default = "defaults::workers")]
    pub workers: u32,
    /// Control-plane nodes: 1, or 3 for an HA (dqlite quorum) control plane.
    #[serde(default = "defaults::masters")]
    pub masters: u32,
    /// EC2 instance type of the control-plane nodes.
    #[serde(default = "defaults::instance_type")]
    pub instance_type: String,
    /// EC2 instance type of the workers.
    #[serde(default = "defaults::instance_type")]
    pub worker_instance_type: String,
    /// MicroK8s snap channel, `<major>.<minor>/<risk>`, 1.27 or newer.
    #[serde(default = "defaults::channel")]
    pub microk8s_channel: String,
    /// Add-ons to install after the join, from mec's catalogue (`functions/shared/catalogue`):
    /// a name (`"dns"`), or `{"name": "edgex", "optional": true}` for one whose failure leaves
    /// the environment READY with the add-on marked FAILED. Dependencies are added by mec.
    #[serde(default = "defaults::addons")]
    pub addons: Vec<AddonRequest>,
    /// The VPC's CIDR block: a private (RFC 1918) range from /16 to /24.
    #[serde(default = "defaults::vpc_cidr")]
    pub vpc_cidr: String,
    /// CIDR blocks allowed to reach the Kubernetes API (16443); empty = none from outside.
    #[serde(default)]
    pub api_allowed_cidrs: Vec<String>,
    /// Root volume size of every node in GiB, 20–1024.
    #[serde(default = "defaults::root_volume_gib")]
    pub root_volume_gib: u32,
    /// Hours after which the environment destroys itself, 1–720; absent = never.
    #[serde(default)]
    pub ttl_hours: Option<u32>,
    /// Launch workers as spot instances.
    #[serde(default)]
    pub spot: bool,
    /// Extra tags put on every resource of the environment.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Workers at the edge, in an AWS Local Zone or Wavelength Zone of the region, on top of
    /// `workers` (the control plane stays in the region's availability zones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeSpec>,
}

/// `edge`: where the edge workers run and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// The zone as AWS spells it: a Wavelength Zone (`us-east-1-wl1-bos-wlz-1`) or a Local Zone
    /// (`us-east-1-bos-1a`) of the environment's region.
    pub zone: String,
    /// Worker nodes in that zone, 1–100 (with `workers`, at most 100 workers in all).
    pub workers: u32,
}

/// One entry of `addons`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AddonRequest {
    /// A required add-on, by name.
    Name(String),
    /// An add-on with options.
    Options(AddonOptions),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddonOptions {
    /// The add-on's name in the catalogue.
    pub name: String,
    /// true: a failure of this add-on does not fail the environment.
    #[serde(default)]
    pub optional: bool,
}

impl AddonRequest {
    pub fn name(&self) -> &str {
        match self {
            AddonRequest::Name(name) => name,
            AddonRequest::Options(options) => &options.name,
        }
    }

    pub fn optional(&self) -> bool {
        matches!(self, AddonRequest::Options(o) if o.optional)
    }
}

impl From<&str> for AddonRequest {
    fn from(name: &str) -> Self {
        AddonRequest::Name(name.to_string())
    }
}

impl PartialEq<&str> for AddonRequest {
    fn eq(&self, other: &&str) -> bool {
        matches!(self, AddonRequest::Name(name) if name == other)
    }
}

mod defaults {
    pub fn workers() -> u32 {
        2
    }
    pub fn masters() -> u32 {
        1
    }
    pub fn instance_type() -> String {
        "t4g.medium".into()
    }
    pub fn channel() -> String {
        "1.32/stable".into()
    }
    pub fn addons() -> Vec<super::AddonRequest> {
        vec!["dns".into(), "hostpath-storage".into()]
    }
    pub fn vpc_cidr() -> String {
        "10.42.0.0/16".into()
    }
    pub fn root_volume_gib() -> u32 {
        30
    }
}

impl EnvironmentSpec {
    /// Parses and validates a spec from JSON; the error names the field and the rule.
    pub fn from_value(value: serde_json::Value) -> Result<Self, MecError> {
        let spec: Self = crate::input::parse_value(value, "spec", MecError::invalid_spec)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks every rule of the spec (docs/architecture.md); the first broken rule is returned.
    pub fn validate(&self) -> Result<(), MecError> {
        validate_name(&self.name)?;
        if self.workers > 100 {
            return Err(MecError::invalid_spec(
                "workers",
                "must be between 0 and 100",
            ));
        }
        if self.masters != 1 && self.masters != 3 {
            return Err(MecError::invalid_spec(
                "masters",
                "must be 1, or 3 for an HA control plane",
            ));
        }
        validate_instance_type("instance_type", &self.instance_type)?;
        validate_instance_type("worker_instance_type", &self.worker_instance_type)?;
        validate_channel(&self.microk8s_channel)?;
        validate_vpc_cidr(&self.vpc_cidr)?;
        for (i, cidr) in self.api_allowed_cidrs.iter().enumerate() {
            let field = format!("api_allowed_cidrs[{i}]");
            let parsed =
                Ipv4Cidr::parse(cidr).map_err(|rule| MecError::invalid_spec(&field, &rule))?;
            if !parsed.is_network_address() {
                return Err(MecError::invalid_spec(
                    &field,
                    "must be a network address (host bits zero)",
                ));
            }
        }
        if self.api_allowed_cidrs.len() > 50 {
            return Err(MecError::invalid_spec(
                "api_allowed_cidrs",
                "at most 50 entries",
            ));
        }
        if !(20..=1024).contains(&self.root_volume_gib) {
            return Err(MecError::invalid_spec(
                "root_volume_gib",
                "must be between 20 and 1024",
            ));
        }
        if let Some(ttl) = self.ttl_hours {
            if !(1..=720).contains(&ttl) {
                return Err(MecError::invalid_spec(
                    "ttl_hours",
                    "must be between 1 and 720",
                ));
            }
        }
        validate_tags(&self.tags)?;
        if let Some(edge) = &self.edge {
            crate::edge::validate_zone_name("edge.zone", &edge.zone)?;
            if !(1..=100).contains(&edge.workers) {
                return Err(MecError::invalid_spec(
                    "edge.workers",
                    "must be between 1 and 100",
                ));
            }
            // The VPC's first block is the region's subnet; the edge zone needs another one
            // (cidr.rs subnet_blocks: a /24 VPC holds one block).
            if Ipv4Cidr::parse(&self.vpc_cidr).is_ok_and(|c| c.subnet_blocks().len() < 2) {
                return Err(MecError::invalid_spec(
                    "vpc_cidr",
                    "with edge, must be /23 or larger: the edge zone needs a subnet of its own",
                ));
            }
            if self.workers + edge.workers > 100 {
                return Err(MecError::invalid_spec(
                    "edge.workers",
                    "with workers, at most 100 workers in all",
                ));
            }
        }
        // Last: the add-ons are checked against the (valid) cluster the spec describes.
        crate::catalogue::check(self)
    }

    /// Every node of the environment: masters, workers and edge workers.
    pub fn node_count(&self) -> u32 {
        self.masters + self.workers + self.edge_workers()
    }

    /// Workers at the edge (0 without `edge`).
    pub fn edge_workers(&self) -> u32 {
        self.edge.as_ref().map_or(0, |e| e.workers)
    }
}

pub fn validate_name(name: &str) -> Result<(), MecError> {
    let rule = "3–32 characters: lowercase letters, digits and hyphens, starting with a letter";
    let len_ok = (3..=32).contains(&name.len());
    let starts_ok = name.starts_with(|c: char| c.is_ascii_lowercase());
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(len_ok && starts_ok && chars_ok) {
        return Err(MecError::invalid_spec("name", rule));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(MecError::invalid_spec(
            "name",
            "must not end with a hyphen or contain two hyphens in a row",
        ));
    }
    Ok(())
}

/// `family.size`, e.g. `t4g.medium`: checked for shape here, for existence by EC2 at launch.
fn validate_instance_type(field: &str, value: &str) -> Result<(), MecError> {
    let shape_ok = value.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && family.starts_with(|c: char| c.is_ascii_lowercase())
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !shape_ok || value.len() > 32 {
        return Err(MecError::invalid_spec(
            field,
            "must be an EC2 instance type like t4g.medium",
        ));
    }
    Ok(())
}

fn validate_channel(channel: &str) -> Result<(), MecError> {
    let field = "microk8s_channel";
    let rule = "must be <major>.<minor>/<risk> like 1.32/stable, risk one of stable, candidate, beta, edge";
    let (track, risk) = channel
        .split_once('/')
        .ok_or_else(|| MecError::invalid_spec(field, rule))?;
    let (major, minor) = track
        .split_once('.')
        .ok_or_else(|| MecError::invalid_spec(field, rule))?;
    let parse = |s: &str| {
        (!s.is_empty() && s.len() <= 3 && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(major), Some(minor)) = (parse(major), parse(minor)) else {
        return Err(MecError::invalid_spec(field, rule));
    };
    if !CHANNEL_RISKS.contains(&risk) {
        return Err(MecError::invalid_spec(field, rule));
    }
    if (major, minor) < MIN_TRACK {
        return Err(MecError::invalid_spec(
            field,
            "must be 1.27 or newer (mec installs with a MicroK8s launch configuration)",
        ));
    }
    Ok(())
}

fn validate_vpc_cidr(value: &str) -> Result<(), MecError> {
    let field = "vpc_cidr";
    let cidr = Ipv4Cidr::parse(value).map_err(|rule| MecError::invalid_spec(field, &rule))?;
    if !(16..=24).contains(&cidr.prefix()) {
        return Err(MecError::invalid_spec(
            field,
            "prefix must be between /16 and /24",
        ));
    }
    if !cidr.is_private() {
        return Err(MecError::invalid_spec(
            field,
            "must be a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)",
        ));
    }
    if !cidr.is_network_address() {
        return Err(MecError::invalid_spec(
            field,
            "must be a network address (host bits zero)",
        ));
    }
    Ok(())
}

/// EC2 tag rules, minus the `aws:` prefix and mec's own `mec:` keys.
fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), MecError> {
    if tags.len() > MAX_TAGS {
        return Err(MecError::invalid_spec("tags", "at most 20 tags"));
    }
    for (key, value) in tags {
        let field = format!("tags.{key}");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(MecError::invalid_spec(
                &field,
                "key must be 1–128 characters",
            ));
        }
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("mec:") || lower == "name" {
            return Err(MecError::invalid_spec(
                &field,
                "keys starting with aws: or mec:, and Name, are reserved",
            ));
        }
        if value.chars().count() > 256 {
            return Err(MecError::invalid_spec(
                &field,
                "value must be at most 256 characters",
            ));
        }
        let allowed = |c: char| c.is_alphanumeric() || " +-=._:/@".contains(c);
        if !key.chars().all(allowed) || !value.chars().all(allowed) {
            return Err(MecError::invalid_spec(
                &field,
                "letters, digits, spaces and + - = . _ : / @ only",
            ));
        }
    }
    Ok(())
}

/// The JSON Schema of the spec, as committed in `functions/shared/schema/`.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(EnvironmentSpec);
    serde_json::to_value(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> Result<EnvironmentSpec, MecError> {
        EnvironmentSpec::from_value(value)
    }

    fn field_of(result: Result<EnvironmentSpec, MecError>) -> String {
        match result {
            Err(MecError::InvalidSpec { field, .. }) => field,
            other => format!("not an InvalidSpec: {other:?}"),
        }
    }

    #[test]
    fn name_alone_gets_every_default() {
        let s = spec(json!({"name": "lab-1"})).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(s.workers, 2);
        assert_eq!(s.masters, 1);
        assert_eq!(s.instance_type, "t4g.medium");
        assert_eq!(s.worker_instance_type, "t4g.medium");
        assert_eq!(s.microk8s_channel, "1.32/stable");
        assert_eq!(s.addons, vec!["dns", "hostpath-storage"]);
        assert_eq!(s.vpc_cidr, "10.42.0.0/16");
        assert!(s.api_allowed_cidrs.is_empty());
        assert_eq!(s.root_volume_gib, 30);
        assert_eq!(s.ttl_hours, None);
        assert!(!s.spot);
        assert!(s.tags.is_empty());
    }

    #[test]
    fn the_design_example_is_valid() {
        let example = json!({
            "name": "lab-1", "workers": 2, "masters": 1, "instance_type": "t4g.medium",
            "worker_instance_type": "t4g.medium", "microk8s_channel": "1.32/stable",
            "addons": ["dns", "hostpath-storage"], "vpc_cidr": "10.42.0.0/16",
            "api_allowed_cidrs": [], "root_volume_gib": 30, "ttl_hours": 8, "spot": false,
            "tags": {"team": "edge"}
        });
        assert!(spec(example).is_ok());
    }

    #[test]
    fn every_rule_names_its_field() {
        let cases = [
            (json!({}), "name"),
            (json!({"name": "ab"}), "name"),
            (json!({"name": "a".repeat(33)}), "name"),
            (json!({"name": "1lab"}), "name"),
            (json!({"name": "Lab"}), "name"),
            (json!({"name": "lab_1"}), "name"),
            (json!({"name": "lab-"}), "name"),
            (json!({"name": "la--b"}), "name"),
            (json!({"name": 7}), "name"),
            (json!({"name": "lab", "workers": 101}), "workers"),
            (json!({"name": "lab", "workers": -1}), "workers"),
            (json!({"name": "lab", "workers": "2"}), "workers"),
            (json!({"name": "lab", "masters": 2}), "masters"),
            (json!({"name": "lab", "masters": 0}), "masters"),
            (
                json!({"name": "lab", "instance_type": "big"}),
                "instance_type",
            ),
            (
                json!({"name": "lab", "worker_instance_type": "T4G.medium"}),
                "worker_instance_type",
            ),
            (
                json!({"name": "lab", "microk8s_channel": "latest"}),
                "microk8s_channel",
            ),
            (
                json!({"name": "lab", "microk8s_channel": "1.32/nightly"}),
                "microk8s_channel",
            ),
            (
                json!({"name": "lab", "microk8s_channel": "1.26/stable"}),
                "microk8s_channel",
            ),
            (
                json!({"name": "lab", "addons": ["kubeflow-everything"]}),
                "addons[0]",
            ),
            (
                json!({"name": "lab", "addons": ["dns", "dns"]}),
                "addons[1]",
            ),
            (
                json!({"name": "lab", "addons": ["dns", {"name": "dns", "optional": true}]}),
                "addons[1]",
            ),
            (
                json!({"name": "lab", "addons": [{"name": "dns", "optonal": true}]}),
                "addons[0]",
            ),
            (json!({"name": "lab", "addons": [7]}), "addons[0]"),
            (json!({"name": "lab", "vpc_cidr": "8.8.0.0/16"}), "vpc_cidr"),
            (json!({"name": "lab", "vpc_cidr": "10.0.0.0/8"}), "vpc_cidr"),
            (
                json!({"name": "lab", "vpc_cidr": "10.0.0.0/28"}),
                "vpc_cidr",
            ),
            (
                json!({"name": "lab", "vpc_cidr": "10.0.0.1/16"}),
                "vpc_cidr",
            ),
            (json!({"name": "lab", "vpc_cidr": "10.0.0/16"}), "vpc_cidr"),
            (
                json!({"name": "lab", "api_allowed_cidrs": ["nope"]}),
                "api_allowed_cidrs[0]",
            ),
            (
                json!({"name": "lab", "api_allowed_cidrs": ["1.2.3.0/24", "1.2.3.4/8"]}),
                "api_allowed_cidrs[1]",
            ),
            (
                json!({"name": "lab", "root_volume_gib": 8}),
                "root_volume_gib",
            ),
            (
                json!({"name": "lab", "root_volume_gib": 5000}),
                "root_volume_gib",
            ),
            (json!({"name": "lab", "ttl_hours": 0}), "ttl_hours"),
            (json!({"name": "lab", "ttl_hours": 721}), "ttl_hours"),
            (json!({"name": "lab", "spot": "yes"}), "spot"),
            (json!({"name": "lab", "tags": {"aws:x": "1"}}), "tags.aws:x"),
            (
                json!({"name": "lab", "tags": {"mec:environment": "x"}}),
                "tags.mec:environment",
            ),
            (
                json!({"name": "lab", "tags": {"team": "a\u{0}b"}}),
                "tags.team",
            ),
            (json!({"name": "lab", "tags": {"team": 3}}), "tags.team"),
            (json!({"name": "lab", "colour": "blue"}), "colour"),
            (
                json!({"name": "lab", "edge": {"zone": "us-east-1a", "workers": 1}}),
                "edge.zone",
            ),
            (
                json!({"name": "lab", "edge": {"zone": "US-EAST-1-BOS-1A", "workers": 1}}),
                "edge.zone",
            ),
            (
                json!({"name": "lab", "edge": {"zone": "us-east-1-bos-1a", "workers": 0}}),
                "edge.workers",
            ),
            (
                json!({"name": "lab", "workers": 60, "edge": {"zone": "us-east-1-bos-1a", "workers": 41}}),
                "edge.workers",
            ),
            (
                json!({"name": "lab", "edge": {"zone": "us-east-1-bos-1a"}}),
                "edge.workers",
            ),
            (
                json!({"name": "lab", "vpc_cidr": "10.1.2.0/24", "edge": {"zone": "us-east-1-bos-1a", "workers": 1}}),
                "vpc_cidr",
            ),
            (
                json!({"name": "lab", "edge": {"zone": "us-east-1-bos-1a", "workers": 1, "spot": true}}),
                "edge.spot",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(field_of(spec(input.clone())), expected, "input: {input}");
        }
    }

    #[test]
    fn a_non_object_spec_is_rejected() {
        assert_eq!(field_of(spec(json!("lab-1"))), "spec");
        assert_eq!(field_of(spec(json!(null))), "spec");
    }

    #[test]
    fn messages_state_the_rule() {
        let err = spec(json!({"name": "lab", "masters": 2})).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("masters"), "{text}");
        assert!(text.contains("must be 1, or 3"), "{text}");
    }

    #[test]
    fn edge_workers_count_as_x86_64_nodes_of_the_cluster() {
        let edge = json!({"zone": "us-east-1-wl1-bos-wlz-1", "workers": 2});
        let s = spec(json!({"name": "lab", "workers": 0, "edge": edge.clone()}))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((s.node_count(), s.edge_workers()), (3, 2));
        // An x86_64-only add-on: refused with the default Graviton control plane, accepted with
        // an x86_64 one, the edge workers being x86_64 too.
        let arm =
            spec(json!({"name": "lab", "addons": ["kubeflow-pipelines"], "edge": edge.clone()}));
        assert_eq!(field_of(arm), "addons[0]");
        let x86 = spec(
            json!({"name": "lab", "instance_type": "t3.xlarge", "worker_instance_type": "t3.xlarge",
                              "addons": ["kubeflow-pipelines"], "edge": edge}),
        );
        assert!(x86.is_ok(), "{x86:?}");
        // Without `edge`, the spec serializes as before (the registry compares specs).
        let plain = spec(json!({"name": "lab"})).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(serde_json::to_value(&plain)
            .unwrap_or_default()
            .get("edge")
            .is_none());
    }

    #[test]
    fn ha_and_limits_are_accepted() {
        let s = spec(
            json!({"name": "edge-ha", "masters": 3, "workers": 100, "vpc_cidr": "192.168.8.0/24",
            "api_allowed_cidrs": ["203.0.113.0/24"], "ttl_hours": 720, "root_volume_gib": 20,
            "microk8s_channel": "1.27/edge", "addons": []}),
        );
        assert!(s.is_ok(), "{s:?}");
    }
}
