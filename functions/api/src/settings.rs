//! The API function's settings, read once per cold start from its environment variables.
//!
//! Terraform sets them (infra/modules/pipeline/api.tf); tests build [`ApiSettings`] directly.

use mec_shared::environments::Machines;
use mec_shared::MecError;

/// `MEC_PROVISION_STATE_MACHINE_ARN`: the machine a create starts.
pub const PROVISION_ARN: &str = "MEC_PROVISION_STATE_MACHINE_ARN";
/// `MEC_TEARDOWN_STATE_MACHINE_ARN`: the machine a delete starts.
pub const TEARDOWN_ARN: &str = "MEC_TEARDOWN_STATE_MACHINE_ARN";
/// `MEC_REGISTRY_TABLE`: the environment registry (DynamoDB table) every read goes to.
pub const REGISTRY_TABLE: &str = "MEC_REGISTRY_TABLE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    pub machines: Machines,
    pub registry_table: String,
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, MecError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Both ARNs and the table are required: without them the API can neither start nor read an
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MecError> {
        let arn = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| v.starts_with("arn:") && v.contains(":stateMachine:"))
                .ok_or_else(|| {
                    MecError::Configuration(format!("{key} must be a state machine ARN"))
                })
        };
        Ok(Self {
            machines: Machines {
                provision: arn(PROVISION_ARN)?,
                teardown: arn(TEARDOWN_ARN)?,
            },
            registry_table: lookup(REGISTRY_TABLE)
                .map(|v| v.trim().to_string())
                .filter(|v| is_table_name(v))
                .ok_or_else(|| {
                    MecError::Configuration(format!(
                        "{REGISTRY_TABLE} must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)"
                    ))
                })?,
        })
    }
}

/// DynamoDB's table name rule (API reference, CreateTable `TableName`).
fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_arns_are_required() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:mec-provision";
        let all = |k: &str| {
            Some(if k == REGISTRY_TABLE {
                "mec-environments".to_string()
            } else {
                arn.to_string()
            })
        };
        let ok = ApiSettings::from_lookup(all).unwrap();
        assert_eq!(ok.machines.provision, arn);
        assert_eq!(ok.registry_table, "mec-environments");
        let no_table = ApiSettings::from_lookup(|k| (k != REGISTRY_TABLE).then(|| arn.to_string()));
        assert!(matches!(no_table, Err(MecError::Configuration(m)) if m.contains(REGISTRY_TABLE)));
        let missing = ApiSettings::from_lookup(|k| (k == PROVISION_ARN).then(|| arn.to_string()));
        assert!(matches!(missing, Err(MecError::Configuration(m)) if m.contains(TEARDOWN_ARN)));
        let bad = ApiSettings::from_lookup(|_| Some("mec-provision".into()));
        assert!(matches!(bad, Err(MecError::Configuration(_))));
    }
}
