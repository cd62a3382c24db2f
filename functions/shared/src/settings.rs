//! Deployment settings, read once per cold start from the function's environment variables.
//!
//! Terraform sets them; tests build [`Settings`] directly. Endpoints are not settings: the AWS SDK
//! reads `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` itself.

use crate::error::MecError;

pub const DEFAULT_AMI_PARAMETER_ARM64: &str =
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id";
pub const DEFAULT_AMI_PARAMETER_X86_64: &str =
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Instance profile every node is launched with (must grant AmazonSSMManagedInstanceCore).
    pub node_instance_profile: Option<String>,
    /// An AMI id that replaces the SSM lookup (emulators lack Canonical's parameters).
    pub ami_override: Option<String>,
    pub ami_parameter_arm64: String,
    pub ami_parameter_x86_64: String,
    /// SSM Command document names deployed by Terraform.
    pub install_document: String,
    pub join_document: String,
    /// KMS key for SecureString parameters; `None` = the account's `alias/aws/ssm`.
    pub parameter_kms_key: Option<String>,
    /// Lifetime of a join token on the master.
    pub join_token_ttl_seconds: u32,
    /// Most instances asked for in one RunInstances call.
    pub launch_batch_size: u32,
    /// Where the per-command output goes, when set (otherwise only the 24 kB SSM keeps).
    pub command_log_group: Option<String>,
    /// The pipeline's EventBridge Scheduler group (expiry schedules live there).
    pub schedule_group: Option<String>,
    /// The role EventBridge Scheduler assumes to start the state machines.
    pub scheduler_role_arn: Option<String>,
    /// The provisioning and teardown state machines (the reaper and the expiry schedules start
    /// them).
    pub provision_state_machine_arn: Option<String>,
    pub teardown_state_machine_arn: Option<String>,
    /// Longest wait for the nodes to run and be SSM-managed (check_nodes' deadline).
    pub node_wait_seconds: u32,
    /// Longest a teardown (or a rollback) waits for what it deleted to be gone.
    pub teardown_wait_seconds: u32,
    /// What the provisioning machine's execution timeout leaves for the command phases
    /// (Terraform derives it from the same budgets, deadline.rs); a spec that would need more is
    /// refused at validation. `None`: not checked (tests, the CLI).
    pub commands_budget_seconds: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            node_instance_profile: None,
            ami_override: None,
            ami_parameter_arm64: DEFAULT_AMI_PARAMETER_ARM64.into(),
            ami_parameter_x86_64: DEFAULT_AMI_PARAMETER_X86_64.into(),
            install_document: "mec-install".into(),
            join_document: "mec-join".into(),
            parameter_kms_key: None,
            join_token_ttl_seconds: 900,
            launch_batch_size: 50,
            command_log_group: None,
            schedule_group: None,
            scheduler_role_arn: None,
            provision_state_machine_arn: None,
            teardown_state_machine_arn: None,
            node_wait_seconds: 1200,
            teardown_wait_seconds: 1200,
            commands_budget_seconds: None,
        }
    }
}

impl Settings {
    /// A setting this function cannot work without, or a `Configuration` error naming it.
    pub fn required<'a>(value: &'a Option<String>, variable: &str) -> Result<&'a str, MecError> {
        value
            .as_deref()
            .ok_or_else(|| MecError::Configuration(format!("{variable} is not set")))
    }

    /// Reads `MEC_*` variables; unset ones keep their defaults, malformed ones are an error.
    pub fn from_env() -> Result<Self, MecError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MecError> {
        let d = Self::default();
        let text = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let number = |key: &str, default: u32, range: std::ops::RangeInclusive<u32>| match text(key)
        {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    MecError::Configuration(format!(
                        "{key} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ))
                }),
        };
        Ok(Self {
            node_instance_profile: text("MEC_NODE_INSTANCE_PROFILE"),
            ami_override: text("MEC_AMI_ID"),
            ami_parameter_arm64: text("MEC_AMI_PARAMETER_ARM64").unwrap_or(d.ami_parameter_arm64),
            ami_parameter_x86_64: text("MEC_AMI_PARAMETER_X86_64")
                .unwrap_or(d.ami_parameter_x86_64),
            install_document: text("MEC_INSTALL_DOCUMENT").unwrap_or(d.install_document),
            join_document: text("MEC_JOIN_DOCUMENT").unwrap_or(d.join_document),
            parameter_kms_key: text("MEC_PARAMETER_KMS_KEY"),
            join_token_ttl_seconds: number(
                "MEC_JOIN_TOKEN_TTL_SECONDS",
                d.join_token_ttl_seconds,
                60..=86_400,
            )?,
            launch_batch_size: number("MEC_LAUNCH_BATCH_SIZE", d.launch_batch_size, 1..=100)?,
            command_log_group: text("MEC_COMMAND_LOG_GROUP"),
            schedule_group: text("MEC_SCHEDULE_GROUP"),
            scheduler_role_arn: text("MEC_SCHEDULER_ROLE_ARN"),
            provision_state_machine_arn: text("MEC_PROVISION_STATE_MACHINE_ARN"),
            teardown_state_machine_arn: text("MEC_TEARDOWN_STATE_MACHINE_ARN"),
            node_wait_seconds: number("MEC_NODE_WAIT_SECONDS", d.node_wait_seconds, 10..=86_400)?,
            teardown_wait_seconds: number(
                "MEC_TEARDOWN_WAIT_SECONDS",
                d.teardown_wait_seconds,
                10..=86_400,
            )?,
            commands_budget_seconds: match text("MEC_COMMANDS_BUDGET_SECONDS") {
                None => None,
                Some(_) => Some(number("MEC_COMMANDS_BUDGET_SECONDS", 0, 60..=10_000_000)?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_and_overrides() {
        let env = HashMap::from([
            ("MEC_AMI_ID", "ami-123"),
            ("MEC_JOIN_TOKEN_TTL_SECONDS", "600"),
            ("MEC_INSTALL_DOCUMENT", " "),
        ]);
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.ami_override.as_deref(), Some("ami-123"));
        assert_eq!(s.join_token_ttl_seconds, 600);
        assert_eq!(s.install_document, "mec-install");
        assert_eq!(s.launch_batch_size, 50);
    }

    #[test]
    fn malformed_numbers_are_configuration_errors() {
        for bad in ["0", "-1", "ten", "100000"] {
            let r = Settings::from_lookup(|k| {
                (k == "MEC_JOIN_TOKEN_TTL_SECONDS").then(|| bad.to_string())
            });
            assert!(matches!(r, Err(MecError::Configuration(_))), "{bad}");
        }
    }
}
