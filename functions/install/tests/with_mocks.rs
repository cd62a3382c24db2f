//! The install step with SDK mocks: moto's Run Command is a stub (always succeeds, no output,
//! no DescribeInstanceInformation), so results, failures and throttling are mocked here.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::types::{InstanceStateName, Reservation};
use aws_sdk_ssm::operation::describe_instance_information::DescribeInstanceInformationOutput;
use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationOutput;
use aws_sdk_ssm::operation::list_command_invocations::ListCommandInvocationsOutput;
use aws_sdk_ssm::operation::send_command::SendCommandOutput;
use aws_sdk_ssm::types::{
    Command, CommandInvocation, CommandInvocationStatus, CommandPlugin, InstanceInformation,
    PingStatus,
};
use aws_smithy_mocks::mock;
use mec_install::{InstallOutput, DOCUMENT_PARAMETERS};
use mec_shared::model::Node;
use mec_shared::tags::Role;
use mec_shared::{MecError, Settings};
use mec_testkit::mocks::{self, instance, node};
use serde_json::json;

fn nodes(workers: u32) -> (Vec<Node>, Vec<Node>) {
    (
        vec![node(Role::Master, 0)],
        (0..workers).map(|i| node(Role::Worker, i)).collect(),
    )
}

fn input(action: &str, masters: &[Node], workers: &[Node]) -> serde_json::Value {
    json!({"action": action, "spec": {"name": "mock-env", "workers": workers.len()}, "masters": masters, "workers": workers})
}

fn describe_all(all: Vec<Node>, state: InstanceStateName) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ec2::Client::describe_instances).then_output(move || {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .set_instances(Some(
                        all.iter().map(|n| instance(n, state.clone())).collect(),
                    ))
                    .build(),
            )
            .build()
    })
}

fn online(ids: Vec<String>) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ssm::Client::describe_instance_information).then_output(move || {
        DescribeInstanceInformationOutput::builder()
            .set_instance_information_list(Some(
                ids.iter()
                    .map(|id| {
                        InstanceInformation::builder()
                            .instance_id(id)
                            .ping_status(PingStatus::Online)
                            .build()
                    })
                    .collect(),
            ))
            .build()
    })
}

#[tokio::test]
async fn check_nodes_waits_for_every_agent_to_be_online() {
    let (masters, workers) = nodes(2);
    let all: Vec<Node> = masters.iter().chain(&workers).cloned().collect();
    let describe = describe_all(all.clone(), InstanceStateName::Running);
    let some_online = online(vec![all[0].instance_id.clone(), all[1].instance_id.clone()]);
    let aws = mocks::aws(&[&describe], &[&some_online]);
    let out = mec_install::handle(
        &aws,
        &Settings::default(),
        input("check_nodes", &masters, &workers),
    )
    .await
    .unwrap();
    let InstallOutput::Nodes(check) = out else {
        panic!("{out:?}")
    };
    assert!(!check.ready);
    assert_eq!((check.total, check.running, check.online), (3, 3, 2));
    assert_eq!(check.waiting_for, vec![all[2].name.clone()]);
    assert_eq!(
        check.workers[0].public_ip.as_deref(),
        Some("198.51.100.1"),
        "public IPs are refreshed"
    );
    assert_eq!(
        describe.num_calls(),
        1,
        "one describe per poll, whatever the node count"
    );

    let all_online = online(all.iter().map(|n| n.instance_id.clone()).collect());
    let aws = mocks::aws(&[&describe], &[&all_online]);
    let out = mec_install::handle(
        &aws,
        &Settings::default(),
        input("check_nodes", &masters, &workers),
    )
    .await
    .unwrap();
    let InstallOutput::Nodes(check) = out else {
        panic!("{out:?}")
    };
    assert!(check.ready);
}

#[tokio::test]
async fn a_terminated_node_is_lost_not_waited_for() {
    let (masters, workers) = nodes(1);
    let all: Vec<Node> = masters.iter().chain(&workers).cloned().collect();
    let describe = describe_all(all, InstanceStateName::Terminated);
    let none_online = online(vec![]);
    let aws = mocks::aws(&[&describe], &[&none_online]);
    let err = mec_install::handle(
        &aws,
        &Settings::default(),
        input("check_nodes", &masters, &workers),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NodeLost");
    assert!(err.to_string().contains("mock-env-master-0"), "{err}");
}

#[tokio::test]
async fn start_sends_the_install_document_to_all_nodes_50_at_a_time() {
    let (masters, workers) = nodes(100);
    let seen: Arc<Mutex<Vec<(usize, String, String)>>> = Arc::default();
    let record = seen.clone();
    let send = mock!(aws_sdk_ssm::Client::send_command)
        .match_requests(move |req| {
            let params = req.parameters().cloned().unwrap_or_default();
            record.lock().unwrap().push((
                req.instance_ids().len(),
                params
                    .get("channel")
                    .map(|v| v[0].clone())
                    .unwrap_or_default(),
                params
                    .get("hosts")
                    .map(|v| v[0].clone())
                    .unwrap_or_default(),
            ));
            for key in params.keys() {
                assert!(
                    DOCUMENT_PARAMETERS.contains(&key.as_str()),
                    "{key} is not a document parameter"
                );
            }
            req.document_name() == Some("mec-install")
        })
        .then_output(|| {
            SendCommandOutput::builder()
                .command(Command::builder().command_id("cmd-1").build())
                .build()
        });
    let aws = mocks::aws(&[], &[&send]);
    let out = mec_install::handle(
        &aws,
        &Settings::default(),
        input("start", &masters, &workers),
    )
    .await
    .unwrap();
    let InstallOutput::Started(started) = out else {
        panic!("{out:?}")
    };
    assert_eq!(started.commands.len(), 3);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [50, 50, 1]);
    assert!(seen.iter().all(|s| s.1 == "1.32/stable"));
    let hosts = &seen[0].2;
    assert!(
        hosts.starts_with("10.42.0.10=mock-env-master-0,10.42.0.100=mock-env-worker-0,"),
        "{hosts}"
    );
    assert_eq!(
        hosts.split(',').count(),
        101,
        "every node's address in every node's /etc/hosts"
    );
}

#[tokio::test]
async fn agents_not_registered_yet_mean_not_ready_and_throttling_is_typed() {
    let (masters, workers) = nodes(1);
    let unregistered = mock!(aws_sdk_ssm::Client::send_command).then_http_response(|| {
        mocks::json_error(400, "InvalidInstanceId", "Instances not in a valid state")
    });
    let aws = mocks::aws(&[], &[&unregistered]);
    let err = mec_install::handle(
        &aws,
        &Settings::default(),
        input("start", &masters, &workers),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NodesNotReady", "{err}");
    assert!(err.is_retryable());

    let throttled = mock!(aws_sdk_ssm::Client::send_command)
        .sequence()
        .http_response(|| mocks::json_error(400, "ThrottlingException", "Rate exceeded"))
        .repeatedly()
        .build();
    let aws = mocks::aws(&[], &[&throttled]);
    let err = mec_install::handle(
        &aws,
        &Settings::default(),
        input("start", &masters, &workers),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Throttled", "{err}");
    assert_eq!(throttled.num_calls(), 3, "the SDK retried before giving up");

    let unavailable = mock!(aws_sdk_ssm::Client::send_command)
        .sequence()
        .http_response(|| mocks::json_error(500, "InternalServerError", "boom"))
        .repeatedly()
        .build();
    let aws = mocks::aws(&[], &[&unavailable]);
    let err = mec_install::handle(
        &aws,
        &Settings::default(),
        input("start", &masters, &workers),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "AwsUnavailable", "{err}");
}

fn invocation(node: &Node, status: CommandInvocationStatus, output: &str) -> CommandInvocation {
    CommandInvocation::builder()
        .instance_id(&node.instance_id)
        .status(status)
        .command_plugins(CommandPlugin::builder().output(output).build())
        .build()
}

fn status_input(masters: &[Node], workers: &[Node]) -> serde_json::Value {
    let mut value = input("status", masters, workers);
    let ids: Vec<&str> = masters
        .iter()
        .chain(workers)
        .map(|n| n.instance_id.as_str())
        .collect();
    value["commands"] = json!([{"command_id": "cmd-1", "instance_ids": ids}]);
    value["deadline"] = json!("2099-01-01T00:00:00Z");
    value
}

#[tokio::test]
async fn status_aggregates_and_names_the_failed_node_with_its_output() {
    let (masters, workers) = nodes(2);
    let (m, w) = (masters.clone(), workers.clone());
    let in_progress = mock!(aws_sdk_ssm::Client::list_command_invocations).then_output(move || {
        ListCommandInvocationsOutput::builder()
            .command_invocations(invocation(
                &m[0],
                CommandInvocationStatus::Success,
                "mec-install: ready",
            ))
            .command_invocations(invocation(&w[0], CommandInvocationStatus::InProgress, ""))
            .build()
    });
    let aws = mocks::aws(&[], &[&in_progress]);
    let out = mec_install::handle(&aws, &Settings::default(), status_input(&masters, &workers))
        .await
        .unwrap();
    let InstallOutput::Progress(progress) = out else {
        panic!("{out:?}")
    };
    assert!(!progress.done);
    assert!(!progress.expired, "the deadline is far");
    assert_eq!(
        (progress.succeeded, progress.pending),
        (1, 2),
        "a node not listed yet is pending"
    );

    // Past the phase's deadline with nodes still pending: the wait has failed (the state
    // machine rolls back), whatever the poll count.
    let mut late = status_input(&masters, &workers);
    late["deadline"] = json!("2020-01-01T00:00:00Z");
    let out = mec_install::handle(
        &mocks::aws(&[], &[&in_progress]),
        &Settings::default(),
        late,
    )
    .await
    .unwrap();
    let InstallOutput::Progress(progress) = out else {
        panic!("{out:?}")
    };
    assert!(progress.expired && !progress.done);
    let mut no_deadline = status_input(&masters, &workers);
    no_deadline.as_object_mut().unwrap().remove("deadline");
    let err = mec_install::handle(
        &mocks::aws(&[], &[&in_progress]),
        &Settings::default(),
        no_deadline,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, MecError::InvalidInput { ref field, .. } if field == "deadline"),
        "{err}"
    );
    let as_json = serde_json::to_value(&progress).unwrap();
    assert!(
        as_json.get("outputs").is_none(),
        "node output stays out of the execution history"
    );

    // A long log: ListCommandInvocations keeps its first 2,500 characters, where the script's
    // last `error:` line is lost; GetCommandInvocation's standard error has it (defect #8.10).
    let long_log = format!("mec-install: {}", "retrying snap install\n".repeat(200));
    let listed: String = long_log.chars().take(2500).collect();
    let (m, w) = (masters.clone(), workers.clone());
    let failed = mock!(aws_sdk_ssm::Client::list_command_invocations).then_output(move || {
        ListCommandInvocationsOutput::builder()
            .command_invocations(invocation(&m[0], CommandInvocationStatus::Success, "ok"))
            .command_invocations(invocation(&w[1], CommandInvocationStatus::Failed, &listed))
            .build()
    });
    let worker = workers[1].instance_id.clone();
    let details = mock!(aws_sdk_ssm::Client::get_command_invocation)
        .match_requests(move |r| r.command_id() == Some("cmd-1") && r.instance_id() == Some(worker.as_str()))
        .then_output(move || {
            GetCommandInvocationOutput::builder()
                .standard_output_content(&long_log)
                .standard_error_content(
                    "mec-install: error: snap install microk8s --channel=1.32/stable failed 5 times: too early for operation\n",
                )
                .build()
        });
    let aws = mocks::aws(&[], &[&failed, &details]);
    let err = mec_install::handle(&aws, &Settings::default(), status_input(&masters, &workers))
        .await
        .unwrap_err();
    match err {
        MecError::CommandFailed {
            node,
            status,
            excerpt,
            document,
        } => {
            assert_eq!(document, "mec-install");
            assert!(node.contains("mock-env-worker-1"), "{node}");
            assert_eq!(status, "Failed");
            assert!(
                excerpt.contains("error: snap install microk8s"),
                "{excerpt}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Without the details (the call fails), the excerpt is the end of what the list kept.
    let (m, w) = (masters.clone(), workers.clone());
    let failed = mock!(aws_sdk_ssm::Client::list_command_invocations).then_output(move || {
        ListCommandInvocationsOutput::builder()
            .command_invocations(invocation(&m[0], CommandInvocationStatus::Success, "ok"))
            .command_invocations(invocation(
                &w[1],
                CommandInvocationStatus::Failed,
                "mec-install: snap install failed after 5 attempts: too early for operation",
            ))
            .build()
    });
    let refused = mock!(aws_sdk_ssm::Client::get_command_invocation)
        .then_http_response(|| mocks::json_error(400, "AccessDeniedException", "not allowed"));
    let aws = mocks::aws(&[], &[&failed, &refused]);
    let err = mec_install::handle(&aws, &Settings::default(), status_input(&masters, &workers))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too early for operation"), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_aws_call() {
    let dead = mec_testkit::unreachable_aws();
    let (masters, workers) = nodes(1);
    let mut no_commands = input("status", &masters, &workers);
    no_commands["commands"] = json!([]);
    let mut bad_id = input("start", &masters, &workers);
    bad_id["workers"][0]["instance_id"] = json!("not-an-id; rm -rf /");
    let cases = [
        (input("reboot", &masters, &workers), "action"),
        (input("start", &[], &workers), "masters"),
        (no_commands, "commands"),
        (bad_id, "workers[0].instance_id"),
        (json!({"action": "start"}), "spec"),
    ];
    for (value, field) in cases {
        let err = mec_install::handle(&dead, &Settings::default(), value.clone())
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{value}: {err}");
        assert!(err.to_string().contains(field), "{value}: {err}");
    }
}

#[test]
fn the_document_declares_exactly_the_parameters_the_step_sends() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("document.yaml");
    let mut sent: Vec<String> = DOCUMENT_PARAMETERS.iter().map(|s| s.to_string()).collect();
    sent.sort();
    assert_eq!(mec_testkit::document_parameters(&path), sent);
}
