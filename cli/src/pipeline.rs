//! Talking to the deployed pipeline: start executions, follow them step by step, read the
//! environment's status from its executions, audit what is left by tag.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use mec_shared::record::{EnvironmentRecord, Status};
use mec_shared::status::{Environments, Machine, Machines};
use mec_shared::{inventory, Aws, EnvironmentSpec, MecError};
use serde_json::{json, Value};

use crate::CliError;

pub struct Pipeline {
    sfn: aws_sdk_sfn::Client,
    aws: Aws,
    prefix: String,
}

/// The spec from a file, or from flags; validated here so that a bad spec starts nothing.
pub fn spec_from(
    file: Option<PathBuf>,
    name: Option<String>,
    workers: Option<u32>,
) -> Result<EnvironmentSpec, CliError> {
    let value: Value = match (file, name) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))?
        }
        (None, Some(name)) => {
            let mut spec = json!({ "name": name });
            if let Some(workers) = workers {
                spec["workers"] = json!(workers);
            }
            spec
        }
        (None, None) => return Err(CliError::Usage("give a spec file or --name".into())),
    };
    Ok(EnvironmentSpec::from_value(value)?)
}

fn poll_interval() -> Duration {
    let millis = std::env::var("MEC_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(millis)
}

impl Pipeline {
    pub async fn connect(prefix: &str) -> Self {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self {
            sfn: aws_sdk_sfn::Client::new(&config),
            aws: Aws::from_config(&config),
            prefix: prefix.to_string(),
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

    /// The deployed pipeline's environments (status module shared with the HTTP API).
    async fn environments(&self) -> Result<Environments, CliError> {
        let machines = Machines {
            provision: self.machine_arn(Machine::Provision).await?,
            teardown: self.machine_arn(Machine::Teardown).await?,
        };
        Ok(Environments::new(self.sfn.clone(), machines))
    }

    async fn latest_record(&self, name: &str) -> Result<Option<EnvironmentRecord>, CliError> {
        let environments = self.environments().await?;
        Ok(environments.latest(name).await?.map(|l| l.record))
    }

    pub async fn create(
        &self,
        spec: EnvironmentSpec,
        wait: bool,
        json_out: bool,
    ) -> Result<(), CliError> {
        let environments = self.environments().await?;
        if let Some(current) = environments.latest(&spec.name).await? {
            let status = current.record.status;
            if matches!(status, Status::Creating | Status::Ready | Status::Deleting) {
                return Err(CliError::Usage(format!(
                    "{} is {}: delete it first",
                    spec.name,
                    status_text(status)
                )));
            }
        }
        let input = serde_json::to_value(&spec).map_err(|e| CliError::Usage(e.to_string()))?;
        let (execution, arn) = environments
            .start(Machine::Provision, &spec.name, &input)
            .await?;
        if !json_out {
            println!(
                "creating {} ({} master{}, {} worker{}) — execution {execution}",
                spec.name,
                spec.masters,
                if spec.masters == 1 { "" } else { "s" },
                spec.workers,
                if spec.workers == 1 { "" } else { "s" }
            );
        }
        if !wait {
            if json_out {
                println!(
                    "{}",
                    json!({"name": spec.name, "status": "CREATING", "execution": arn})
                );
            }
            return Ok(());
        }
        let ended = self.follow(&arn, !json_out).await?;
        self.report(&spec.name, ended, json_out).await
    }

    pub async fn delete(&self, name: &str, wait: bool, json_out: bool) -> Result<(), CliError> {
        mec_shared::spec::validate_name(name)?;
        let (execution, arn) = self
            .environments()
            .await?
            .start(Machine::Teardown, name, &json!({ "name": name }))
            .await?;
        if !json_out {
            println!("deleting {name} — execution {execution}");
        }
        if !wait {
            if json_out {
                println!(
                    "{}",
                    json!({"name": name, "status": "DELETING", "execution": arn})
                );
            }
            return Ok(());
        }
        let ended = self.follow(&arn, !json_out).await?;
        self.report(name, ended, json_out).await
    }

    /// Polls the execution until it ends, printing each step as it starts.
    async fn follow(&self, arn: &str, show: bool) -> Result<ExecutionStatus, CliError> {
        let started = Instant::now();
        let mut seen: i64 = 0;
        let mut last_step = String::new();
        loop {
            let described = self
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .map_err(|e| CliError::from(MecError::from_sdk("DescribeExecution", e)))?;
            if show {
                let mut pages = self
                    .sfn
                    .get_execution_history()
                    .execution_arn(arn)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| {
                        CliError::from(MecError::from_sdk("GetExecutionHistory", e))
                    })?;
                    let already = seen;
                    for event in page.events().iter().filter(|e| e.id() > already) {
                        seen = seen.max(event.id());
                        let step = match (event.r#type(), event.state_entered_event_details()) {
                            (
                                HistoryEventType::TaskStateEntered
                                | HistoryEventType::ParallelStateEntered,
                                Some(d),
                            ) => d.name(),
                            _ => continue,
                        };
                        if step != last_step {
                            println!("  {:>6.1}s  {step}", started.elapsed().as_secs_f64());
                            last_step = step.to_string();
                        }
                    }
                }
            }
            if described.status() != &ExecutionStatus::Running {
                return Ok(described.status().clone());
            }
            tokio::time::sleep(poll_interval()).await;
        }
    }

    async fn report(
        &self,
        name: &str,
        ended: ExecutionStatus,
        json_out: bool,
    ) -> Result<(), CliError> {
        let record = self
            .latest_record(name)
            .await?
            .ok_or_else(|| CliError::Aws(format!("{name} has no execution")))?;
        print_status(&record, json_out);
        if ended == ExecutionStatus::Succeeded {
            Ok(())
        } else {
            Err(CliError::Failed(format!(
                "{name} is {}",
                status_text(record.status)
            )))
        }
    }

    pub async fn show_status(&self, name: &str, json_out: bool) -> Result<(), CliError> {
        mec_shared::spec::validate_name(name)?;
        match self.latest_record(name).await? {
            Some(record) => {
                print_status(&record, json_out);
                Ok(())
            }
            None => Err(CliError::Usage(format!("no environment named {name}"))),
        }
    }

    pub async fn list(&self, json_out: bool) -> Result<(), CliError> {
        let rows = self.environments().await?.list().await?;
        if json_out {
            println!("{}", json!(rows));
        } else {
            for row in rows {
                println!(
                    "{:<34} {:<9} since {}",
                    row.name,
                    status_text(row.status),
                    row.since
                );
            }
        }
        Ok(())
    }

    pub async fn audit(&self, name: &str, json_out: bool) -> Result<(), CliError> {
        mec_shared::spec::validate_name(name)?;
        let mut left = inventory::list(&self.aws, name).await?;
        // The expiry schedule lives in the pipeline's schedule group, named after the prefix.
        left.extend(crate::schedules::expiry_schedule(&self.aws, &self.prefix, name).await?);
        let status = self
            .latest_record(name)
            .await?
            .map(|r| status_text(r.status))
            .unwrap_or("UNKNOWN");
        let leak = !left.is_empty() && !matches!(status, "CREATING" | "READY" | "DELETING");
        if json_out {
            println!(
                "{}",
                json!({"name": name, "status": status, "resources": left, "leak": leak})
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
                    serde_json::to_value(resource.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
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

fn status_text(status: Status) -> &'static str {
    match status {
        Status::Creating => "CREATING",
        Status::Ready => "READY",
        Status::Failed => "FAILED",
        Status::Deleting => "DELETING",
        Status::Deleted => "DELETED",
    }
}

fn print_status(record: &EnvironmentRecord, json_out: bool) {
    if json_out {
        println!("{}", json!(record));
        return;
    }
    println!("{}: {}", record.name, status_text(record.status));
    if let Some(step) = &record.step {
        println!("  step     {step}");
    }
    if let Some(error) = &record.error {
        println!("  error: {}: {}", error.error_type, error.message);
    }
    if let Some(vpc) = &record.vpc_id {
        println!("  vpc      {vpc}");
    }
    for node in &record.nodes {
        println!(
            "  {:<28} {:<20} {:<15} {}",
            node.name,
            node.instance_id,
            node.private_ip.as_deref().unwrap_or("-"),
            json!(node.role).as_str().unwrap_or("")
        );
    }
}
