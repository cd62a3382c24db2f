//! The tags that make every resource findable: by environment, by role, by node index.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

pub const ENVIRONMENT: &str = "mec:environment";
pub const ROLE: &str = "mec:role";
pub const INDEX: &str = "mec:index";
pub const MANAGED_BY: &str = "mec:managed-by";
pub const NAME: &str = "Name";
/// On the VPC: the ARN of the provisioning execution that owns the environment (the reaper asks
/// Step Functions how it ended).
pub const EXECUTION: &str = "mec:execution";
/// On the VPC: when the environment destroys itself (RFC 3339, UTC), for a spec with `ttl_hours`.
pub const EXPIRES_AT: &str = "mec:expires-at";
/// On the VPC: `DELETING` once a teardown started (a teardown that never finished is reaped).
pub const STATUS: &str = "mec:status";
/// On an environment's SSM parameters: its VPC. The node role may read or overwrite a parameter
/// only from an instance in that VPC (condition on `aws:Ec2InstanceSourceVpc`).
pub const VPC: &str = "mec:vpc";
/// `spot` or `on-demand`: how a node was bought, after any fallback.
pub const MARKET: &str = "mec:market";

/// What a resource is for, as written in its `mec:role` tag.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Network,
    Master,
    Worker,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Network => "network",
            Role::Master => "master",
            Role::Worker => "worker",
        }
    }
}

/// The tags of one resource: mec's own, the spec's extra tags, and a Name.
pub fn resource_tags(
    environment: &str,
    role: Role,
    name: &str,
    extra: &BTreeMap<String, String>,
) -> Vec<Tag> {
    let mut tags: Vec<Tag> = extra.iter().map(|(k, v)| tag(k, v)).collect();
    tags.push(tag(ENVIRONMENT, environment));
    tags.push(tag(ROLE, role.as_str()));
    tags.push(tag(MANAGED_BY, "mec"));
    tags.push(tag(NAME, name));
    tags
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

pub fn specification(resource_type: ResourceType, tags: Vec<Tag>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(tags))
        .build()
}

/// `tag:<key> = value` as an EC2 describe filter.
pub fn filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// `name = any of values` as an EC2 describe filter.
pub fn values_filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

pub fn environment_filter(environment: &str) -> Filter {
    filter(ENVIRONMENT, environment)
}

/// Reads a tag's value from an EC2 tag list.
pub fn value_of<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_environment_and_role_and_keep_extras() {
        let extra = BTreeMap::from([("team".to_string(), "edge".to_string())]);
        let tags = resource_tags("lab-1", Role::Worker, "lab-1-worker-3", &extra);
        assert_eq!(value_of(&tags, ENVIRONMENT), Some("lab-1"));
        assert_eq!(value_of(&tags, ROLE), Some("worker"));
        assert_eq!(value_of(&tags, NAME), Some("lab-1-worker-3"));
        assert_eq!(value_of(&tags, MANAGED_BY), Some("mec"));
        assert_eq!(value_of(&tags, "team"), Some("edge"));
    }

    #[test]
    fn filters_use_the_tag_prefix() {
        let f = environment_filter("lab-1");
        assert_eq!(f.name(), Some("tag:mec:environment"));
        assert_eq!(f.values(), ["lab-1"]);
    }
}
