//! A phase's progress (`status`), and the reports the `mec-join` document prints on the first
//! master: the Ready nodes, the HA check, one line per add-on.

use super::*;

pub(crate) async fn status(
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
pub(crate) async fn master_output(
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
