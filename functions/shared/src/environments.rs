//! The one service behind every door: create, read, list and delete environments, with the
//! rules written once. The HTTP API maps its [`Outcome`]s to HTTP statuses, the CLI to exit codes.
//!
//! What an environment is comes from the registry (registry.rs), which the state machines keep
//! (whoever started them: API, CLI, console, schedules, reaper). A run that ended without
//! recording its end (timed out, aborted) is found by its owner's status and the item marked
//! FAILED. Every read is bounded: one GetItem, one DescribeExecution and at most
//! [`MAX_HISTORY_PAGES`] history pages for an environment; [`registry::MAX_SCAN_PAGES`] for a list.
//!
//! The rules:
//! - create: none, FAILED or DELETED → start; CREATING or READY with the same spec → nothing
//!   to do (the current record); with another spec → `NameTaken`; DELETING → `EnvironmentDeleting`.
//! - delete: none → not found; READY or FAILED → start the teardown; DELETING or DELETED →
//!   nothing to do; CREATING → `EnvironmentCreating` (deleting under a create races its steps).
//!
//! A door claims the name in the registry (a conditional write) before it starts a run, so that
//! its next read already sees CREATING or DELETING; a door that loses the race reads again and
//! answers from what won. A run started elsewhere (console, schedule) claims the name itself, in
//! its first state: of two racing runs, one proceeds and the other fails before it creates (or
//! deletes) anything.

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{json, Value};

use crate::error::{ErrorInfo, MecError};
use crate::record::{EnvironmentRecord, EnvironmentSummary, Status};
use crate::registry::{self, Entry, Registry};
use crate::EnvironmentSpec;

/// Events per GetExecutionHistory page (the API's maximum).
pub const HISTORY_PAGE: i32 = 1000;
/// History pages read for the step, at most.
pub const MAX_HISTORY_PAGES: usize = 3;
/// Claims a door tries before it answers from what another door wrote.
const CLAIM_ATTEMPTS: usize = 2;
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

/// The execution name for a new run of `machine` on `environment`, stamped with the time in
/// ms. Only for people reading the console: the registry, not the name, ties a run to its
/// environment.
pub fn execution_name(environment: &str, machine: Machine) -> String {
    let stamp = crate::naming::now_millis();
    match machine {
        Machine::Provision => crate::naming::create_execution(environment, &stamp),
        Machine::Teardown => crate::naming::delete_execution(environment, &stamp),
    }
}

/// Why a request cannot be done now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A create under a live name with another spec.
    NameTaken,
    /// A create while the environment is being deleted.
    Deleting,
    /// A delete while the environment is being created.
    Creating,
}

impl Conflict {
    /// The stable name (the API's error `code`).
    pub fn code(self) -> &'static str {
        match self {
            Self::NameTaken => "NameTaken",
            Self::Deleting => "EnvironmentDeleting",
            Self::Creating => "EnvironmentCreating",
        }
    }

    pub fn message(self, name: &str) -> String {
        match self {
            Self::NameTaken => {
                format!("{name} exists with another spec: delete it first, or send the same spec")
            }
            Self::Deleting => {
                format!("{name} is being deleted: create it again once it is DELETED")
            }
            Self::Creating => {
                format!("{name} is being created: delete it once it is READY or FAILED")
            }
        }
    }
}

/// What a request did: every door answers from this one type.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A run was started (`execution`: its ARN); the record as it stands now.
    Started {
        record: EnvironmentRecord,
        execution: String,
    },
    /// Nothing was started: the environment already is, or is becoming, what was asked.
    Unchanged(EnvironmentRecord),
    /// The environment, read.
    Found(EnvironmentRecord),
    /// No environment has this name.
    NotFound(String),
    /// Not now; nothing was started.
    Conflict {
        conflict: Conflict,
        record: EnvironmentRecord,
    },
}

/// The service: the registry to read, the machines to start.
#[derive(Debug, Clone)]
pub struct Environments {
    sfn: aws_sdk_sfn::Client,
    registry: Registry,
    machines: Machines,
    /// EC2, to check a spec's edge zone before a run starts (None: the network step checks it).
    zones: Option<aws_sdk_ec2::Client>,
}

impl Environments {
    pub fn new(sfn: aws_sdk_sfn::Client, registry: Registry, machines: Machines) -> Self {
        Self {
            sfn,
            registry,
            machines,
            zones: None,
        }
    }

    /// Checks a spec's `edge.zone` with EC2 before starting a run: an unknown zone, one of
    /// another region or of an unsupported type is refused at the door, nothing started.
    pub fn with_zone_checks(mut self, ec2: aws_sdk_ec2::Client) -> Self {
        self.zones = Some(ec2);
        self
    }

    async fn check_edge_zone(&self, spec: &EnvironmentSpec) -> Result<(), MecError> {
        let (Some(ec2), Some(edge)) = (&self.zones, &spec.edge) else {
            return Ok(());
        };
        crate::zones::describe_zone(ec2, &edge.zone).await?;
        Ok(())
    }

    pub fn machines(&self) -> &Machines {
        &self.machines
    }

    /// Creates an environment from a validated spec (see the module's rules). The door claims
    /// the name before it starts the run, so that its own next read sees CREATING; a door that
    /// loses a race reads again and answers from what won.
    pub async fn create(&self, spec: &EnvironmentSpec) -> Result<Outcome, MecError> {
        self.check_edge_zone(spec).await?;
        for _ in 0..CLAIM_ATTEMPTS {
            if let Some((entry, record)) = self.current(&spec.name).await? {
                match record.status {
                    Status::Creating | Status::Ready => {
                        return Ok(if entry.spec.as_ref() == Some(spec) {
                            Outcome::Unchanged(record)
                        } else {
                            Outcome::Conflict {
                                conflict: Conflict::NameTaken,
                                record,
                            }
                        });
                    }
                    Status::Deleting => {
                        return Ok(Outcome::Conflict {
                            conflict: Conflict::Deleting,
                            record,
                        })
                    }
                    Status::Failed | Status::Deleted => {}
                }
            }
            let (name, arn) = self.next_run(Machine::Provision, &spec.name);
            let now = now_rfc3339().unwrap_or_default();
            if !self.registry.claim_for_create(spec, &arn, &now).await? {
                continue; // another door claimed it between the read and the claim
            }
            let input = serde_json::to_value(spec).map_err(|e| {
                MecError::invalid_spec("spec", &format!("cannot be serialized: {e}"))
            })?;
            let execution = self.start(Machine::Provision, &name, &input).await?;
            let mut record = EnvironmentRecord::new(&spec.name, Status::Creating);
            record.created_at = Some(now.clone());
            record.updated_at = Some(now);
            return Ok(Outcome::Started { record, execution });
        }
        self.busy(&spec.name).await
    }

    /// The environment's record.
    pub async fn get(&self, name: &str) -> Result<Outcome, MecError> {
        crate::spec::validate_name(name)?;
        Ok(match self.current(name).await? {
            Some((_, record)) => Outcome::Found(record),
            None => Outcome::NotFound(name.to_string()),
        })
    }

    /// Every environment, newest change first.
    pub async fn list(&self) -> Result<Vec<EnvironmentSummary>, MecError> {
        let mut rows: Vec<EnvironmentSummary> = self
            .registry
            .list()
            .await?
            .into_iter()
            .map(|e| EnvironmentSummary {
                since: e.updated_at.or(e.created_at).unwrap_or_default(),
                name: e.name,
                status: e.status,
            })
            .collect();
        rows.sort_by(|a, b| b.since.cmp(&a.since).then_with(|| a.name.cmp(&b.name)));
        Ok(rows)
    }

    /// Deletes an environment (see the module's rules), claiming it first like [`Self::create`].
    pub async fn delete(&self, name: &str) -> Result<Outcome, MecError> {
        crate::spec::validate_name(name)?;
        for _ in 0..CLAIM_ATTEMPTS {
            let Some((entry, record)) = self.current(name).await? else {
                return Ok(Outcome::NotFound(name.to_string()));
            };
            match record.status {
                Status::Deleting | Status::Deleted => return Ok(Outcome::Unchanged(record)),
                Status::Creating => {
                    return Ok(Outcome::Conflict {
                        conflict: Conflict::Creating,
                        record,
                    })
                }
                Status::Ready | Status::Failed => {}
            }
            let (run, arn) = self.next_run(Machine::Teardown, name);
            let now = now_rfc3339();
            let claimed = self
                .registry
                .claim_for_delete(&entry, &arn, now.as_deref().unwrap_or_default())
                .await?;
            if !claimed {
                continue;
            }
            let execution = self
                .start(Machine::Teardown, &run, &json!({ "name": name }))
                .await?;
            let record = EnvironmentRecord {
                status: Status::Deleting,
                step: None,
                error: None,
                updated_at: now,
                ..record
            };
            return Ok(Outcome::Started { record, execution });
        }
        self.busy(name).await
    }

    /// The answer when every claim lost a race: the environment as it is now.
    async fn busy(&self, name: &str) -> Result<Outcome, MecError> {
        Ok(match self.current(name).await? {
            Some((_, record)) => Outcome::Unchanged(record),
            None => Outcome::NotFound(name.to_string()),
        })
    }

    /// The name and ARN of a new run of `machine` (Step Functions' ARN format:
    /// `arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`).
    fn next_run(&self, machine: Machine, environment: &str) -> (String, String) {
        let name = execution_name(environment, machine);
        let arn = format!(
            "{}:{name}",
            self.machines
                .arn(machine)
                .replacen(":stateMachine:", ":execution:", 1)
        );
        (name, arn)
    }

    /// Deletes an environment like [`Self::delete`], and also one the registry does not know:
    /// `mec sweep` found resources tagged for it (left by a pipeline since removed, say). The
    /// teardown machine claims such a name itself.
    pub async fn delete_leftovers(&self, name: &str) -> Result<Outcome, MecError> {
        match self.delete(name).await? {
            Outcome::NotFound(_) => {
                let (run, _) = self.next_run(Machine::Teardown, name);
                let execution = self
                    .start(Machine::Teardown, &run, &json!({ "name": name }))
                    .await?;
                let mut record = EnvironmentRecord::new(name, Status::Deleting);
                record.updated_at = now_rfc3339();
                Ok(Outcome::Started { record, execution })
            }
            outcome => Ok(outcome),
        }
    }

    /// Starts `machine` as the run `name`; returns the execution's ARN.
    async fn start(&self, machine: Machine, name: &str, input: &Value) -> Result<String, MecError> {
        let out = self
            .sfn
            .start_execution()
            .state_machine_arn(self.machines.arn(machine))
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| MecError::from_sdk("StartExecution", e))?;
        Ok(out.execution_arn().to_string())
    }

    /// The registry's item and the record built from it, with a dead owner's item repaired.
    async fn current(&self, name: &str) -> Result<Option<(Entry, EnvironmentRecord)>, MecError> {
        let Some(mut entry) = self.registry.get(name).await? else {
            return Ok(None);
        };
        let mut step = None;
        if let Some(owner) = entry.execution.clone() {
            if entry.status.in_flight() || entry.status == Status::Failed {
                let run = self.describe(&owner).await?;
                if entry.status.in_flight() {
                    match run {
                        Some((ExecutionStatus::Running, _)) => {}
                        // Ended without recording it: FAILED, with the run's own error.
                        ended => self.repair(&mut entry, &owner, ended).await?,
                    }
                }
                if entry.status.in_flight() || entry.status == Status::Failed {
                    step = self.step(&owner).await?;
                }
            }
        }
        let record = record_of(&entry, step);
        Ok(Some((entry, record)))
    }

    /// The owner's status and `{error, cause}`; `None` when the execution is gone (its history
    /// is kept 90 days).
    async fn describe(
        &self,
        execution: &str,
    ) -> Result<Option<(ExecutionStatus, ErrorInfo)>, MecError> {
        match self
            .sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
        {
            Ok(out) => Ok(Some((
                out.status().clone(),
                ErrorInfo {
                    error_type: out.error().unwrap_or_default().to_string(),
                    message: out.cause().unwrap_or_default().to_string(),
                },
            ))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(e) => Err(MecError::from_sdk("DescribeExecution", e)),
        }
    }

    async fn repair(
        &self,
        entry: &mut Entry,
        owner: &str,
        ended: Option<(ExecutionStatus, ErrorInfo)>,
    ) -> Result<(), MecError> {
        let (error, cause) = match ended {
            Some((status, info)) if !info.error_type.is_empty() => (
                info.error_type,
                format!("{}: {}", status.as_str(), info.message),
            ),
            Some((status, _)) => (
                format!("Execution{}", pascal(status.as_str())),
                format!(
                    "the run {owner} ended {} without recording it",
                    status.as_str()
                ),
            ),
            None => (
                "ExecutionGone".to_string(),
                format!("the run {owner} no longer exists"),
            ),
        };
        let now = now_rfc3339().unwrap_or_default();
        if self
            .registry
            .mark_failed(&entry.name, entry.status, owner, &error, &cause, &now)
            .await?
        {
            entry.status = Status::Failed;
            entry.error = Some(error);
            entry.cause = Some(cause);
            entry.updated_at = Some(now);
        } else if let Some(fresh) = self.registry.get(&entry.name).await? {
            // The run recorded its end after our read (it finished between the read and the
            // look at it), or another run took the name: report what is there now.
            *entry = fresh;
        }
        Ok(())
    }

    /// The step a run is in, or (after a failure) the step that failed: the last Task or
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
            let page = match page {
                Ok(page) => page,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_execution_does_not_exist()) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(MecError::from_sdk("GetExecutionHistory", e)),
            };
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
                if task && rolling_back && !is_registry_step(details.name()) {
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

/// The registry writes are steps of their own, never the step that failed.
fn is_registry_step(state: &str) -> bool {
    state.starts_with("Record") || matches!(state, "Register" | "Claim")
}

/// The record a user reads, from the registry's item.
pub fn record_of(entry: &Entry, step: Option<String>) -> EnvironmentRecord {
    let mut record = EnvironmentRecord::new(&entry.name, entry.status);
    record.created_at = entry.created_at.clone();
    record.updated_at = entry.updated_at.clone();
    match entry.status {
        Status::Ready => {
            if let Some(ready) = &entry.record {
                record.fill_ready(ready);
            }
        }
        Status::Failed => {
            record.step = step;
            record.error = entry.error.as_ref().map(|error| ErrorInfo {
                error_type: error.clone(),
                message: entry.cause.clone().unwrap_or_default(),
            });
            record.rollback_removed = entry.removed.clone();
        }
        Status::Creating | Status::Deleting => record.step = step,
        Status::Deleted => {}
    }
    record
}

/// `TIMED_OUT` → `TimedOut`.
fn pascal(upper_snake: &str) -> String {
    upper_snake
        .split('_')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Now, RFC 3339 (UTC).
pub fn now_rfc3339() -> Option<String> {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

pub use registry::MAX_SCAN_PAGES;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(status: Status) -> Entry {
        Entry {
            name: "lab-1".into(),
            status,
            execution: Some("arn:x".into()),
            spec: None,
            record: None,
            created_at: Some("2026-12-01T10:00:00Z".into()),
            updated_at: Some("2026-12-01T10:05:00Z".into()),
            error: Some("CommandFailed".into()),
            cause: Some("join failed".into()),
            removed: vec![crate::resource::Resource::new(
                crate::resource::ResourceKind::Vpc,
                "vpc-1",
            )],
        }
    }

    #[test]
    fn a_failed_record_says_the_step_the_error_and_what_the_rollback_removed() {
        let record = record_of(&entry(Status::Failed), Some("JoinNodes".into()));
        assert_eq!(record.step.as_deref(), Some("JoinNodes"));
        assert_eq!(record.error.unwrap().error_type, "CommandFailed");
        assert_eq!(record.rollback_removed.len(), 1);
        let ready = record_of(&entry(Status::Ready), None);
        assert!(ready.error.is_none() && ready.rollback_removed.is_empty());
    }

    #[test]
    fn registry_writes_are_never_the_failed_step() {
        for state in ["Register", "Claim", "RecordReady", "RecordFailure"] {
            assert!(is_registry_step(state), "{state}");
        }
        assert!(!is_registry_step("JoinNodes"));
        assert_eq!(pascal("TIMED_OUT"), "TimedOut");
        assert_eq!(pascal("ABORTED"), "Aborted");
    }

    #[test]
    fn conflicts_have_stable_codes() {
        assert_eq!(Conflict::NameTaken.code(), "NameTaken");
        assert_eq!(Conflict::Creating.code(), "EnvironmentCreating");
        assert!(Conflict::Deleting.message("lab-1").contains("DELETED"));
    }
}
