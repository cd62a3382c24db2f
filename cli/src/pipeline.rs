//! Talking to the deployed pipeline: start executions, follow them step by step, read the
//! environment's status from its executions, audit what is left by tag.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus, HistoryEventType};
use mec_shared::{inventory, Aws, EnvironmentSpec, MecError};
use serde_json::{json, Value};

use crate::CliError;

/// Execution names are `<environment>--c-<time>` (create) and `<environment>--d-<time>` (delete):
/// environment names never contain `--`, so the environment of an execution is unambiguous.
const SEPARATOR: &str = "--";

pub struct Pipeline {
    sfn: aws_sdk_sfn::Client,
    aws: Aws,
    prefix: String,
}

/// An environment's state, as its latest execution tells it.
struct EnvStatus {
    status: &'static str,
    execution: ExecutionListItem,
    detail: Value,
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

fn now_stamp() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
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

    async fn machine_arn(&self, kind: &str) -> Result<String, CliError> {
        let wanted = format!("{}-{kind}", self.prefix);
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

    async fn start(&self, kind: &str, execution: &str, input: &Value) -> Result<String, CliError> {
        let arn = self.machine_arn(kind).await?;
        let out = self
            .sfn
            .start_execution()
            .state_machine_arn(arn)
            .name(execution)
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| CliError::from(MecError::from_sdk("StartExecution", e)))?;
        Ok(out.execution_arn().to_string())
    }

    pub async fn create(
        &self,
        spec: EnvironmentSpec,
        wait: bool,
        json_out: bool,
    ) -> Result<(), CliError> {
        if let Some(current) = self.latest(&spec.name).await? {
            if matches!(current.status, "CREATING" | "READY" | "DELETING") {
                return Err(CliError::Usage(format!(
                    "{} is {}: delete it first",
                    spec.name, current.status
                )));
            }
        }
        let execution = format!("{}{SEPARATOR}c-{}", spec.name, now_stamp());
        let input = serde_json::to_value(&spec).map_err(|e| CliError::Usage(e.to_string()))?;
        let arn = self.start("provision", &execution, &input).await?;
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
        let execution = format!("{name}{SEPARATOR}d-{}", now_stamp());
        let arn = self
            .start("teardown", &execution, &json!({ "name": name }))
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
        let status = self
            .latest(name)
            .await?
            .ok_or_else(|| CliError::Aws(format!("{name} has no execution")))?;
        print_status(name, &status, json_out);
        if ended == ExecutionStatus::Succeeded {
            Ok(())
        } else {
            Err(CliError::Failed(format!("{name} is {}", status.status)))
        }
    }

    /// Every execution of the environment, newest first, from both machines.
    async fn executions(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<(String, ExecutionListItem)>, CliError> {
        let mut found = Vec::new();
        for kind in ["provision", "teardown"] {
            let arn = self.machine_arn(kind).await?;
            let mut pages = self
                .sfn
                .list_executions()
                .state_machine_arn(arn)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| CliError::from(MecError::from_sdk("ListExecutions", e)))?;
                for execution in page.executions() {
                    let Some((env, _)) = execution.name().split_once(SEPARATOR) else {
                        continue;
                    };
                    if name.is_none_or(|n| n == env) {
                        found.push((kind.to_string(), execution.clone()));
                    }
                }
            }
        }
        found.sort_by(|a, b| {
            b.1.start_date()
                .cmp(a.1.start_date())
                .then_with(|| b.1.name().cmp(a.1.name()))
        });
        Ok(found)
    }

    async fn latest(&self, name: &str) -> Result<Option<EnvStatus>, CliError> {
        let Some((kind, execution)) = self.executions(Some(name)).await?.into_iter().next() else {
            return Ok(None);
        };
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .map_err(|e| CliError::from(MecError::from_sdk("DescribeExecution", e)))?;
        let status = environment_status(&kind, described.status());
        let detail = match described
            .output()
            .and_then(|o| serde_json::from_str::<Value>(o).ok())
        {
            Some(output) => output,
            None => json!({"error": {"type": described.error(), "message": described.cause()}}),
        };
        Ok(Some(EnvStatus {
            status,
            execution,
            detail,
        }))
    }

    pub async fn show_status(&self, name: &str, json_out: bool) -> Result<(), CliError> {
        mec_shared::spec::validate_name(name)?;
        match self.latest(name).await? {
            Some(status) => {
                print_status(name, &status, json_out);
                Ok(())
            }
            None => Err(CliError::Usage(format!("no environment named {name}"))),
        }
    }

    pub async fn list(&self, json_out: bool) -> Result<(), CliError> {
        let mut rows: Vec<Value> = Vec::new();
        // Newest first: the first execution seen of an environment is its latest.
        for (kind, execution) in self.executions(None).await? {
            let Some((env, _)) = execution.name().split_once(SEPARATOR) else {
                continue;
            };
            if rows.iter().any(|r| r["name"] == env) {
                continue;
            }
            rows.push(json!({
                "name": env,
                "status": environment_status(&kind, execution.status()),
                "since": execution.start_date().to_string(),
            }));
        }
        if json_out {
            println!("{}", Value::Array(rows));
        } else {
            for row in rows {
                println!(
                    "{:<34} {:<9} since {}",
                    row["name"].as_str().unwrap_or(""),
                    row["status"].as_str().unwrap_or(""),
                    row["since"].as_str().unwrap_or("")
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
            .latest(name)
            .await?
            .map(|s| s.status)
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

/// An environment's status from its latest execution: which machine ran, and how it ended.
fn environment_status(kind: &str, execution: &ExecutionStatus) -> &'static str {
    match (kind, execution) {
        ("provision", ExecutionStatus::Running) => "CREATING",
        ("provision", ExecutionStatus::Succeeded) => "READY",
        ("teardown", ExecutionStatus::Running) => "DELETING",
        ("teardown", ExecutionStatus::Succeeded) => "DELETED",
        _ => "FAILED",
    }
}

fn print_status(name: &str, status: &EnvStatus, json_out: bool) {
    if json_out {
        let mut record =
            json!({"name": name, "status": status.status, "execution": status.execution.name()});
        if let Value::Object(detail) = &status.detail {
            for (k, v) in detail {
                if k != "name" && k != "status" {
                    record[k] = v.clone();
                }
            }
        }
        println!("{record}");
        return;
    }
    println!("{name}: {}", status.status);
    if let Some(error) = status.detail.get("error").filter(|e| !e["type"].is_null()) {
        println!(
            "  error: {}: {}",
            error["type"].as_str().unwrap_or(""),
            error["message"].as_str().unwrap_or("")
        );
    }
    if let Some(vpc) = status.detail.get("vpc_id").and_then(Value::as_str) {
        println!("  vpc      {vpc}");
    }
    for role in ["masters", "workers"] {
        for node in status
            .detail
            .get(role)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            println!(
                "  {:<28} {:<20} {:<15} {}",
                node["name"].as_str().unwrap_or(""),
                node["instance_id"].as_str().unwrap_or(""),
                node["private_ip"].as_str().unwrap_or("-"),
                node["role"].as_str().unwrap_or("")
            );
        }
    }
}
