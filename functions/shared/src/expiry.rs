//! An environment's expiry schedule: the one-time EventBridge schedule, created by the lifecycle
//! step, that starts the teardown machine when the TTL expires. Every teardown deletes it first;
//! on AWS it also deletes itself once it fired (`ActionAfterCompletion: DELETE`).

use crate::aws::Aws;
use crate::error::MecError;
use crate::naming;

/// Deletes the environment's expiry schedule; `false` when there was none.
pub async fn cancel(aws: &Aws, group: &str, environment: &str) -> Result<bool, MecError> {
    delete(aws, &resource_id(group, environment)).await
}

/// Deletes a schedule named by its inventory id, `<group>/<name>`; `false` when it was gone.
pub async fn delete(aws: &Aws, id: &str) -> Result<bool, MecError> {
    let (group, name) = id.split_once('/').ok_or_else(|| {
        MecError::invalid_input("schedule", "must be <schedule group>/<schedule name>")
    })?;
    let deleted = aws
        .scheduler
        .delete_schedule()
        .name(name)
        .group_name(group)
        .send()
        .await;
    match deleted {
        Ok(_) => Ok(true),
        // No such schedule, or no such group (a pipeline deployed without schedules).
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(MecError::from_sdk("DeleteSchedule", e)),
    }
}

/// The inventory id of the environment's expiry schedule.
pub fn resource_id(group: &str, environment: &str) -> String {
    format!("{group}/{}", naming::expiry_schedule(environment))
}
