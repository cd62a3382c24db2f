//! AWS clients, built once per cold start from the standard AWS configuration.
//!
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` point the same binary at an emulator; mec
//! has no code path of its own for that.

use aws_config::{BehaviorVersion, SdkConfig};

#[derive(Debug, Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    /// EventBridge Scheduler: an environment's one-time expiry schedule.
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Aws {
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
        }
    }
}
