//! The lifecycle step, right after the network exists. It writes on the environment's VPC which
//! provisioning run owns it (`mec:execution`: the reaper asks Step Functions how that run ended)
//! and, for a spec with `ttl_hours`, when it expires (`mec:expires-at`), and creates the one-time
//! schedule that starts the teardown machine then. Invoked twice, it writes the same tags and
//! finds the schedule already there.

mod schedule;

use mec_shared::ttl::{self, DateTime};
use mec_shared::{tags, Aws, EnvironmentSpec, MecError, Settings};
use schedule::ExpiryTarget;
use serde::{Deserialize, Serialize};
use tracing::{info, Instrument};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleInput {
    pub spec: EnvironmentSpec,
    /// `$$.Execution.Id` of the provisioning run.
    pub execution_arn: String,
    /// `$$.Execution.StartTime`: the TTL counts from there, so a retry computes the same expiry.
    pub started_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleOutput {
    /// RFC 3339 (UTC) expiry, when the spec has `ttl_hours`.
    pub expires_at: Option<String>,
    /// Name of the expiry schedule in the pipeline's schedule group.
    pub expiry_schedule: Option<String>,
}

pub async fn handle(
    aws: &Aws,
    settings: &Settings,
    event: serde_json::Value,
) -> Result<LifecycleOutput, MecError> {
    let input: LifecycleInput =
        mec_shared::input::parse_value(event, "input", MecError::invalid_input)?;
    input.spec.validate()?;
    validate_execution_arn(&input.execution_arn)?;
    let expires = input
        .spec
        .ttl_hours
        .map(|hours| ttl::expires_at(&input.started_at, hours))
        .transpose()?;
    let span = tracing::info_span!("step", environment = %input.spec.name, step = "lifecycle");
    register(aws, settings, &input, expires.as_ref())
        .instrument(span)
        .await
}

async fn register(
    aws: &Aws,
    settings: &Settings,
    input: &LifecycleInput,
    expires: Option<&DateTime>,
) -> Result<LifecycleOutput, MecError> {
    let environment = input.spec.name.as_str();
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(tags::environment_filter(environment))
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeVpcs", e))?;
    let vpc_ids: Vec<String> = vpcs
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect();
    if vpc_ids.is_empty() {
        return Err(MecError::AwsError {
            operation: "DescribeVpcs".into(),
            code: "InvalidVpcID.NotFound".into(),
            message: format!(
                "environment {environment} has no VPC: the network step must run first"
            ),
        });
    }

    let expires_at = expires.map(ttl::format_time);
    let mut request = aws
        .ec2
        .create_tags()
        .set_resources(Some(vpc_ids))
        .tags(tags::tag(tags::EXECUTION, &input.execution_arn));
    if let Some(at) = &expires_at {
        request = request.tags(tags::tag(tags::EXPIRES_AT, at));
    }
    // The network step created the VPC moments ago: EC2 may not know it yet.
    mec_shared::send_after_create!("CreateTags", request)?;

    let expiry_schedule = match expires {
        None => None,
        Some(at) => {
            let target = ExpiryTarget {
                group: Settings::required(&settings.schedule_group, "MEC_SCHEDULE_GROUP")?,
                scheduler_role_arn: Settings::required(
                    &settings.scheduler_role_arn,
                    "MEC_SCHEDULER_ROLE_ARN",
                )?,
                teardown_state_machine_arn: Settings::required(
                    &settings.teardown_state_machine_arn,
                    "MEC_TEARDOWN_STATE_MACHINE_ARN",
                )?,
            };
            Some(schedule::create(aws, target, environment, at).await?)
        }
    };
    info!(
        expires_at = expires_at.as_deref().unwrap_or("never"),
        "environment registered"
    );
    Ok(LifecycleOutput {
        expires_at,
        expiry_schedule,
    })
}

/// A Step Functions execution ARN: `arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`.
fn validate_execution_arn(arn: &str) -> Result<(), MecError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = arn.len() <= 256
        && parts.len() == 8
        && parts[0] == "arn"
        && parts[2] == "states"
        && parts[5] == "execution"
        && parts.iter().all(|p| !p.is_empty());
    if well_formed {
        Ok(())
    } else {
        Err(MecError::invalid_input(
            "execution_arn",
            "must be a Step Functions execution ARN (arn:<partition>:states:<region>:<account>:execution:<machine>:<name>)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arns_are_checked() {
        validate_execution_arn(
            "arn:aws:states:us-east-1:123456789012:execution:mec-provision:lab--c-1",
        )
        .unwrap();
        for bad in [
            "",
            "arn:aws:states:us-east-1:1:stateMachine:mec",
            "x:y",
            "arn:aws:states:r:a:execution::n",
        ] {
            let err = validate_execution_arn(bad).unwrap_err();
            assert!(err.to_string().contains("execution_arn"), "{bad}");
        }
    }
}
