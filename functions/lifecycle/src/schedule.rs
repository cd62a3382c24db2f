//! The expiry schedule's creation: a one-time EventBridge schedule that starts the teardown
//! machine with `{"name": <environment>}` at the expiry, as an execution named
//! `<environment>--d-<scheduler's id>` (the universal StartExecution target names it).

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use mec_shared::ttl::{self, DateTime};
use mec_shared::{naming, Aws, MecError};

/// Where expiry schedules go and what they start: all three come from the deployment.
#[derive(Debug, Clone, Copy)]
pub struct ExpiryTarget<'a> {
    pub group: &'a str,
    pub scheduler_role_arn: &'a str,
    pub teardown_state_machine_arn: &'a str,
}

/// Creates (or, on a retry or a new run, updates) the schedule that destroys `environment` at
/// `expires`. Returns the schedule's name.
pub async fn create(
    aws: &Aws,
    target: ExpiryTarget<'_>,
    environment: &str,
    expires: &DateTime,
) -> Result<String, MecError> {
    let name = naming::expiry_schedule(environment);
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| MecError::Configuration(format!("expiry schedule window: {e}")))?;
    let partition = target
        .teardown_state_machine_arn
        .split(':')
        .nth(1)
        .unwrap_or("aws");
    let execution = naming::delete_execution(environment, naming::SCHEDULER_EXECUTION_ID);
    let input = naming::scheduled_start_input(
        target.teardown_state_machine_arn,
        &execution,
        &serde_json::json!({ "name": environment }),
    );
    let sfn_target = Target::builder()
        .arn(naming::scheduled_start_target(partition))
        .role_arn(target.scheduler_role_arn)
        .input(input)
        .build()
        .map_err(|e| MecError::Configuration(format!("expiry schedule target: {e}")))?;
    let description = format!("mec: destroy environment {environment} when its TTL expires");

    let created = aws
        .scheduler
        .create_schedule()
        .name(&name)
        .group_name(target.group)
        .description(&description)
        .schedule_expression(ttl::at_expression(expires))
        .schedule_expression_timezone("UTC")
        .flexible_time_window(window.clone())
        .target(sfn_target.clone())
        .action_after_completion(ActionAfterCompletion::Delete)
        .send()
        .await;
    match created {
        Ok(_) => Ok(name),
        // A retry of this step, or a new run of the same environment: same schedule, new time.
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_conflict_exception()) =>
        {
            aws.scheduler
                .update_schedule()
                .name(&name)
                .group_name(target.group)
                .description(&description)
                .schedule_expression(ttl::at_expression(expires))
                .schedule_expression_timezone("UTC")
                .flexible_time_window(window)
                .target(sfn_target)
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("UpdateSchedule", e))?;
            Ok(name)
        }
        Err(e) => Err(MecError::from_sdk("CreateSchedule", e)),
    }
}
