//! An environment's status, read from the executions of the two state machines: no database.
//!
//! Execution names are `<environment>--c-<ms>` (create) and `<environment>--d-<ms>` (delete).
//! Environment names never contain `--`, so an execution names its environment unambiguously;
//! the newest execution of an environment says what state it is in. The CLI and the HTTP API
//! both start and read executions through this module, so each sees the other's environments.
//!
//! Reads are bounded whatever the history holds: ListExecutions answers newest first (Step
//! Functions API reference), so finding an environment's latest run stops at the first match
//! and reads at most [`MAX_LIST_PAGES`] pages of [`LIST_PAGE`] executions per machine; the
//! failed step comes from the history read newest first, which stops at the rollback's start.
//! An environment whose last run is older than that window is not found.

use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus, HistoryEventType};
use serde_json::Value;

use crate::error::{ErrorInfo, MecError};
use crate::model::Node;
use crate::record::{EnvironmentRecord, EnvironmentSummary, NodeRecord, Status};

pub use crate::naming::EXECUTION_SEPARATOR as SEPARATOR;

/// Executions per ListExecutions page (the API's maximum).
pub const LIST_PAGE: i32 = 1000;
/// Pages of executions read per machine, at most.
pub const MAX_LIST_PAGES: usize = 5;
/// Events per GetExecutionHistory page (the API's maximum).
pub const HISTORY_PAGE: i32 = 1000;
/// History pages read for the failed step, at most.
pub const MAX_HISTORY_PAGES: usize = 3;
/// The state the provisioning machine enters first when it rolls back
/// (statemachine/provision.asl.json).
const ROLLBACK_START: &str = "StartRollback";

/// The two state machines of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Provision,
    Teardown,
}

impl Machine {
    pub const ALL: [Machine; 2] = [Machine::Provision, Machine::Teardown];

    /// The machine's name after the pipeline's prefix (`<prefix>-provision`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Provision => "provision",
            Self::Teardown => "teardown",
        }
    }
}

/// The ARNs of a pipeline's state machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machines {
    pub provision: String,
    pub teardown: String,
}

impl Machines {
    pub fn arn(&self, machine: Machine) -> &str {
        match machine {
            Machine::Provision => &self.provision,
            Machine::Teardown => &self.teardown,
        }
    }
}

/// The execution name for a new run of `machine` on `environment`, stamped with the time in ms.
pub fn execution_name(environment: &str, machine: Machine) -> String {
    let stamp = crate::naming::now_millis();
    match machine {
        Machine::Provision => crate::naming::create_execution(environment, &stamp),
        Machine::Teardown => crate::naming::delete_execution(environment, &stamp),
    }
}

/// The environment an execution belongs to; `None` for executions not started by mec's rules.
pub fn environment_of(execution: &str) -> Option<&str> {
    execution.split_once(SEPARATOR).map(|(env, _)| env)
}

/// An environment's status from its latest execution: which machine ran, and how it ended.
pub fn status_of(machine: Machine, execution: &ExecutionStatus) -> Status {
    match (machine, execution) {
        (Machine::Provision, ExecutionStatus::Running) => Status::Creating,
        (Machine::Provision, ExecutionStatus::Succeeded) => Status::Ready,
        (Machine::Teardown, ExecutionStatus::Running) => Status::Deleting,
        (Machine::Teardown, ExecutionStatus::Succeeded) => Status::Deleted,
        _ => Status::Failed,
    }
}

/// One execution of an environment, with the machine that ran it.
#[derive(Debug, Clone)]
pub struct Run {
    pub machine: Machine,
    pub execution: ExecutionListItem,
}

/// An environment's latest execution, described: its status, input, and the record built from it.
#[derive(Debug, Clone)]
pub struct Latest {
    pub run: Run,
    /// The execution's input: the spec for a create, `{"name"}` for a delete.
    pub input: Option<Value>,
    pub record: EnvironmentRecord,
}

fn rfc3339(time: &aws_smithy_types::DateTime) -> Option<String> {
    time.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

/// Reads environments from a pipeline's executions.
#[derive(Debug, Clone)]
pub struct Environments {
    sfn: aws_sdk_sfn::Client,
    machines: Machines,
}

impl Environments {
    pub fn new(sfn: aws_sdk_sfn::Client, machines: Machines) -> Self {
        Self { sfn, machines }
    }

    pub fn machines(&self) -> &Machines {
        &self.machines
    }

    /// Starts `machine` for `environment` with `input`; returns the execution's ARN.
    pub async fn start(
        &self,
        machine: Machine,
        environment: &str,
        input: &Value,
    ) -> Result<(String, String), MecError> {
        let name = execution_name(environment, machine);
        let out = self
            .sfn
            .start_execution()
            .state_machine_arn(self.machines.arn(machine))
            .name(&name)
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| MecError::from_sdk("StartExecution", e))?;
        Ok((name, out.execution_arn().to_string()))
    }

    /// Executions, newest first, among each machine's newest [`MAX_LIST_PAGES`] x
    /// [`LIST_PAGE`]: the environment's latest run of each machine (at most two), or every run
    /// of every environment when `name` is `None`.
    pub async fn runs(&self, name: Option<&str>) -> Result<Vec<Run>, MecError> {
        let mut found = Vec::new();
        for machine in Machine::ALL {
            let mut pages = self
                .sfn
                .list_executions()
                .state_machine_arn(self.machines.arn(machine))
                .max_results(LIST_PAGE)
                .into_paginator()
                .page_size(LIST_PAGE)
                .send();
            let mut read = 0;
            'pages: while let Some(page) = pages.next().await {
                let page = page.map_err(|e| MecError::from_sdk("ListExecutions", e))?;
                for execution in page.executions() {
                    let Some(env) = environment_of(execution.name()) else {
                        continue;
                    };
                    if name.is_none_or(|n| n == env) {
                        found.push(Run {
                            machine,
                            execution: execution.clone(),
                        });
                        if name.is_some() {
                            break 'pages; // newest first: this machine's latest run
                        }
                    }
                }
                read += 1;
                if read >= MAX_LIST_PAGES {
                    break;
                }
            }
        }
        found.sort_by(|a, b| {
            b.execution
                .start_date()
                .cmp(a.execution.start_date())
                .then_with(|| b.execution.name().cmp(a.execution.name()))
        });
        Ok(found)
    }

    /// One line per environment, from its latest execution, newest first.
    pub async fn list(&self) -> Result<Vec<EnvironmentSummary>, MecError> {
        let mut rows: Vec<EnvironmentSummary> = Vec::new();
        for run in self.runs(None).await? {
            let Some(env) = environment_of(run.execution.name()) else {
                continue;
            };
            if rows.iter().any(|r| r.name == env) {
                continue;
            }
            rows.push(EnvironmentSummary {
                name: env.to_string(),
                status: status_of(run.machine, run.execution.status()),
                since: rfc3339(run.execution.start_date()).unwrap_or_default(),
            });
        }
        Ok(rows)
    }

    /// The environment's latest execution and its record; `None` when it never had one.
    pub async fn latest(&self, name: &str) -> Result<Option<Latest>, MecError> {
        let runs = self.runs(Some(name)).await?;
        let Some(run) = runs.first().cloned() else {
            return Ok(None);
        };
        let described = self
            .sfn
            .describe_execution()
            .execution_arn(run.execution.execution_arn())
            .send()
            .await
            .map_err(|e| MecError::from_sdk("DescribeExecution", e))?;
        let status = status_of(run.machine, described.status());
        let output = described
            .output()
            .and_then(|o| serde_json::from_str::<Value>(o).ok());
        let input = described
            .input()
            .and_then(|i| serde_json::from_str::<Value>(i).ok());
        let error = described.error().map(|error| ErrorInfo {
            error_type: error.to_string(),
            message: described.cause().unwrap_or_default().to_string(),
        });
        let step = match status {
            Status::Ready | Status::Deleted => None,
            _ => self.step(run.execution.execution_arn()).await?,
        };
        let created_at = runs
            .iter()
            .find(|r| r.machine == Machine::Provision)
            .and_then(|r| rfc3339(r.execution.start_date()));
        let updated_at = rfc3339(described.stop_date().unwrap_or(run.execution.start_date()));
        let mut record = EnvironmentRecord {
            name: name.to_string(),
            status,
            step,
            created_at,
            updated_at,
            vpc_id: None,
            nodes: Vec::new(),
            kubeconfig_parameter: None,
            api_endpoint: None,
            error,
            addons: Vec::new(),
            expires_at: None,
            rollback_removed: Vec::new(),
        };
        if status == Status::Ready {
            if let Some(output) = &output {
                fill_from_ready_output(&mut record, output);
            }
        }
        Ok(Some(Latest { run, input, record }))
    }

    /// The step an execution is in, or (after a failure) the step that failed: the last Task or
    /// Parallel state entered before the rollback began (`StartRollback`). Reads the history
    /// newest first and stops there: a page or two, however long the run.
    async fn step(&self, execution_arn: &str) -> Result<Option<String>, MecError> {
        let mut rolling_back = false;
        let mut latest: Option<String> = None;
        let mut pages = self
            .sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .max_results(HISTORY_PAGE)
            .into_paginator()
            .send();
        let mut read = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| MecError::from_sdk("GetExecutionHistory", e))?;
            for event in page.events() {
                let Some(details) = event.state_entered_event_details() else {
                    continue;
                };
                if details.name() == ROLLBACK_START {
                    rolling_back = true;
                    continue;
                }
                let task = matches!(
                    event.r#type(),
                    HistoryEventType::TaskStateEntered | HistoryEventType::ParallelStateEntered
                );
                if task && rolling_back {
                    return Ok(Some(details.name().to_string()));
                }
                if task && latest.is_none() {
                    latest = Some(details.name().to_string());
                }
            }
            read += 1;
            if read >= MAX_HISTORY_PAGES {
                break;
            }
        }
        // No rollback (yet): the step running now.
        Ok(if rolling_back { None } else { latest })
    }
}

/// The READY output of the provision machine: `{vpc_id, kubeconfig_parameter, api_endpoint,
/// addons[], expires_at, masters[], workers[]}` (statemachine/provision.asl.json, state `Ready`).
fn fill_from_ready_output(record: &mut EnvironmentRecord, output: &Value) {
    let text = |key: &str| output.get(key).and_then(Value::as_str).map(str::to_string);
    record.vpc_id = text("vpc_id");
    record.kubeconfig_parameter = text("kubeconfig_parameter");
    record.api_endpoint = text("api_endpoint");
    record.expires_at = text("expires_at");
    record.addons = output
        .get("addons")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    for role in ["masters", "workers"] {
        let nodes: Vec<Node> = output
            .get(role)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        record.nodes.extend(nodes.iter().map(NodeRecord::from));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn execution_names_carry_their_environment() {
        let name = execution_name("lab-1", Machine::Provision);
        assert!(name.starts_with("lab-1--c-"), "{name}");
        assert_eq!(environment_of(&name), Some("lab-1"));
        assert!(execution_name("lab-1", Machine::Teardown).starts_with("lab-1--d-"));
        assert_eq!(environment_of("scheduled-run-1234"), None);
    }

    #[test]
    fn status_follows_machine_and_outcome() {
        use ExecutionStatus as E;
        assert_eq!(status_of(Machine::Provision, &E::Running), Status::Creating);
        assert_eq!(status_of(Machine::Provision, &E::Succeeded), Status::Ready);
        assert_eq!(status_of(Machine::Provision, &E::Failed), Status::Failed);
        assert_eq!(status_of(Machine::Teardown, &E::Running), Status::Deleting);
        assert_eq!(status_of(Machine::Teardown, &E::Succeeded), Status::Deleted);
        assert_eq!(status_of(Machine::Teardown, &E::Aborted), Status::Failed);
        assert_eq!(status_of(Machine::Provision, &E::TimedOut), Status::Failed);
    }

    #[test]
    fn ready_output_fills_the_record() {
        let mut record = EnvironmentRecord {
            name: "lab-1".into(),
            status: Status::Ready,
            step: None,
            created_at: None,
            updated_at: None,
            vpc_id: None,
            nodes: vec![],
            kubeconfig_parameter: None,
            api_endpoint: None,
            error: None,
            addons: Vec::new(),
            expires_at: None,
            rollback_removed: vec![],
        };
        let node = |id: &str, name: &str, role: &str| json!({"instance_id": id, "name": name, "role": role, "index": 0, "private_ip": "10.42.0.5", "public_ip": null});
        fill_from_ready_output(
            &mut record,
            &json!({
                "name": "lab-1", "status": "READY", "vpc_id": "vpc-1",
                "kubeconfig_parameter": "/mec/lab-1/kubeconfig",
                "api_endpoint": "https://198.51.100.1:16443", "addons": ["dns"],
                "masters": [node("i-0a", "lab-1-master-0", "master")],
                "workers": [node("i-0b", "lab-1-worker-0", "worker")]
            }),
        );
        assert_eq!(record.vpc_id.as_deref(), Some("vpc-1"));
        assert_eq!(record.nodes.len(), 2);
        assert_eq!(record.nodes[1].instance_id, "i-0b");
        assert_eq!(
            record.api_endpoint.as_deref(),
            Some("https://198.51.100.1:16443")
        );
    }
}
