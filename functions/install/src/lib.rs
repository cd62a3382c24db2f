//! The install step: waits until every node runs and is SSM-managed, then installs MicroK8s on
//! all nodes at once with the `mec-install` document (`document.yaml` beside this crate).
//!
//! Three actions, each one cheap call for the state machine to make and poll:
//! - `check_nodes`: are all nodes running and SSM Online? (never sleeps) The first check sets the
//!   wait's deadline (`node_wait_seconds` from now); later ones report `expired` once it passed.
//! - `start`: send the install document to every node, 50 per SendCommand; returns the phase's
//!   deadline (delivery plus the document's own limit, deadline.rs);
//! - `status`: aggregate the per-node results; a failed node becomes `CommandFailed`; `expired`
//!   once the deadline passed with nodes still running.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Instance, InstanceStateName};
use aws_sdk_ssm::types::InstanceInformationStringFilter;
use mec_shared::commands::{
    self, CommandProgress, CommandRef, CommandRequest, MAX_TARGETS_PER_COMMAND,
};
use mec_shared::model::{validate_cluster, Node};
use mec_shared::{deadline, Aws, EnvironmentSpec, MecError, Settings};
use serde::{Deserialize, Serialize};
use tracing::{info, Instrument};

/// Seconds `microk8s status --wait-ready` may take on a node.
pub const WAIT_READY_TIMEOUT_SECONDS: u32 = 600;
/// Names of the document parameters this step sends.
pub const DOCUMENT_PARAMETERS: &[&str] = &[
    "channel",
    "hosts",
    "waitReadyTimeout",
    "executionTimeout",
    "calicoVethMtu",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallAction {
    CheckNodes,
    Start,
    Status,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallInput {
    pub action: InstallAction,
    pub spec: EnvironmentSpec,
    pub masters: Vec<Node>,
    #[serde(default)]
    pub workers: Vec<Node>,
    /// For `status`: what `start` returned.
    #[serde(default)]
    pub commands: Vec<CommandRef>,
    /// The wait's deadline, as the first check or `start` returned it (RFC 3339).
    #[serde(default)]
    pub deadline: Option<String>,
}

/// Result of `check_nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodesCheck {
    /// Every node is running and SSM Online.
    pub ready: bool,
    pub total: u32,
    pub running: u32,
    pub online: u32,
    /// Names of (up to 10) nodes still waited for.
    pub waiting_for: Vec<String>,
    /// The nodes with their addresses as EC2 reports them now (public IPs arrive after launch).
    pub masters: Vec<Node>,
    pub workers: Vec<Node>,
    /// Until when the nodes are waited for.
    pub deadline: String,
    /// The deadline passed and not every node is ready: the wait has failed.
    pub expired: bool,
}

/// Result of `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallStarted {
    pub commands: Vec<CommandRef>,
    /// Until when the install is waited for.
    pub deadline: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum InstallOutput {
    Nodes(NodesCheck),
    Started(InstallStarted),
    Progress(CommandProgress),
}

pub async fn handle(
    aws: &Aws,
    settings: &Settings,
    event: serde_json::Value,
) -> Result<InstallOutput, MecError> {
    let input: InstallInput =
        mec_shared::input::parse_value(event, "input", MecError::invalid_input)?;
    input.spec.validate()?;
    validate_cluster(&input.masters, &input.workers)?;
    if input.action == InstallAction::Status && input.commands.is_empty() {
        return Err(MecError::invalid_input(
            "commands",
            "is required for the status action",
        ));
    }
    let span = tracing::info_span!("step", environment = %input.spec.name, step = "install");
    async {
        let nodes: Vec<Node> = input
            .masters
            .iter()
            .chain(&input.workers)
            .cloned()
            .collect();
        match input.action {
            InstallAction::CheckNodes => {
                let deadline = match &input.deadline {
                    Some(deadline) => deadline.clone(),
                    None => deadline::after(settings.node_wait_seconds),
                };
                let mut check = check_nodes(aws, &input.masters, &input.workers, deadline).await?;
                check.expired = !check.ready && deadline::passed(&check.deadline, "deadline")?;
                Ok(InstallOutput::Nodes(check))
            }
            InstallAction::Start => start(aws, settings, &input.spec, &nodes)
                .await
                .map(InstallOutput::Started),
            InstallAction::Status => {
                let deadline = input.deadline.as_deref().ok_or_else(|| {
                    MecError::invalid_input("deadline", "is required for the status action")
                })?;
                let mut progress =
                    commands::progress(aws, &settings.install_document, &input.commands, &nodes)
                        .await?;
                progress.expired = !progress.done && deadline::passed(deadline, "deadline")?;
                info!(
                    succeeded = progress.succeeded,
                    pending = progress.pending,
                    "install progress"
                );
                Ok(InstallOutput::Progress(progress))
            }
        }
    }
    .instrument(span)
    .await
}

/// One DescribeInstances for all nodes plus one DescribeInstanceInformation per 50 nodes.
pub async fn check_nodes(
    aws: &Aws,
    masters: &[Node],
    workers: &[Node],
    deadline: String,
) -> Result<NodesCheck, MecError> {
    let all: Vec<&Node> = masters.iter().chain(workers).collect();
    let ids: Vec<String> = all.iter().map(|n| n.instance_id.clone()).collect();
    let mut described = Vec::new();
    let mut pages = aws
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids.clone()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| match MecError::from_sdk("DescribeInstances", e) {
            // Just launched: EC2's describe is eventually consistent.
            MecError::AwsError { code, message, .. } if code.starts_with("InvalidInstanceID") => {
                MecError::NodesNotReady(message)
            }
            other => other,
        })?;
        described.extend(
            page.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .cloned(),
        );
    }
    for instance in &described {
        let state = instance
            .state()
            .and_then(|s| s.name())
            .map(|s| s.as_str())
            .unwrap_or("unknown");
        if matches!(
            state,
            "shutting-down" | "terminated" | "stopping" | "stopped"
        ) {
            let id = instance.instance_id().unwrap_or_default();
            let name = all
                .iter()
                .find(|n| n.instance_id == id)
                .map(|n| n.name.as_str())
                .unwrap_or(id);
            return Err(MecError::NodeLost(format!("{name} ({id}) is {state}")));
        }
    }
    let running: Vec<&str> = described
        .iter()
        .filter(|i| is_running(i))
        .filter_map(|i| i.instance_id())
        .collect();
    let online = online_instances(aws, &ids).await?;
    let refresh = |nodes: &[Node]| -> Vec<Node> {
        nodes
            .iter()
            .map(|n| {
                let mut n = n.clone();
                if let Some(i) = described
                    .iter()
                    .find(|i| i.instance_id() == Some(n.instance_id.as_str()))
                {
                    n.private_ip = i.private_ip_address().map(str::to_string).or(n.private_ip);
                    n.public_ip = i.public_ip_address().map(str::to_string).or(n.public_ip);
                }
                n
            })
            .collect()
    };
    let waiting_for: Vec<String> = all
        .iter()
        .filter(|n| !running.contains(&n.instance_id.as_str()) || !online.contains(&n.instance_id))
        .map(|n| n.name.clone())
        .collect();
    let check = NodesCheck {
        ready: waiting_for.is_empty(),
        total: all.len() as u32,
        running: running.len() as u32,
        online: all
            .iter()
            .filter(|n| online.contains(&n.instance_id))
            .count() as u32,
        waiting_for: waiting_for.into_iter().take(10).collect(),
        masters: refresh(masters),
        workers: refresh(workers),
        deadline,
        expired: false,
    };
    info!(
        ready = check.ready,
        running = check.running,
        online = check.online,
        total = check.total,
        "nodes checked"
    );
    Ok(check)
}

/// `privateIp=name` pairs of every node, for /etc/hosts on every node (joins need names to resolve).
pub fn hosts_parameter(nodes: &[Node]) -> Result<String, MecError> {
    let pairs: Result<Vec<String>, MecError> = nodes
        .iter()
        .map(|n| {
            n.private_ip
                .as_ref()
                .map(|ip| format!("{ip}={}", n.name))
                .ok_or_else(|| MecError::NodesNotReady(format!("{} has no private IP yet", n.name)))
        })
        .collect();
    Ok(pairs?.join(","))
}

/// Calico's pod MTU for the launch configuration: with edge workers, what fits the 1,300-byte
/// path between the edge and the region; None (the document's default: Calico detects it)
/// otherwise.
fn calico_veth_mtu(spec: &EnvironmentSpec) -> Option<u32> {
    spec.edge
        .as_ref()
        .map(|_| mec_shared::edge::calico_veth_mtu())
}

async fn start(
    aws: &Aws,
    settings: &Settings,
    spec: &EnvironmentSpec,
    nodes: &[Node],
) -> Result<InstallStarted, MecError> {
    let mut parameters = BTreeMap::from([
        ("channel", spec.microk8s_channel.clone()),
        ("hosts", hosts_parameter(nodes)?),
        ("waitReadyTimeout", WAIT_READY_TIMEOUT_SECONDS.to_string()),
        (
            "executionTimeout",
            deadline::INSTALL_EXECUTION_SECONDS.to_string(),
        ),
    ]);
    if let Some(mtu) = calico_veth_mtu(spec) {
        parameters.insert("calicoVethMtu", mtu.to_string());
    }
    let request = CommandRequest {
        document: &settings.install_document,
        parameters,
        comment: format!("mec {} install", spec.name),
        delivery_timeout_seconds: deadline::INSTALL_DELIVERY_SECONDS as i32,
    };
    let deadline = deadline::after(deadline::install_seconds());
    let sent = commands::send(aws, settings, &request, nodes).await?;
    info!(
        nodes = nodes.len(),
        commands = sent.len(),
        channel = spec.microk8s_channel,
        "install sent"
    );
    Ok(InstallStarted {
        commands: sent,
        deadline,
    })
}

/// True when the instance is running (not pending, stopping or gone).
fn is_running(instance: &Instance) -> bool {
    instance.state().and_then(|s| s.name()) == Some(&InstanceStateName::Running)
}

/// The instance ids, among `ids`, whose SSM agent reports `Online` (one call per 50 nodes).
async fn online_instances(aws: &Aws, ids: &[String]) -> Result<Vec<String>, MecError> {
    let mut online = Vec::new();
    for chunk in ids.chunks(MAX_TARGETS_PER_COMMAND) {
        let filter = InstanceInformationStringFilter::builder()
            .key("InstanceIds")
            .set_values(Some(chunk.to_vec()))
            .build()
            .map_err(|e| MecError::Configuration(e.to_string()))?;
        let mut pages = aws
            .ssm
            .describe_instance_information()
            .filters(filter)
            // One page per 50 nodes (the API's default page is smaller): one call per poll.
            .max_results(MAX_TARGETS_PER_COMMAND as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| MecError::from_sdk("DescribeInstanceInformation", e))?;
            for info in page.instance_information_list() {
                if info.ping_status().map(|s| s.as_str()) == Some("Online") {
                    if let Some(id) = info.instance_id() {
                        online.push(id.to_string());
                    }
                }
            }
        }
    }
    Ok(online)
}
