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

use std::collections::BTreeMap;

use mec_shared::catalogue::{self, AddonReport, AddonStatus, Planned};
use mec_shared::commands::{self, CommandProgress, CommandRef, CommandRequest};
use mec_shared::model::{validate_cluster, Node};
use mec_shared::parameters::{self, EnvironmentSecret, IfExists, Tier};
use mec_shared::{deadline, naming, Aws, EnvironmentSpec, MecError, Settings};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use tracing::{info, Instrument};

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

fn first_master(input: &JoinInput) -> &Node {
    // `handle` checked that there is at least one.
    &input.masters[0]
}

/// The parameters every command of the document takes; `action` is the document's action.
fn base_parameters(aws: &Aws, settings: &Settings, action: &str) -> BTreeMap<&'static str, String> {
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

fn vpc_of<'a>(input: &'a JoinInput, action: &str) -> Result<&'a str, MecError> {
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

async fn send(
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

fn command_request<'a>(
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

/// Stores a new token (a new one per attempt: a failed join may consume a token) and has the
/// first master accept it for `join_token_ttl_seconds`. A lone master has no node to join: no
/// token, no command.
async fn mint(aws: &Aws, settings: &Settings, input: &JoinInput) -> Result<JoinSent, MecError> {
    if input.masters.len() == 1 && input.workers.is_empty() {
        return Ok(JoinSent::new(JoinPhase::Mint, Vec::new(), 0));
    }
    let environment = &input.spec.name;
    let name = naming::join_token_parameter(environment);
    let secret = EnvironmentSecret {
        name: &name,
        environment,
        vpc_id: vpc_of(input, "mint")?,
        tier: Tier::Standard,
        description: format!("mec join token of {environment} (deleted after verify)"),
    };
    parameters::put(aws, settings, &secret, &new_token(), IfExists::Overwrite).await?;

    let mut parameters = base_parameters(aws, settings, JoinPhase::Mint.as_str());
    parameters.insert("tokenParameter", name);
    let commands = send(
        aws,
        settings,
        &input.spec,
        JoinPhase::Mint.as_str(),
        parameters,
        std::slice::from_ref(first_master(input)),
    )
    .await?;
    info!(
        ttl_seconds = settings.join_token_ttl_seconds,
        "join token minted"
    );
    Ok(JoinSent::new(
        JoinPhase::Mint,
        commands,
        deadline::join_phase_seconds(),
    ))
}

/// Joins the workers (`--worker`) and the other masters (control plane) to the first master's
/// private address. Control-plane joins run one at a time: each changes the dqlite membership,
/// and dqlite takes one configuration change at a time. Workers (no dqlite) join all at once;
/// the token has a TTL, so it serves every join.
async fn join(aws: &Aws, settings: &Settings, input: &JoinInput) -> Result<JoinSent, MecError> {
    let master = first_master(input);
    let address = master
        .private_ip
        .clone()
        .ok_or_else(|| MecError::NodesNotReady(format!("{} has no private IP yet", master.name)))?;
    let mut commands = Vec::new();
    let groups = [(&input.masters[1..], false), (&input.workers[..], true)];
    for (nodes, as_worker) in groups {
        if nodes.is_empty() {
            continue;
        }
        let mut parameters = base_parameters(aws, settings, JoinPhase::Join.as_str());
        parameters.insert(
            "tokenParameter",
            naming::join_token_parameter(&input.spec.name),
        );
        parameters.insert("masterAddress", address.clone());
        parameters.insert("asWorker", as_worker.to_string());
        let mut request =
            command_request(settings, &input.spec, JoinPhase::Join.as_str(), parameters);
        let sent = if as_worker {
            commands::send(aws, settings, &request, nodes).await?
        } else {
            // The last control-plane node starts once the others have joined: SSM must still
            // deliver it then.
            request.delivery_timeout_seconds =
                deadline::sequential_delivery_seconds(nodes.len() as u32) as i32;
            commands::send_one_at_a_time(aws, settings, &request, nodes).await?
        };
        commands.extend(sent);
    }
    info!(
        master = master.name,
        joining = input.masters.len() - 1 + input.workers.len(),
        "join sent"
    );
    Ok(JoinSent::new(
        JoinPhase::Join,
        commands,
        deadline::join_seconds(input.masters.len() as u32),
    ))
}

/// Asks the first master to wait until every node is Ready and, beside it, to publish its
/// kubeconfig; deletes the token, no longer needed. The verify command comes first in the list:
/// its output is the one `status` reads.
async fn verify(aws: &Aws, settings: &Settings, input: &JoinInput) -> Result<JoinSent, MecError> {
    parameters::delete(aws, &naming::join_token_parameter(&input.spec.name)).await?;
    let mut parameters = base_parameters(aws, settings, JoinPhase::Verify.as_str());
    parameters.insert("expectedNodes", expected_names(input).join(","));
    if input.masters.len() > 1 {
        parameters.insert("controlPlane", control_plane_addresses(input)?.join(","));
    }
    parameters.insert("verifyTimeout", VERIFY_TIMEOUT_SECONDS.to_string());
    let mut commands = send(
        aws,
        settings,
        &input.spec,
        JoinPhase::Verify.as_str(),
        parameters,
        std::slice::from_ref(first_master(input)),
    )
    .await?;
    let published = publish(aws, settings, input).await?;
    commands.extend(published.commands);
    Ok(JoinSent {
        kubeconfig_parameter: Some(published.parameter),
        api_endpoint: Some(published.api_endpoint),
        ..JoinSent::new(JoinPhase::Verify, commands, deadline::join_phase_seconds())
    })
}

/// Installs the spec's add-ons and their dependencies from the first master, in dependency
/// order (nothing to send when the spec names none). Only catalogue names travel: the commands
/// are the document's own cases.
async fn addons(aws: &Aws, settings: &Settings, input: &JoinInput) -> Result<JoinSent, MecError> {
    let plan = catalogue::plan(&input.spec)?;
    if plan.is_empty() {
        return Ok(JoinSent::new(JoinPhase::Addons, Vec::new(), 0));
    }
    let names = |optional_only: bool| {
        plan.iter()
            .filter(|p| !optional_only || p.optional)
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut parameters = base_parameters(aws, settings, JoinPhase::Addons.as_str());
    parameters.insert("addons", names(false));
    parameters.insert("optionalAddons", names(true));
    parameters.insert(
        "executionTimeout",
        catalogue::execution_timeout_seconds(&plan)?.to_string(),
    );
    let master = std::slice::from_ref(first_master(input));
    let commands = send(
        aws,
        settings,
        &input.spec,
        JoinPhase::Addons.as_str(),
        parameters,
        master,
    )
    .await?;
    info!(addons = plan.len(), "add-ons sent");
    Ok(JoinSent::new(
        JoinPhase::Addons,
        commands,
        deadline::addons_seconds(&plan)?,
    ))
}

/// The kubeconfig's publish command and where it goes.
struct Published {
    commands: Vec<CommandRef>,
    parameter: String,
    api_endpoint: String,
}

/// What the kubeconfig parameter holds until the master stores the real one.
pub const KUBECONFIG_PLACEHOLDER: &str = "# mec: the master has not stored its kubeconfig yet";

/// Has the first master store its kubeconfig as a SecureString, server rewritten to the master's
/// public address (its private one when it has none). mec creates the parameter first, tagged
/// with the environment's VPC: the master may only overwrite it.
async fn publish(aws: &Aws, settings: &Settings, input: &JoinInput) -> Result<Published, MecError> {
    let master = first_master(input);
    let address = master
        .public_ip
        .clone()
        .or_else(|| master.private_ip.clone())
        .ok_or_else(|| MecError::NodesNotReady(format!("{} has no address yet", master.name)))?;
    let environment = &input.spec.name;
    let parameter = naming::kubeconfig_parameter(environment);
    let secret = EnvironmentSecret {
        name: &parameter,
        environment,
        vpc_id: vpc_of(input, "verify")?,
        tier: Tier::Advanced,
        description: format!("mec admin kubeconfig of {environment}"),
    };
    parameters::put(
        aws,
        settings,
        &secret,
        KUBECONFIG_PLACEHOLDER,
        IfExists::Keep,
    )
    .await?;
    let mut parameters = base_parameters(aws, settings, "publish");
    parameters.insert("kubeconfigParameter", parameter.clone());
    parameters.insert("apiAddress", address.clone());
    parameters.insert(
        "kmsKeyId",
        settings.parameter_kms_key.clone().unwrap_or_default(),
    );
    let commands = send(
        aws,
        settings,
        &input.spec,
        "publish",
        parameters,
        std::slice::from_ref(master),
    )
    .await?;
    info!(parameter, "kubeconfig publish sent");
    Ok(Published {
        commands,
        parameter,
        api_endpoint: format!("https://{address}:16443"),
    })
}

/// The private addresses every master must have in the dqlite datastore (HA verify).
fn control_plane_addresses(input: &JoinInput) -> Result<Vec<String>, MecError> {
    input
        .masters
        .iter()
        .map(|m| {
            m.private_ip
                .clone()
                .ok_or_else(|| MecError::NodesNotReady(format!("{} has no private IP yet", m.name)))
        })
        .collect()
}

fn expected_names(input: &JoinInput) -> Vec<String> {
    input
        .masters
        .iter()
        .chain(&input.workers)
        .map(|n| n.name.clone())
        .collect()
}

async fn status(
    aws: &Aws,
    settings: &Settings,
    input: &JoinInput,
) -> Result<JoinProgress, MecError> {
    let phase = input.phase.ok_or_else(|| {
        MecError::invalid_input(
            "phase",
            "is required for the status action (mint, join or verify)",
        )
    })?;
    // A lone master (no other node) mints and joins nothing, and add-ons send nothing when the
    // spec names none: nothing to wait for. Verify always has its commands.
    if input.commands.is_empty() && phase == JoinPhase::Verify {
        return Err(MecError::invalid_input(
            "commands",
            "is required for the status action of verify",
        ));
    }
    let until = input
        .deadline
        .as_deref()
        .ok_or_else(|| MecError::invalid_input("deadline", "is required for the status action"))?;
    let nodes: Vec<Node> = input
        .masters
        .iter()
        .chain(&input.workers)
        .cloned()
        .collect();
    let CommandProgress {
        done,
        succeeded,
        pending,
        outputs,
        ..
    } = commands::progress(aws, &settings.join_document, &input.commands, &nodes).await?;
    let mut ready_nodes = Vec::new();
    let mut addon_reports = Vec::new();
    if done && phase == JoinPhase::Addons && !input.commands.is_empty() {
        let output = master_output(aws, input, &outputs).await?;
        let plan = catalogue::plan(&input.spec)?;
        addon_reports = addon_reports_from_output(&output, &plan).map_err(|excerpt| {
            MecError::CommandFailed {
                document: settings.join_document.clone(),
                node: first_master(input).name.clone(),
                status: "Success".into(),
                excerpt,
            }
        })?;
    }
    if done && phase == JoinPhase::Verify {
        let output = master_output(aws, input, &outputs).await?;
        ready_nodes = ready_from_verify_output(&output);
        if input.masters.len() > 1 && !high_availability_in_verify_output(&output) {
            return Err(MecError::NodesNotReady(format!(
                "the master does not report high availability with all {} control-plane nodes",
                input.masters.len()
            )));
        }
        let missing: Vec<String> = expected_names(input)
            .into_iter()
            .filter(|n| !ready_nodes.contains(n))
            .collect();
        if !missing.is_empty() {
            return Err(MecError::NodesNotReady(format!(
                "{} of {} nodes not Ready on the master: {}",
                missing.len(),
                nodes.len(),
                missing
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let expired = !done && deadline::passed(until, "deadline")?;
    info!(
        phase = phase.as_str(),
        done, expired, succeeded, pending, "join progress"
    );
    Ok(JoinProgress {
        phase,
        done,
        expired,
        succeeded,
        pending,
        ready_nodes,
        addons: addon_reports,
    })
}

/// The first master's whole standard output. ListCommandInvocations keeps 2,500 characters, too
/// little for a big cluster's summary; GetCommandInvocation keeps 24,000 (about 600 nodes).
async fn master_output(
    aws: &Aws,
    input: &JoinInput,
    listed: &BTreeMap<String, String>,
) -> Result<String, MecError> {
    let master = first_master(input);
    Ok(
        match input
            .commands
            .iter()
            .find(|c| c.instance_ids.contains(&master.instance_id))
        {
            Some(command) => aws
                .ssm
                .get_command_invocation()
                .command_id(&command.command_id)
                .instance_id(&master.instance_id)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("GetCommandInvocation", e))?
                .standard_output_content()
                .unwrap_or_default()
                .to_string(),
            None => listed.get(&master.instance_id).cloned().unwrap_or_default(),
        },
    )
}

/// Reads the add-on script's `addon <name> READY` / `addon <name> FAILED <reason>` lines into one
/// report per planned add-on. A succeeded run must report every add-on, and none that is required
/// as FAILED (the script exits 1 then); otherwise the reason is returned.
pub fn addon_reports_from_output(
    output: &str,
    plan: &[Planned],
) -> Result<Vec<AddonReport>, String> {
    let mut reports = Vec::new();
    for planned in plan {
        let line = output.lines().rev().find_map(|line| {
            let rest = line.strip_prefix("addon ")?;
            let (name, rest) = rest.split_once(' ')?;
            (name == planned.name).then_some(rest)
        });
        let report = match line {
            Some("READY") => AddonReport {
                name: planned.name.clone(),
                status: AddonStatus::Ready,
                optional: planned.optional,
                message: None,
            },
            Some(rest) if rest.starts_with("FAILED") => AddonReport {
                name: planned.name.clone(),
                status: AddonStatus::Failed,
                optional: planned.optional,
                message: Some(rest.trim_start_matches("FAILED").trim().to_string()),
            },
            _ => return Err(format!("no report for add-on {}", planned.name)),
        };
        if report.status == AddonStatus::Failed && !planned.optional {
            return Err(format!(
                "required add-on {} failed: {}",
                planned.name,
                report.message.unwrap_or_default()
            ));
        }
        reports.push(report);
    }
    Ok(reports)
}

/// Reads the verify script's `node <name> Ready|NotReady` lines.
pub fn ready_from_verify_output(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("node"), Some(name), Some("Ready"), None) => Some(name.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// True when the verify script printed `high-availability yes` (an HA verify found every
/// control-plane address among the dqlite voters).
pub fn high_availability_in_verify_output(output: &str) -> bool {
    output
        .lines()
        .any(|line| line.split_whitespace().eq(["high-availability", "yes"]))
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
