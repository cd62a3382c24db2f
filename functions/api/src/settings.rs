//! The API function's settings, read once per cold start from its environment variables.
//!
//! Terraform sets them (infra/modules/pipeline/api.tf); tests build [`ApiSettings`] directly.

use mec_shared::status::Machines;
use mec_shared::MecError;

/// `MEC_PROVISION_STATE_MACHINE_ARN`: the machine a create starts.
pub const PROVISION_ARN: &str = "MEC_PROVISION_STATE_MACHINE_ARN";
/// `MEC_TEARDOWN_STATE_MACHINE_ARN`: the machine a delete starts.
pub const TEARDOWN_ARN: &str = "MEC_TEARDOWN_STATE_MACHINE_ARN";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    pub machines: Machines,
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, MecError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Both ARNs are required: without them the API can neither start nor read an environment.
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_arns_are_required() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:mec-provision";
        let ok = ApiSettings::from_lookup(|_| Some(arn.to_string())).unwrap();
        assert_eq!(ok.machines.provision, arn);
        let missing = ApiSettings::from_lookup(|k| (k == PROVISION_ARN).then(|| arn.to_string()));
        assert!(matches!(missing, Err(MecError::Configuration(m)) if m.contains(TEARDOWN_ARN)));
        let bad = ApiSettings::from_lookup(|_| Some("mec-provision".into()));
        assert!(matches!(bad, Err(MecError::Configuration(_))));
    }
}
