//! The join step: mints a join token on the first master, joins the other nodes to it, and
//! verifies from the master that every node is Ready — with the `mec-join` document
//! (`document.yaml` beside this crate).
//!
//! The token never appears in a log, a step output or a command parameter: this step writes it to
//! a SecureString parameter and passes the nodes only its name; each node reads it with its own
//! role (Run Command resolves no SecureString reference in a document parameter — Systems
//! Manager user guide, "Referencing parameters"). The parameter is tagged with the environment's
//! VPC, which binds the node role to it (parameters.rs). `verify` deletes it once the cluster is
//! whole.
//!
//! Actions: `mint`, `join`, `verify` and `addons` each send their commands and return them
//! (nothing when there is nothing to do: no node to join, no add-on); `status` polls them.
//! `verify` also has the master store its own kubeconfig (document action `publish`: server
//! rewritten to its public address) as a SecureString, so the kubeconfig never travels through an
//! output; it runs beside verify rather than after the add-ons, one command round trip fewer.

//!
//! The crate by concern: this file has the step's input and outputs, the dispatch and what every
//! phase shares; [`phases`] sends each phase's commands; [`progress`] reads their progress and the
//! reports the document prints.

mod phases;
mod progress;

use std::collections::BTreeMap;

use mec_shared::catalogue::{self, AddonReport, AddonStatus, Planned};
use mec_shared::commands::{self, CommandProgress, CommandRef, CommandRequest};
use mec_shared::model::{validate_cluster, Node};
use mec_shared::parameters::{self, EnvironmentSecret, IfExists, Tier};
use mec_shared::{deadline, naming, Aws, EnvironmentSpec, MecError, Settings};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use tracing::{info, Instrument};

pub use phases::KUBECONFIG_PLACEHOLDER;
use phases::{addons, join, mint, verify};
use progress::status;
pub use progress::{
    addon_reports_from_output, high_availability_in_verify_output, ready_from_verify_output,
};

/// Exactly 32 characters, as `microk8s add-node --token` requires.
pub const TOKEN_LENGTH: usize = 32;
/// Seconds verify waits on the master for every node to turn Ready.
pub const VERIFY_TIMEOUT_SECONDS: u32 = 300;
/// Names of the document parameters this step sends.
pub const DOCUMENT_PARAMETERS: &[&str] = &[
    "action",
    "tokenParameter",
    "tokenTtl",
    "masterAddress",
    "asWorker",
    "expectedNodes",
    "controlPlane",
    "verifyTimeout",
    "addons",
    "optionalAddons",
    "kubeconfigParameter",
    "kmsKeyId",
    "region",
    "apiAddress",
    "executionTimeout",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinPhase {
    Mint,
    Join,
    Verify,
    Addons,
}

impl JoinPhase {
    fn as_str(&self) -> &'static str {
        match self {
            JoinPhase::Mint => "mint",
            JoinPhase::Join => "join",
            JoinPhase::Verify => "verify",
            JoinPhase::Addons => "addons",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinAction {
    Mint,
    Join,
    Verify,
    Addons,
    Status,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinInput {
    pub action: JoinAction,
    pub spec: EnvironmentSpec,
    pub masters: Vec<Node>,
    #[serde(default)]
    pub workers: Vec<Node>,
    /// The environment's VPC, which its secrets are bound to (`mint`, `verify`).
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// For `status`: the phase, commands and deadline that `mint`, `join`, `verify` or `addons`
    /// returned.
    #[serde(default)]
    pub phase: Option<JoinPhase>,
    #[serde(default)]
    pub commands: Vec<CommandRef>,
    #[serde(default)]
    pub deadline: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinSent {
    pub phase: JoinPhase,
    pub commands: Vec<CommandRef>,
    /// Until when the phase is waited for (deadline.rs); now when nothing was sent.
    pub deadline: String,
    /// After `verify`: the SecureString holding the kubeconfig (its name, never its value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_parameter: Option<String>,
    /// After `verify`: where clients reach the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
}

impl JoinSent {
    /// The phase's commands, waited for `seconds` at most (nothing sent: no wait).
    fn new(phase: JoinPhase, commands: Vec<CommandRef>, seconds: u32) -> Self {
        let deadline = if commands.is_empty() {
            deadline::now()
        } else {
            deadline::after(seconds)
        };
        Self {
            phase,
            commands,
            deadline,
            kubeconfig_parameter: None,
            api_endpoint: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinProgress {
    pub phase: JoinPhase,
    pub done: bool,
    /// The deadline passed with nodes still running the phase: the wait has failed.
    pub expired: bool,
    pub succeeded: u32,
    pub pending: u32,
    /// After a finished verify: the nodes the master reports Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready_nodes: Vec<String>,
    /// After finished add-ons: one report per add-on, in install order. Always present (empty
    /// before), so that the state machine can select it whatever the phase.
    #[serde(default)]
    pub addons: Vec<AddonReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum JoinOutput {
    Sent(JoinSent),
    Progress(JoinProgress),
}

pub async fn handle(
    aws: &Aws,
    settings: &Settings,
    event: serde_json::Value,
) -> Result<JoinOutput, MecError> {
    let input: JoinInput = mec_shared::input::parse_value(event, "input", MecError::invalid_input)?;
    input.spec.validate()?;
    validate_cluster(&input.masters, &input.workers)?;
    let span = tracing::info_span!("step", environment = %input.spec.name, step = "join");
    async {
        match input.action {
            JoinAction::Mint => mint(aws, settings, &input).await.map(JoinOutput::Sent),
            JoinAction::Join => join(aws, settings, &input).await.map(JoinOutput::Sent),
            JoinAction::Verify => verify(aws, settings, &input).await.map(JoinOutput::Sent),
            JoinAction::Addons => addons(aws, settings, &input).await.map(JoinOutput::Sent),
            JoinAction::Status => status(aws, settings, &input)
                .await
                .map(JoinOutput::Progress),
        }
    }
    .instrument(span)
    .await
}

/// A fresh random token: alphanumeric, 32 characters.
pub fn new_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), TOKEN_LENGTH)
}

pub(crate) fn first_master(input: &JoinInput) -> &Node {
    // `handle` checked that there is at least one.
    &input.masters[0]
}

/// The parameters every command of the document takes; `action` is the document's action.
pub(crate) fn base_parameters(
    aws: &Aws,
    settings: &Settings,
    action: &str,
) -> BTreeMap<&'static str, String> {
    let region = aws
        .ssm
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    BTreeMap::from([
        ("action", action.to_string()),
        ("tokenTtl", settings.join_token_ttl_seconds.to_string()),
        (
            "executionTimeout",
            deadline::JOIN_EXECUTION_SECONDS.to_string(),
        ),
        ("region", region),
    ])
}

pub(crate) fn vpc_of<'a>(input: &'a JoinInput, action: &str) -> Result<&'a str, MecError> {
    let vpc_id = input
        .vpc_id
        .as_deref()
        .ok_or_else(|| MecError::invalid_input("vpc_id", &format!("is required for {action}")))?;
    let hex = vpc_id.strip_prefix("vpc-").unwrap_or_default();
    if hex.is_empty() || hex.len() > 17 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(MecError::invalid_input(
            "vpc_id",
            "must be a VPC id (vpc- and up to 17 hexadecimal digits)",
        ));
    }
    Ok(vpc_id)
}

pub(crate) async fn send(
    aws: &Aws,
    settings: &Settings,
    spec: &EnvironmentSpec,
    action: &str,
    parameters: BTreeMap<&str, String>,
    nodes: &[Node],
) -> Result<Vec<CommandRef>, MecError> {
    let request = command_request(settings, spec, action, parameters);
    commands::send(aws, settings, &request, nodes).await
}

pub(crate) fn command_request<'a>(
    settings: &'a Settings,
    spec: &EnvironmentSpec,
    action: &str,
    parameters: BTreeMap<&'a str, String>,
) -> CommandRequest<'a> {
    CommandRequest {
        document: &settings.join_document,
        parameters,
        comment: format!("mec {} join {action}", spec.name),
        delivery_timeout_seconds: deadline::JOIN_DELIVERY_SECONDS as i32,
    }
}

/// Every node's name, masters first.
fn expected_names(input: &JoinInput) -> Vec<String> {
    input
        .masters
        .iter()
        .chain(&input.workers)
        .map(|n| n.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_alphanumeric_and_fresh() {
        let a = new_token();
        assert_eq!(a.len(), TOKEN_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, new_token());
    }

    #[test]
    fn addon_output_parsing() {
        let plan = [
            Planned {
                name: "dns".into(),
                optional: false,
            },
            Planned {
                name: "edgex".into(),
                optional: true,
            },
        ];
        let out =
            "mec-join: installing dns\naddon dns READY\naddon edgex FAILED install failed: boom\n";
        let reports = addon_reports_from_output(out, &plan).unwrap();
        assert_eq!(reports[0].status, AddonStatus::Ready);
        assert!(!reports[0].optional);
        assert_eq!(reports[1].status, AddonStatus::Failed);
        assert_eq!(reports[1].message.as_deref(), Some("install failed: boom"));
        assert!(addon_reports_from_output("addon dns READY\n", &plan)
            .unwrap_err()
            .contains("no report for add-on edgex"));
        let required_failed = [Planned {
            name: "dns".into(),
            optional: false,
        }];
        assert!(
            addon_reports_from_output("addon dns FAILED x\n", &required_failed)
                .unwrap_err()
                .contains("required add-on dns failed")
        );
    }

    #[test]
    fn verify_output_parsing() {
        let out = "mec-join: waiting\nnode lab-1-master-0 Ready\nnode lab-1-worker-0 NotReady\nnode lab-1-worker-1 Ready\nready 2/3\n";
        assert_eq!(
            ready_from_verify_output(out),
            vec!["lab-1-master-0", "lab-1-worker-1"]
        );
        assert!(ready_from_verify_output("node x Ready extra").is_empty());
    }

    #[test]
    fn high_availability_parsing() {
        let out = "node a Ready\nready 1/1\ncontrol-plane 10.0.0.1 voter\nhigh-availability yes\n";
        assert!(high_availability_in_verify_output(out));
        assert!(!high_availability_in_verify_output(
            "high-availability no\n"
        ));
        assert!(!high_availability_in_verify_output(
            "high-availability: yes\n"
        ));
        assert!(!high_availability_in_verify_output(""));
    }
}
