//! `mec local fire-schedule`: what EventBridge Scheduler does when a schedule fires, on demand.
//! The emulator stores schedules but never fires them; this reads the schedule and calls its
//! target the way the scheduler would (StartExecution or Invoke, with the schedule's input), then
//! deletes a one-time schedule that asks for it (`ActionAfterCompletion: DELETE`).
//!
//! A Lambda target is invoked with a plain HTTP request to the local world's Lambda endpoint
//! (`AWS_ENDPOINT_URL`, as `mec local env` sets it): this command exists for the local world only.
//!
//! mec's schedules start state machines through the universal StartExecution target, which
//! names the execution (`<environment>--c-<id>` / `--d-<id>`); the reaper's is a Lambda target.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_scheduler::types::ActionAfterCompletion;
use mec_shared::{naming, MecError};
use serde_json::{json, Value};

use crate::CliError;

pub async fn fire(
    config: &SdkConfig,
    group: &str,
    name: &str,
    json_out: bool,
) -> Result<(), CliError> {
    let scheduler = aws_sdk_scheduler::Client::new(config);
    let schedule = scheduler
        .get_schedule()
        .group_name(group)
        .name(name)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception())
            {
                CliError::NotFound(format!("no schedule {name} in group {group}"))
            } else {
                MecError::from_sdk("GetSchedule", e).into()
            }
        })?;
    let target = schedule
        .target()
        .ok_or_else(|| CliError::Aws(format!("schedule {group}/{name} has no target")))?;
    let arn = target.arn();
    let input = target.input().unwrap_or("{}");

    let mut report = json!({"schedule": format!("{group}/{name}"), "target": arn});
    if arn.ends_with(":aws-sdk:sfn:startExecution") {
        // The universal target: the input is StartExecution's parameters, context attributes
        // replaced as the scheduler does.
        let schedule_arn = schedule.arn().unwrap_or_default();
        let input = with_context_attributes(input, schedule_arn);
        let parameters: Value = serde_json::from_str(&input).map_err(|e| {
            CliError::Aws(format!("schedule {group}/{name}: input is not JSON: {e}"))
        })?;
        let text = |key: &str| {
            parameters
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let sfn = aws_sdk_sfn::Client::new(config);
        let started = sfn
            .start_execution()
            .state_machine_arn(text("StateMachineArn"))
            .name(text("Name"))
            .input(text("Input"))
            .send()
            .await
            .map_err(|e| CliError::from(MecError::from_sdk("StartExecution", e)))?;
        report["execution_arn"] = json!(started.execution_arn());
    } else if arn.contains(":lambda:") {
        let (error, payload) = invoke_locally(arn, input)?;
        report["result"] = serde_json::from_str::<Value>(&payload).unwrap_or(json!(payload));
        if let Some(error) = error {
            return Err(CliError::Failed(format!(
                "schedule {group}/{name}: {arn} failed ({error}): {payload}"
            )));
        }
    } else {
        return Err(CliError::Usage(format!(
            "schedule {group}/{name} targets {arn}: only the universal StartExecution target and Lambda functions can be fired locally"
        )));
    }

    let one_time = schedule
        .schedule_expression()
        .unwrap_or_default()
        .starts_with("at(");
    if one_time && schedule.action_after_completion() == Some(&ActionAfterCompletion::Delete) {
        scheduler
            .delete_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
            .map_err(|e| CliError::from(MecError::from_sdk("DeleteSchedule", e)))?;
        report["deleted"] = json!(true);
    }

    if json_out {
        println!("{report}");
    } else {
        println!("fired {group}/{name} -> {arn}");
        if let Some(execution) = report["execution_arn"].as_str() {
            println!("  execution {execution}");
        }
        if let Some(result) = report.get("result") {
            println!("  result    {result}");
        }
    }
    Ok(())
}

/// The scheduler's context attributes, with values of this firing.
fn with_context_attributes(input: &str, schedule_arn: &str) -> String {
    let scheduled_time =
        mec_shared::ttl::format_time(&mec_shared::ttl::DateTime::from(SystemTime::now()));
    input
        .replace(naming::SCHEDULER_EXECUTION_ID, &naming::now_millis())
        .replace("<aws.scheduler.scheduled-time>", &scheduled_time)
        .replace("<aws.scheduler.attempt-number>", "1")
        .replace("<aws.scheduler.schedule-arn>", schedule_arn)
}

/// The environment's expiry schedule as an inventory entry, when it exists.
pub async fn expiry_schedule(
    aws: &mec_shared::Aws,
    group: &str,
    environment: &str,
) -> Result<Option<mec_shared::inventory::Resource>, MecError> {
    use mec_shared::inventory::{Resource, ResourceKind};
    let found = aws
        .scheduler
        .get_schedule()
        .name(naming::expiry_schedule(environment))
        .group_name(group)
        .send()
        .await;
    match found {
        Ok(_) => Ok(Some(Resource::new(
            ResourceKind::Schedule,
            mec_shared::expiry::resource_id(group, environment),
        ))),
        // No such schedule, or no such group (a pipeline deployed without schedules).
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(MecError::from_sdk("GetSchedule", e)),
    }
}

/// Invokes a function of the local world synchronously (Lambda's Invoke API over HTTP/1.1);
/// returns the `X-Amz-Function-Error` header, if any, and the payload.
fn invoke_locally(function_arn: &str, payload: &str) -> Result<(Option<String>, String), CliError> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        CliError::Usage("AWS_ENDPOINT_URL is not set: run `eval \"$(mec local env)\"` first".into())
    })?;
    let address = endpoint
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|host| host.starts_with("127.0.0.1:") || host.starts_with("localhost:"))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "AWS_ENDPOINT_URL={endpoint}: fire-schedule only invokes functions of the local world (http://127.0.0.1:PORT)"
            ))
        })?;
    let unreachable = |e: std::io::Error| CliError::Aws(format!("local world at {endpoint}: {e}"));
    let mut stream = TcpStream::connect(address).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(900)))
        .map_err(unreachable)?;
    // moto routes by path; the authorization header only names the service and region.
    let request = format!(
        "POST /2015-03-31/functions/{function_arn}/invocations HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=local\r\n\
         Connection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(unreachable)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with('2') {
        return Err(CliError::Aws(format!(
            "Invoke {function_arn}: HTTP {status}: {body}"
        )));
    }
    let function_error = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("x-amz-function-error"))
        .map(|(_, value)| value.trim().to_string());
    Ok((function_error, body.to_string()))
}
