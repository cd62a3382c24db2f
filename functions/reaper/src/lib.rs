//! The reaper, started on a schedule: it tears down environments that should not exist any
//! more and leaves alone the ones an execution is working on.
//!
//! An environment is found by its tagged VPC (or, when the VPC is gone, its tagged instances).
//! It is reaped when
//! - its TTL passed (`mec:expires-at`), whatever else is true;
//! - a teardown started (`mec:status=DELETING`) and never finished;
//! - the provisioning run that owns it (`mec:execution`) ended FAILED, TIMED_OUT or ABORTED: its
//!   rollback did not run to the end;
//! - no run owns it (the run died between the network and the lifecycle step).
//!
//! It is kept while a provisioning or teardown execution for it is RUNNING, and when its run
//! SUCCEEDED (a READY environment) or can no longer be found (no evidence, no deletion).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use aws_sdk_ec2::types::Filter;
use aws_sdk_sfn::types::ExecutionStatus;
use mec_shared::ttl::{self, DateTime};
use mec_shared::{naming, tags, Aws, MecError, Settings};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// The clients the reaper needs: EC2 (through [`Aws`]) and Step Functions.
#[derive(Debug, Clone)]
pub struct Clients {
    pub aws: Aws,
    pub sfn: aws_sdk_sfn::Client,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaperInput {
    /// Report what would be reaped, start nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaped {
    pub name: String,
    pub reason: String,
    /// The teardown execution started (absent in a dry run).
    pub execution_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaperOutput {
    /// Environments found by their tags.
    pub examined: usize,
    pub reaped: Vec<Reaped>,
}

/// What the tags of one environment say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub expires_at: Option<String>,
    pub execution_arn: Option<String>,
    pub deleting: bool,
}

pub async fn handle(
    clients: &Clients,
    settings: &Settings,
    event: serde_json::Value,
) -> Result<ReaperOutput, MecError> {
    // A scheduled invocation may pass `{}` or nothing at all.
    let event = if event.is_null() {
        serde_json::json!({})
    } else {
        event
    };
    let input: ReaperInput =
        mec_shared::input::parse_value(event, "input", MecError::invalid_input)?;
    let provision = Settings::required(
        &settings.provision_state_machine_arn,
        "MEC_PROVISION_STATE_MACHINE_ARN",
    )?;
    let teardown = Settings::required(
        &settings.teardown_state_machine_arn,
        "MEC_TEARDOWN_STATE_MACHINE_ARN",
    )?;
    let span = tracing::info_span!("step", step = "reaper");
    let _entered = span.enter();

    let environments = environments(&clients.aws).await?;
    let busy = busy_environments(&clients.sfn, &[provision, teardown]).await?;
    let now = DateTime::from(SystemTime::now());
    let mut reaped = Vec::new();
    for (name, found) in &environments {
        if busy.contains(name) {
            continue;
        }
        let run = match (&found.execution_arn, needs_run_status(found, &now)) {
            (Some(arn), true) => execution_status(&clients.sfn, arn).await?,
            _ => None,
        };
        let Some(reason) = verdict(found, run.as_ref(), &now) else {
            continue;
        };
        let execution_arn = if input.dry_run {
            None
        } else {
            start_teardown(&clients.sfn, teardown, name).await?
        };
        info!(environment = %name, reason, "reaping");
        reaped.push(Reaped {
            name: name.clone(),
            reason,
            execution_arn,
        });
    }
    info!(
        examined = environments.len(),
        reaped = reaped.len(),
        "reaper pass done"
    );
    Ok(ReaperOutput {
        examined: environments.len(),
        reaped,
    })
}

/// Whether the owning run's status decides the verdict (it does unless the tags already do).
fn needs_run_status(found: &Found, now: &DateTime) -> bool {
    !found.deleting && !expired(found, now)
}

fn expired(found: &Found, now: &DateTime) -> bool {
    found
        .expires_at
        .as_deref()
        .and_then(|at| ttl::parse_time(at).ok())
        .is_some_and(|at| at.secs() <= now.secs())
}

/// Why an idle environment is reaped, or `None` to keep it. `run` is the owning provisioning
/// run's status: `None` when it was not asked or no longer exists.
pub fn verdict(found: &Found, run: Option<&ExecutionStatus>, now: &DateTime) -> Option<String> {
    if expired(found, now) {
        return Some(format!(
            "its TTL expired at {}",
            found.expires_at.as_deref().unwrap_or_default()
        ));
    }
    if found.deleting {
        return Some("a teardown started and never finished".into());
    }
    match (&found.execution_arn, run) {
        (None, _) => Some("no provisioning run owns it".into()),
        (Some(_), Some(status))
            if matches!(
                status,
                ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
            ) =>
        {
            Some(format!(
                "its provisioning run ended {} without a complete rollback",
                status.as_str()
            ))
        }
        _ => None,
    }
}

/// Every environment that still has a tagged VPC or a tagged, not terminated instance.
async fn environments(aws: &Aws) -> Result<BTreeMap<String, Found>, MecError> {
    let has_environment_tag = || {
        Filter::builder()
            .name("tag-key")
            .values(tags::ENVIRONMENT)
            .build()
    };
    let mut found: BTreeMap<String, Found> = BTreeMap::new();

    let mut vpc_pages = aws
        .ec2
        .describe_vpcs()
        .filters(has_environment_tag())
        .into_paginator()
        .send();
    while let Some(page) = vpc_pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("DescribeVpcs", e))?;
        for vpc in page.vpcs() {
            let Some(name) = tags::value_of(vpc.tags(), tags::ENVIRONMENT) else {
                continue;
            };
            let value = |key| tags::value_of(vpc.tags(), key).map(str::to_string);
            found.insert(
                name.to_string(),
                Found {
                    expires_at: value(tags::EXPIRES_AT),
                    execution_arn: value(tags::EXECUTION),
                    deleting: value(tags::STATUS).as_deref() == Some("DELETING"),
                },
            );
        }
    }

    // Instances that outlived their VPC's record (a teardown that died half-way).
    let mut instance_pages = aws
        .ec2
        .describe_instances()
        .filters(has_environment_tag())
        .filters(tags::values_filter(
            "instance-state-name",
            &["pending", "running", "stopping", "stopped"],
        ))
        .into_paginator()
        .send();
    while let Some(page) = instance_pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("DescribeInstances", e))?;
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            if let Some(name) = tags::value_of(instance.tags(), tags::ENVIRONMENT) {
                found.entry(name.to_string()).or_insert_with(|| Found {
                    deleting: true,
                    ..Found::default()
                });
            }
        }
    }
    Ok(found)
}

/// Names of the environments a RUNNING provisioning or teardown execution works on (read from
/// each execution's input: console and schedule runs have names of their own).
async fn busy_environments(
    sfn: &aws_sdk_sfn::Client,
    machines: &[&str],
) -> Result<BTreeSet<String>, MecError> {
    let mut busy = BTreeSet::new();
    for machine in machines {
        let mut pages = sfn
            .list_executions()
            .state_machine_arn(*machine)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| MecError::from_sdk("ListExecutions", e))?;
            for execution in page.executions() {
                let described = sfn
                    .describe_execution()
                    .execution_arn(execution.execution_arn())
                    .send()
                    .await
                    .map_err(|e| MecError::from_sdk("DescribeExecution", e))?;
                let name = described
                    .input()
                    .and_then(|input| serde_json::from_str::<serde_json::Value>(input).ok())
                    .and_then(|input| input.get("name")?.as_str().map(str::to_string));
                match name {
                    Some(name) => {
                        busy.insert(name);
                    }
                    // Not an environment's run (a malformed console input fails at Validate).
                    None => warn!(
                        execution = execution.name(),
                        "running execution without a name in its input"
                    ),
                }
            }
        }
    }
    Ok(busy)
}

/// The owning run's status; `None` when Step Functions no longer has it.
async fn execution_status(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
) -> Result<Option<ExecutionStatus>, MecError> {
    let described = sfn.describe_execution().execution_arn(arn).send().await;
    match described {
        Ok(out) => Ok(Some(out.status().clone())),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_execution_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(MecError::from_sdk("DescribeExecution", e)),
    }
}

async fn start_teardown(
    sfn: &aws_sdk_sfn::Client,
    machine: &str,
    environment: &str,
) -> Result<Option<String>, MecError> {
    let started = sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(naming::delete_execution(environment, &naming::now_millis()))
        .input(serde_json::json!({ "name": environment }).to_string())
        .send()
        .await
        .map_err(|e| MecError::from_sdk("StartExecution", e))?;
    Ok(Some(started.execution_arn().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime {
        ttl::parse_time(text).unwrap()
    }

    #[test]
    fn an_expired_ttl_reaps_even_a_ready_environment() {
        let found = Found {
            expires_at: Some("2026-11-28T10:00:00Z".into()),
            execution_arn: Some("arn".into()),
            deleting: false,
        };
        let now = at("2026-11-28T10:00:01Z");
        let reason = verdict(&found, Some(&ExecutionStatus::Succeeded), &now).unwrap();
        assert!(reason.contains("TTL expired"), "{reason}");
        assert!(verdict(
            &found,
            Some(&ExecutionStatus::Succeeded),
            &at("2026-11-28T09:00:00Z")
        )
        .is_none());
    }

    #[test]
    fn a_failed_or_aborted_run_is_reaped_a_ready_one_kept() {
        let found = Found {
            execution_arn: Some("arn".into()),
            ..Found::default()
        };
        let now = at("2026-11-28T10:00:00Z");
        for ended in [
            ExecutionStatus::Failed,
            ExecutionStatus::Aborted,
            ExecutionStatus::TimedOut,
        ] {
            assert!(verdict(&found, Some(&ended), &now).is_some(), "{ended:?}");
        }
        assert!(verdict(&found, Some(&ExecutionStatus::Succeeded), &now).is_none());
        // No evidence (history expired): keep.
        assert!(verdict(&found, None, &now).is_none());
    }

    #[test]
    fn unfinished_teardowns_and_unowned_environments_are_reaped() {
        let now = at("2026-11-28T10:00:00Z");
        let deleting = Found {
            deleting: true,
            execution_arn: Some("arn".into()),
            ..Found::default()
        };
        assert!(verdict(&deleting, None, &now).unwrap().contains("teardown"));
        assert!(verdict(&Found::default(), None, &now)
            .unwrap()
            .contains("no provisioning run"));
    }
}
