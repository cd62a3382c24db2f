//! Names derived from the environment: node names, parameter paths, idempotency tokens.

use crate::tags::Role;

/// A node's name: its EC2 Name tag, its hostname and its Kubernetes node name.
/// Lowercase and unique within the environment, as MicroK8s joins require.
pub fn node_name(environment: &str, role: Role, index: u32) -> String {
    format!("{environment}-{}-{index}", role.as_str())
}

/// Prefix of every SSM parameter an environment owns.
pub fn parameter_prefix(environment: &str) -> String {
    format!("/mec/{environment}/")
}

pub fn join_token_parameter(environment: &str) -> String {
    format!("{}join-token", parameter_prefix(environment))
}

pub fn kubeconfig_parameter(environment: &str) -> String {
    format!("{}kubeconfig", parameter_prefix(environment))
}

/// Separates an environment's name from the rest of an execution name; names have no `--`.
pub const EXECUTION_SEPARATOR: &str = "--";

/// Name of a teardown execution: `<environment>--d-<unique>` (the time in ms, or the scheduler's
/// id). The CLI, the API, the reaper and the schedules all name runs so, and status reads them.
pub fn delete_execution(environment: &str, unique: &str) -> String {
    format!("{environment}{EXECUTION_SEPARATOR}d-{unique}")
}

/// Name of a provisioning execution: `<environment>--c-<unique>`.
pub fn create_execution(environment: &str, unique: &str) -> String {
    format!("{environment}{EXECUTION_SEPARATOR}c-{unique}")
}

/// Now, in Unix milliseconds: what makes an execution name unique.
pub fn now_millis() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string()
}

/// Replaced by EventBridge Scheduler with a unique id at each invocation of a target.
pub const SCHEDULER_EXECUTION_ID: &str = "<aws.scheduler.execution-id>";

/// The universal target with which a schedule starts a state machine. Unlike the templated
/// state machine target, it lets the schedule name the execution — `<env>--c-<id>` or
/// `<env>--d-<id>`, so that the CLI and the API see scheduled runs like their own.
pub fn scheduled_start_target(partition: &str) -> String {
    format!("arn:{partition}:scheduler:::aws-sdk:sfn:startExecution")
}

/// The universal target's input: StartExecution's own parameters.
pub fn scheduled_start_input(
    state_machine_arn: &str,
    execution_name: &str,
    input: &serde_json::Value,
) -> String {
    serde_json::json!({
        "StateMachineArn": state_machine_arn,
        "Name": execution_name,
        "Input": input.to_string(),
    })
    .to_string()
}

/// The one-time EventBridge schedule that destroys an environment when its TTL expires.
/// (Scheduled environments' own schedules are `<key>-create` / `<key>-destroy`.)
pub fn expiry_schedule(environment: &str) -> String {
    format!("{environment}-expiry")
}

/// A RunInstances ClientToken: the same for a retry of the same launch within one run, different
/// for a new run of the same environment (EC2 keeps tokens of terminated instances for a while).
/// At most [`CLIENT_TOKEN_MAX`] ASCII characters, as EC2 requires ("Ensuring idempotency", EC2
/// API reference): `mec-<env>-<m|w><batch>-<16 hex>`, at most 62 for a 32-character name.
pub fn client_token(environment: &str, run_id: &str, role: Role, batch: u32) -> String {
    let digest = fnv1a64(format!("{environment}\n{run_id}\n{}\n{batch}", role.as_str()).as_bytes());
    let initial = &role.as_str()[..1];
    format!("mec-{environment}-{initial}{batch}-{digest:016x}")
}

/// EC2's limit on ClientToken.
pub const CLIENT_TOKEN_MAX: usize = 64;

/// Identifies one RunInstances attempt of a launch step: the batch's first node index and size,
/// and the fallback attempt (market × zone) within the batch.
pub fn launch_batch_key(first_index: u32, batch_size: u32, attempt: u32) -> u32 {
    (first_index * 1000 + batch_size) * 16 + attempt.min(15)
}

/// FNV-1a: a stable, dependency-free hash (std's hasher may change between Rust releases).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_lowercase_and_distinct() {
        assert_eq!(node_name("lab-1", Role::Master, 0), "lab-1-master-0");
        assert_eq!(node_name("lab-1", Role::Worker, 12), "lab-1-worker-12");
    }

    #[test]
    fn parameter_paths() {
        assert_eq!(join_token_parameter("lab-1"), "/mec/lab-1/join-token");
        assert_eq!(kubeconfig_parameter("lab-1"), "/mec/lab-1/kubeconfig");
        assert!(join_token_parameter("lab-1").starts_with(&parameter_prefix("lab-1")));
    }

    /// Every launch of every valid spec: names of 3 to 32 characters, 1 or 3 masters (one node
    /// per batch), up to 100 workers in batches of any size, every fallback attempt.
    #[test]
    fn client_tokens_fit_ec2_for_every_valid_spec() {
        let run = "r".repeat(80);
        for length in [3usize, 16, 31, 32] {
            let environment = "a".repeat(length);
            for first in 0..100 {
                for size in [1, 2, 10, 50, 100 - first] {
                    for attempt in [0, 1, 15, 40] {
                        let key = launch_batch_key(first, size, attempt);
                        for role in [Role::Master, Role::Worker] {
                            let token = client_token(&environment, &run, role, key);
                            assert!(
                                token.len() <= CLIENT_TOKEN_MAX,
                                "{token}: {} chars",
                                token.len()
                            );
                            assert!(token.is_ascii());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn client_tokens_are_deterministic_per_run_and_short() {
        let a = client_token("lab-1", "run-a", Role::Worker, 0);
        assert_eq!(a, client_token("lab-1", "run-a", Role::Worker, 0));
        assert_ne!(a, client_token("lab-1", "run-b", Role::Worker, 0));
        assert_ne!(a, client_token("lab-1", "run-a", Role::Worker, 1));
        assert_ne!(a, client_token("lab-1", "run-a", Role::Master, 0));
        let longest = client_token(&"a".repeat(32), &"r".repeat(80), Role::Worker, 99);
        assert!(longest.len() <= 64, "{} chars", longest.len());
    }
}
