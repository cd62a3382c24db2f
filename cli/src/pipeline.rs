//! The CLI's side of the shared service (mec_shared::environments): outcomes to text, JSON or
//! YAML and to exit codes, `--wait` progress, and the audit by tag.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use mec_shared::environments::{Environments, Machine, Machines, Outcome};
use mec_shared::record::{EnvironmentRecord, Status};
use mec_shared::registry::Registry;
use mec_shared::{inventory, Aws, EnvironmentSpec, MecError};
use serde_json::json;

use crate::output::{self, Format};
use crate::CliError;

/// Where the pipeline is: its name prefix, and the AWS region and profile to use.
#[derive(Debug, Clone)]
pub struct Connection {
    pub prefix: String,
    pub region: Option<String>,
    pub profile: Option<String>,
}

impl Connection {
    /// The AWS configuration: --region and --profile over the standard chain, mec's timeouts.
    pub async fn config(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        mec_shared::aws::configured(loader).load().await
    }
}

pub struct Pipeline {
    sfn: aws_sdk_sfn::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    aws: Aws,
    prefix: String,
}

fn poll_interval() -> Duration {
    let millis = std::env::var("MEC_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(millis)
}

impl Pipeline {
    pub async fn connect(connection: Connection) -> Self {
        let config = connection.config().await;
        Self {
            sfn: aws_sdk_sfn::Client::new(&config),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            aws: Aws::from_config(&config),
            prefix: connection.prefix,
        }
    }

    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    /// The pipeline's name prefix (Terraform's name_prefix).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub async fn machine_arn(&self, machine: Machine) -> Result<String, CliError> {
        let wanted = format!("{}-{}", self.prefix, machine.suffix());
        let mut pages = self.sfn.list_state_machines().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| CliError::from(MecError::from_sdk("ListStateMachines", e)))?;
            if let Some(machine) = page.state_machines().iter().find(|m| m.name() == wanted) {
                return Ok(machine.state_machine_arn().to_string());
            }
        }
        Err(CliError::Aws(format!(
            "no state machine {wanted}: is the pipeline deployed (terraform apply, or `mec local up`)?"
        )))
    }

    /// The deployed pipeline's environments: the service the HTTP API uses too.
    pub async fn environments(&self) -> Result<Environments, CliError> {
        let machines = Machines {
            provision: self.machine_arn(Machine::Provision).await?,
            teardown: self.machine_arn(Machine::Teardown).await?,
        };
        let registry = Registry::new(self.dynamodb.clone(), Registry::table_of(&self.prefix));
        Ok(Environments::new(self.sfn.clone(), registry, machines)
            .with_zone_checks(self.aws.ec2.clone()))
    }

    pub async fn create(
        &self,
        spec: &EnvironmentSpec,
        wait: bool,
        timeout: Option<Duration>,
        format: Format,
    ) -> Result<(), CliError> {
        let environments = self.environments().await?;
        let name = &spec.name;
        let run = match environments.create(spec).await? {
            Outcome::Started { record, execution } => {
                eprintln!(
                    "creating {name} ({} master{}, {} worker{}) — execution {execution}",
                    spec.masters,
                    plural(spec.masters),
                    spec.workers,
                    plural(spec.workers)
                );
                (record, Some(execution))
            }
            Outcome::Unchanged(record) => {
                eprintln!(
                    "{name} already exists with this spec ({}): nothing started",
                    record.status.as_str()
                );
                (record, None)
            }
            other => return finish(other, format, Status::Ready),
        };
        self.conclude(&environments, run, wait, timeout, format, Status::Ready)
            .await
    }

    /// Deletes an environment; `leftovers`: also one the registry does not know (mec sweep
    /// found resources tagged for it).
    pub async fn delete(
        &self,
        name: &str,
        leftovers: bool,
        wait: bool,
        timeout: Option<Duration>,
        format: Format,
    ) -> Result<(), CliError> {
        mec_shared::spec::validate_name(name)?;
        let environments = self.environments().await?;
        let outcome = if leftovers {
            environments.delete_leftovers(name).await?
        } else {
            environments.delete(name).await?
        };
        let run = match outcome {
            Outcome::Started { record, execution } => {
                eprintln!("deleting {name} — execution {execution}");
                (record, Some(execution))
            }
            Outcome::Unchanged(record) => {
                eprintln!(
                    "{name} is already {}: nothing started",
                    record.status.as_str()
                );
                (record, None)
            }
            other => return finish(other, format, Status::Deleted),
        };
        self.conclude(&environments, run, wait, timeout, format, Status::Deleted)
            .await
    }

    /// Prints the record now, or (with --wait) once the run ends; exit 1 when it did not reach
    /// `goal`.
    async fn conclude(
        &self,
        environments: &Environments,
        (record, execution): (EnvironmentRecord, Option<String>),
        wait: bool,
        timeout: Option<Duration>,
        format: Format,
        goal: Status,
    ) -> Result<(), CliError> {
        if !wait {
            output::record(&record, format);
            return Ok(());
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        if let Some(arn) = &execution {
            self.follow(arn, deadline).await?;
        }
        let record = loop {
            let record = match environments.get(&record.name).await? {
                Outcome::Found(record) => record,
                other => return finish(other, format, goal),
            };
            if !record.status.in_flight() {
                break record;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                output::record(&record, format);
                return Err(CliError::Failed(format!(
                    "{} is still {} after the --timeout (the run goes on)",
                    record.name,
                    record.status.as_str()
                )));
            }
            tokio::time::sleep(poll_interval()).await;
        };
        finish(Outcome::Found(record), format, goal)
    }

    /// Polls the execution until it ends (or the deadline), printing on stderr each state once,
    /// when it is first entered, in the order the history holds them.
    async fn follow(&self, arn: &str, deadline: Option<Instant>) -> Result<(), CliError> {
        let started = Instant::now();
        let mut seen_event: i64 = 0;
        let mut shown: HashSet<String> = HashSet::new();
        loop {
            let described = self
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .map_err(|e| CliError::from(MecError::from_sdk("DescribeExecution", e)))?;
            let mut pages = self
                .sfn
                .get_execution_history()
                .execution_arn(arn)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| CliError::from(MecError::from_sdk("GetExecutionHistory", e)))?;
                let already = seen_event;
                for event in page.events().iter().filter(|e| e.id() > already) {
                    seen_event = event.id();
                    let entered = matches!(
                        event.r#type(),
                        HistoryEventType::TaskStateEntered | HistoryEventType::ParallelStateEntered
                    );
                    if let (true, Some(details)) = (entered, event.state_entered_event_details()) {
                        if shown.insert(details.name().to_string()) {
                            eprintln!(
                                "  {:>6.1}s  {}",
                                started.elapsed().as_secs_f64(),
                                details.name()
                            );
                        }
                    }
                }
            }
            if described.status() != &ExecutionStatus::Running {
                return Ok(());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
            tokio::time::sleep(poll_interval()).await;
        }
    }

    pub async fn show_status(&self, name: &str, format: Format) -> Result<(), CliError> {
        mec_shared::spec::validate_name(name)?;
        let outcome = self.environments().await?.get(name).await?;
        match outcome {
            Outcome::Found(record) => {
                output::record(&record, format);
                Ok(())
            }
            other => finish(other, format, Status::Ready),
        }
    }

    pub async fn list(&self, format: Format) -> Result<(), CliError> {
        let rows = self.environments().await?.list().await?;
        output::list(&rows, format);
        Ok(())
    }

    pub async fn audit(&self, name: &str, format: Format) -> Result<(), CliError> {
        mec_shared::spec::validate_name(name)?;
        let mut left = inventory::list(&self.aws, name).await?;
        // The expiry schedule lives in the pipeline's schedule group, named after the prefix.
        left.extend(crate::schedules::expiry_schedule(&self.aws, &self.prefix, name).await?);
        let status = match self.environments().await?.get(name).await? {
            Outcome::Found(record) => record.status.as_str(),
            _ => "UNKNOWN",
        };
        let leak = !left.is_empty() && !matches!(status, "CREATING" | "READY" | "DELETING");
        if format.is_data() {
            output::data(
                &json!({"name": name, "status": status, "resources": left, "leak": leak}),
                format,
            );
        } else if left.is_empty() {
            println!("{name}: nothing tagged for it exists (every resource type listed)");
        } else {
            println!(
                "{name} ({status}): {} resource(s) still tagged for it",
                left.len()
            );
            for resource in &left {
                println!(
                    "  {:<17} {}",
                    json!(resource.kind).as_str().unwrap_or_default(),
                    resource.id
                );
            }
        }
        if leak {
            Err(CliError::Failed(format!(
                "{name} is {status} but {} resource(s) are left",
                left.len()
            )))
        } else {
            Ok(())
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The exit of an outcome: the record printed and 0 when it reached `goal` (or a run is under
/// way), exit 1 when it ended elsewhere (FAILED), 4 when there is no such environment, 5 on a conflict.
fn finish(outcome: Outcome, format: Format, goal: Status) -> Result<(), CliError> {
    match outcome {
        Outcome::Found(record) | Outcome::Started { record, .. } | Outcome::Unchanged(record) => {
            output::record(&record, format);
            if record.status == goal || record.status.in_flight() {
                Ok(())
            } else {
                Err(CliError::Failed(format!(
                    "{} is {}",
                    record.name,
                    record.status.as_str()
                )))
            }
        }
        Outcome::NotFound(name) => Err(CliError::NotFound(format!(
            "no environment named {name} (mec list shows them all)"
        ))),
        Outcome::Conflict { conflict, record } => Err(CliError::Conflict(format!(
            "{}: {}",
            conflict.code(),
            conflict.message(&record.name)
        ))),
    }
}
