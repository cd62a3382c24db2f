//! AWS clients, built once per cold start from the standard AWS configuration.
//!
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` point the same binary at an emulator; mec
//! has no code path of its own for that.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// One attempt of an AWS call may take this long before it is a (retryable) timeout: a hung
/// call becomes `AwsUnavailable` the state machine retries, not a Lambda timeout.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting to an AWS endpoint may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The standard AWS configuration (environment, profile, `AWS_ENDPOINT_URL`), with mec's
/// timeouts on every client built from it.
pub async fn load_config() -> SdkConfig {
    configured(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

/// mec's timeouts on a configuration loader (the CLI adds its region and profile first).
pub fn configured(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    loader.timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .build(),
    )
}

#[derive(Debug, Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    /// EventBridge Scheduler: an environment's one-time expiry schedule.
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Aws {
    pub async fn from_env() -> Self {
        Self::from_config(&load_config().await)
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
        }
    }
}
