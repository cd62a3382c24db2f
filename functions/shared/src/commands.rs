//! SSM Run Command: sending a document to nodes, and the cheap status check that the state
//! machine polls (one ListCommandInvocations per command, not one call per node).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ssm::types::{CloudWatchOutputConfig, CommandInvocationStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::Aws;
use crate::error::MecError;
use crate::model::Node;
use crate::settings::Settings;

/// SendCommand takes at most 50 instance ids per call.
pub const MAX_TARGETS_PER_COMMAND: usize = 50;
/// How much of a failed node's output an error quotes.
const EXCERPT_CHARS: usize = 600;

/// One sent command and the instances it went to; what a step returns for the next poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRef {
    pub command_id: String,
    pub instance_ids: Vec<String>,
}

/// What to send: a document, its parameters, and a comment saying which environment and phase.
#[derive(Debug, Clone)]
pub struct CommandRequest<'a> {
    pub document: &'a str,
    pub parameters: BTreeMap<&'a str, String>,
    pub comment: String,
    /// Seconds SSM waits for a node to pick the command up.
    pub delivery_timeout_seconds: i32,
}

/// Sends the command to every node, 50 instance ids per SendCommand call.
pub async fn send(
    aws: &Aws,
    settings: &Settings,
    request: &CommandRequest<'_>,
    nodes: &[Node],
) -> Result<Vec<CommandRef>, MecError> {
    send_with_concurrency(aws, settings, request, nodes, None).await
}

/// Like [`send`], but SSM runs it on one node at a time (`MaxConcurrency` 1): for steps that
/// must not overlap, like control-plane joins, which each change the dqlite membership.
pub async fn send_one_at_a_time(
    aws: &Aws,
    settings: &Settings,
    request: &CommandRequest<'_>,
    nodes: &[Node],
) -> Result<Vec<CommandRef>, MecError> {
    send_with_concurrency(aws, settings, request, nodes, Some("1")).await
}

async fn send_with_concurrency(
    aws: &Aws,
    settings: &Settings,
    request: &CommandRequest<'_>,
    nodes: &[Node],
    max_concurrency: Option<&str>,
) -> Result<Vec<CommandRef>, MecError> {
    let mut sent = Vec::new();
    for chunk in nodes.chunks(MAX_TARGETS_PER_COMMAND) {
        let instance_ids: Vec<String> = chunk.iter().map(|n| n.instance_id.clone()).collect();
        let parameters: HashMap<String, Vec<String>> = request
            .parameters
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.clone()]))
            .collect();
        let mut call = aws
            .ssm
            .send_command()
            .document_name(request.document)
            .set_instance_ids(Some(instance_ids.clone()))
            .set_parameters(Some(parameters))
            .comment(truncate(&request.comment, 100))
            .timeout_seconds(request.delivery_timeout_seconds)
            .set_max_concurrency(max_concurrency.map(str::to_string));
        if let Some(group) = &settings.command_log_group {
            call = call.cloud_watch_output_config(
                CloudWatchOutputConfig::builder()
                    .cloud_watch_log_group_name(group)
                    .cloud_watch_output_enabled(true)
                    .build(),
            );
        }
        let out = call.send().await.map_err(|e| {
            // SSM refuses instances whose agent has not registered yet: wait and try again.
            if let Some(refused) = e.as_service_error().filter(|e| e.is_invalid_instance_id()) {
                MecError::NodesNotReady(format!(
                    "SSM does not manage every node yet: {}",
                    refused.meta().message().unwrap_or_default()
                ))
            } else {
                MecError::from_sdk("SendCommand", e)
            }
        })?;
        let command_id = out
            .command()
            .and_then(|c| c.command_id())
            .ok_or_else(|| MecError::AwsError {
                operation: "SendCommand".into(),
                code: "MissingCommandId".into(),
                message: "SendCommand returned no command id".into(),
            })?
            .to_string();
        sent.push(CommandRef {
            command_id,
            instance_ids,
        });
    }
    Ok(sent)
}

/// Where a set of commands stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommandProgress {
    /// Every targeted node finished successfully.
    pub done: bool,
    pub succeeded: u32,
    pub pending: u32,
    /// The phase's deadline passed with nodes still pending: the wait has failed (set by the
    /// step, which knows the deadline).
    #[serde(default)]
    pub expired: bool,
    /// Standard output per instance id (as much as ListCommandInvocations keeps). Not part of a
    /// step's output: only the step that asked for it reads it.
    #[serde(skip)]
    pub outputs: BTreeMap<String, String>,
}

/// Aggregates per-node results; the first failed node becomes a `CommandFailed` error that names
/// the node and quotes the end of its output.
pub async fn progress(
    aws: &Aws,
    document: &str,
    commands: &[CommandRef],
    nodes: &[Node],
) -> Result<CommandProgress, MecError> {
    let name_of = |id: &str| {
        nodes
            .iter()
            .find(|n| n.instance_id == id)
            .map(|n| format!("{} ({id})", n.name))
            .unwrap_or_else(|| id.to_string())
    };
    let mut progress = CommandProgress {
        done: false,
        expired: false,
        succeeded: 0,
        pending: 0,
        outputs: BTreeMap::new(),
    };
    for command in commands {
        let mut statuses: HashMap<String, CommandInvocationStatus> = HashMap::new();
        let mut pages = aws
            .ssm
            .list_command_invocations()
            .command_id(&command.command_id)
            .details(true)
            // A command targets at most 50 nodes: one page, one call per command and poll.
            .max_results(MAX_TARGETS_PER_COMMAND as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| MecError::from_sdk("ListCommandInvocations", e))?;
            for invocation in page.command_invocations() {
                let id = invocation.instance_id().unwrap_or_default().to_string();
                let status = invocation
                    .status()
                    .cloned()
                    .unwrap_or(CommandInvocationStatus::Pending);
                let output: String = invocation
                    .command_plugins()
                    .iter()
                    .filter_map(|p| p.output())
                    .collect::<Vec<_>>()
                    .join("\n");
                if is_failure(&status) {
                    let excerpt = failure_excerpt(aws, &command.command_id, &id, &output).await;
                    return Err(MecError::CommandFailed {
                        document: document.to_string(),
                        node: name_of(&id),
                        status: status.as_str().to_string(),
                        excerpt,
                    });
                }
                progress.outputs.insert(id.clone(), output);
                statuses.insert(id, status);
            }
        }
        for id in &command.instance_ids {
            match statuses.get(id) {
                Some(CommandInvocationStatus::Success) => progress.succeeded += 1,
                // Not listed yet (SSM is eventually consistent) or still running.
                _ => progress.pending += 1,
            }
        }
    }
    progress.done = progress.pending == 0;
    Ok(progress)
}

/// Why a node's command failed: the end of its standard error (the scripts' `error:` line is its
/// last line), else of its output. ListCommandInvocations keeps only the first 2,500 characters
/// of a plugin's output, where a long log loses that line; GetCommandInvocation keeps 24,000 of
/// standard output and 8,000 of standard error (SSM API reference). `listed` (the list's output)
/// stands in when that call fails: an excerpt never hides the failure itself.
async fn failure_excerpt(aws: &Aws, command_id: &str, instance_id: &str, listed: &str) -> String {
    let invocation = aws
        .ssm
        .get_command_invocation()
        .command_id(command_id)
        .instance_id(instance_id)
        .send()
        .await;
    match invocation {
        Ok(out) => {
            let stderr = out.standard_error_content().unwrap_or_default().trim_end();
            let stdout = out.standard_output_content().unwrap_or_default().trim_end();
            tail(
                if stderr.is_empty() { stdout } else { stderr },
                EXCERPT_CHARS,
            )
        }
        Err(_) => tail(listed, EXCERPT_CHARS),
    }
}

fn is_failure(status: &CommandInvocationStatus) -> bool {
    matches!(
        status,
        CommandInvocationStatus::Failed
            | CommandInvocationStatus::TimedOut
            | CommandInvocationStatus::Cancelled
            | CommandInvocationStatus::Cancelling
    )
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// The last `max_chars` characters: the end of a log says why it failed.
fn tail(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max_chars)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_and_truncate_count_characters() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 3), "ab");
        assert_eq!(truncate("ééééé", 2), "éé");
    }
}
