//! The join step with SDK mocks (moto's Run Command is a stub): the token's path, the join
//! commands, verify, and that the token shows up in no output and no command parameter.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use aws_sdk_ssm::operation::delete_parameter::DeleteParameterOutput;
use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationOutput;
use aws_sdk_ssm::operation::list_command_invocations::ListCommandInvocationsOutput;
use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
use aws_sdk_ssm::operation::send_command::SendCommandOutput;
use aws_sdk_ssm::types::{Command, CommandInvocation, CommandInvocationStatus, CommandPlugin};
use aws_smithy_mocks::mock;
use mec_join::{JoinOutput, DOCUMENT_PARAMETERS};
use mec_shared::model::Node;
use mec_shared::tags::Role;
use mec_shared::Settings;
use mec_testkit::mocks::{self, node};
use serde_json::json;

type Sent = Arc<Mutex<Vec<(Vec<String>, std::collections::HashMap<String, Vec<String>>)>>>;

fn send_recorder(sent: &Sent) -> aws_smithy_mocks::Rule {
    let record = sent.clone();
    mock!(aws_sdk_ssm::Client::send_command)
        .match_requests(move |req| {
            record.lock().unwrap().push((
                req.instance_ids().to_vec(),
                req.parameters().cloned().unwrap_or_default(),
            ));
            req.document_name() == Some("mec-join")
        })
        .then_output(|| {
            SendCommandOutput::builder()
                .command(Command::builder().command_id("cmd-join").build())
                .build()
        })
}

fn input(action: &str, masters: &[Node], workers: &[Node]) -> serde_json::Value {
    json!({"action": action, "spec": {"name": "mock-env", "workers": workers.len(), "masters": masters.len()},
           "vpc_id": "vpc-0a1b2c", "masters": masters, "workers": workers})
}

fn param(params: &std::collections::HashMap<String, Vec<String>>, key: &str) -> String {
    params.get(key).map(|v| v[0].clone()).unwrap_or_default()
}

#[tokio::test]
async fn mint_stores_the_token_as_a_secure_string_and_never_hands_it_out() {
    let masters = vec![node(Role::Master, 0)];
    let workers = vec![node(Role::Worker, 0)];
    let token: Arc<Mutex<String>> = Arc::default();
    let keep = token.clone();
    // Created with the tags the node role is bound to (its VPC), never overwritten blindly.
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(move |req| {
            *keep.lock().unwrap() = req.value().unwrap_or_default().to_string();
            let vpc_tag = req
                .tags()
                .iter()
                .any(|t| t.key() == "mec:vpc" && t.value() == "vpc-0a1b2c");
            req.name() == Some("/mec/mock-env/join-token")
                && req.r#type() == Some(&aws_sdk_ssm::types::ParameterType::SecureString)
                && req.overwrite().is_none()
                && vpc_tag
        })
        .then_output(|| PutParameterOutput::builder().version(1).build());
    let sent: Sent = Arc::default();
    let send = send_recorder(&sent);
    let aws = mocks::aws(&[], &[&put, &send]);

    let out = mec_join::handle(
        &aws,
        &Settings::default(),
        input("mint", &masters, &workers),
    )
    .await
    .unwrap();
    let token = token.lock().unwrap().clone();
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));

    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].0,
        vec![masters[0].instance_id.clone()],
        "minted on the first master only"
    );
    assert_eq!(param(&sent[0].1, "action"), "mint");
    // Only the parameter's name travels: Run Command resolves no SecureString reference.
    assert_eq!(
        param(&sent[0].1, "tokenParameter"),
        "/mec/mock-env/join-token"
    );
    assert!(!param(&sent[0].1, "tokenParameter").contains("{{"));
    assert_eq!(param(&sent[0].1, "tokenTtl"), "900");
    let everything_sent = format!("{:?}", sent[0].1);
    assert!(
        !everything_sent.contains(&token),
        "the token is in no command parameter"
    );
    let output = serde_json::to_string(&out).unwrap();
    assert!(!output.contains(&token), "the token is in no step output");
}

#[tokio::test]
async fn join_sends_workers_with_worker_flag_and_extra_masters_without() {
    let masters: Vec<Node> = (0..3).map(|i| node(Role::Master, i)).collect();
    let workers: Vec<Node> = (0..2).map(|i| node(Role::Worker, i)).collect();
    let sent: Sent = Arc::default();
    let send = send_recorder(&sent);
    let aws = mocks::aws(&[], &[&send]);
    let out = mec_join::handle(
        &aws,
        &Settings::default(),
        input("join", &masters, &workers),
    )
    .await
    .unwrap();
    let JoinOutput::Sent(sent_out) = out else {
        panic!("{out:?}")
    };
    assert_eq!(sent_out.commands.len(), 2);

    let sent = sent.lock().unwrap();
    let (ha_ids, ha_params) = &sent[0];
    assert_eq!(
        ha_ids,
        &vec![
            masters[1].instance_id.clone(),
            masters[2].instance_id.clone()
        ]
    );
    assert_eq!(param(ha_params, "asWorker"), "false");
    let (worker_ids, worker_params) = &sent[1];
    assert_eq!(worker_ids.len(), 2);
    assert_eq!(param(worker_params, "asWorker"), "true");
    for (_, params) in sent.iter() {
        assert_eq!(
            param(params, "masterAddress"),
            "10.42.0.10",
            "the first master's private address"
        );
        assert_eq!(param(params, "tokenParameter"), "/mec/mock-env/join-token");
        for key in params.keys() {
            assert!(DOCUMENT_PARAMETERS.contains(&key.as_str()), "{key}");
        }
    }
}

fn verify_output(output: &'static str) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ssm::Client::get_command_invocation).then_output(move || {
        GetCommandInvocationOutput::builder()
            .standard_output_content(output)
            .build()
    })
}

fn verify_result(
    master: &Node,
    status: CommandInvocationStatus,
    output: &'static str,
) -> aws_smithy_mocks::Rule {
    let id = master.instance_id.clone();
    mock!(aws_sdk_ssm::Client::list_command_invocations).then_output(move || {
        ListCommandInvocationsOutput::builder()
            .command_invocations(
                CommandInvocation::builder()
                    .instance_id(&id)
                    .status(status.clone())
                    .command_plugins(CommandPlugin::builder().output(output).build())
                    .build(),
            )
            .build()
    })
}

fn status_input(masters: &[Node], workers: &[Node], phase: &str) -> serde_json::Value {
    let mut value = input("status", masters, workers);
    value["phase"] = json!(phase);
    value["commands"] =
        json!([{"command_id": "cmd-join", "instance_ids": [masters[0].instance_id]}]);
    value["deadline"] = json!("2099-01-01T00:00:00Z");
    value
}

/// The kubeconfig's parameter, created by mec before the master overwrites it: Advanced tier (a
/// real admin kubeconfig is ~5.5 KB, over the Standard tier's 4 KB), tagged with the VPC the node
/// role is bound to.
fn kubeconfig_parameter() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|req| {
            req.name() == Some("/mec/mock-env/kubeconfig")
                && req.tier() == Some(&aws_sdk_ssm::types::ParameterTier::Advanced)
                && req.r#type() == Some(&aws_sdk_ssm::types::ParameterType::SecureString)
                && req
                    .tags()
                    .iter()
                    .any(|t| t.key() == "mec:vpc" && t.value() == "vpc-0a1b2c")
        })
        .then_output(|| PutParameterOutput::builder().version(1).build())
}

#[tokio::test]
async fn verify_deletes_the_token_and_checks_every_node_is_ready() {
    let masters = vec![node(Role::Master, 0)];
    let workers = vec![node(Role::Worker, 0), node(Role::Worker, 1)];
    let delete = mock!(aws_sdk_ssm::Client::delete_parameter)
        .match_requests(|req| req.name() == Some("/mec/mock-env/join-token"))
        .then_output(|| DeleteParameterOutput::builder().build());
    let kubeconfig = kubeconfig_parameter();
    let sent: Sent = Arc::default();
    let send = send_recorder(&sent);
    let aws = mocks::aws(&[], &[&delete, &kubeconfig, &send]);
    mec_join::handle(
        &aws,
        &Settings::default(),
        input("verify", &masters, &workers),
    )
    .await
    .unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(kubeconfig.num_calls(), 1);
    {
        // Verify first (status reads its output), and the kubeconfig publish beside it, both on
        // the first master.
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(param(&sent[0].1, "action"), "verify");
        assert_eq!(
            param(&sent[0].1, "expectedNodes"),
            "mock-env-master-0,mock-env-worker-0,mock-env-worker-1"
        );
        assert_eq!(param(&sent[1].1, "action"), "publish");
        assert_eq!(
            param(&sent[1].1, "kubeconfigParameter"),
            "/mec/mock-env/kubeconfig"
        );
        assert_eq!(param(&sent[1].1, "region"), "us-east-1");
        assert!(sent
            .iter()
            .all(|(ids, _)| *ids == vec![masters[0].instance_id.clone()]));
    }
    let JoinOutput::Sent(verify_sent) = mec_join::handle(
        &mocks::aws(&[], &[&delete, &kubeconfig, &send]),
        &Settings::default(),
        input("verify", &masters, &workers),
    )
    .await
    .unwrap() else {
        panic!("verify sends")
    };
    assert_eq!(verify_sent.commands.len(), 2);
    assert_eq!(
        verify_sent.kubeconfig_parameter.as_deref(),
        Some("/mec/mock-env/kubeconfig")
    );
    assert!(verify_sent
        .api_endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("https://") && e.ends_with(":16443")));

    let all_ready = verify_result(&masters[0], CommandInvocationStatus::Success,
        "node mock-env-master-0 Ready\nnode mock-env-worker-0 Ready\nnode mock-env-worker-1 Ready\nready 3/3\n");
    // The summary comes from GetCommandInvocation (24,000 characters), not the list's 2,500.
    let full = verify_output("node mock-env-master-0 Ready\nnode mock-env-worker-0 Ready\nnode mock-env-worker-1 Ready\nready 3/3\n");
    let aws = mocks::aws(&[], &[&all_ready, &full]);
    let out = mec_join::handle(
        &aws,
        &Settings::default(),
        status_input(&masters, &workers, "verify"),
    )
    .await
    .unwrap();
    let JoinOutput::Progress(progress) = out else {
        panic!("{out:?}")
    };
    assert!(progress.done);
    assert_eq!(progress.ready_nodes.len(), 3);

    let one_missing = verify_result(
        &masters[0],
        CommandInvocationStatus::Success,
        "node mock-env-master-0 Ready\nnode mock-env-worker-0 Ready\nready 2/3\n",
    );
    let partial =
        verify_output("node mock-env-master-0 Ready\nnode mock-env-worker-0 Ready\nready 2/3\n");
    let aws = mocks::aws(&[], &[&one_missing, &partial]);
    let err = mec_join::handle(
        &aws,
        &Settings::default(),
        status_input(&masters, &workers, "verify"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NodesNotReady");
    assert!(err.to_string().contains("mock-env-worker-1"), "{err}");

    let failed = verify_result(
        &masters[0],
        CommandInvocationStatus::Failed,
        "node mock-env-master-0 Ready\nnode mock-env-worker-1 NotReady\nready 1/2\n",
    );
    let details =
        verify_output("node mock-env-master-0 Ready\nnode mock-env-worker-1 NotReady\nready 1/2\n");
    let aws = mocks::aws(&[], &[&failed, &details]);
    let err = mec_join::handle(
        &aws,
        &Settings::default(),
        status_input(&masters, &workers, "verify"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "CommandFailed");
    assert!(err.to_string().contains("NotReady"), "{err}");
}

#[tokio::test]
async fn a_token_already_gone_does_not_fail_verify() {
    let masters = vec![node(Role::Master, 0)];
    let gone = mock!(aws_sdk_ssm::Client::delete_parameter)
        .then_http_response(|| mocks::json_error(400, "ParameterNotFound", "not found"));
    let kubeconfig = kubeconfig_parameter();
    let sent: Sent = Arc::default();
    let send = send_recorder(&sent);
    let aws = mocks::aws(&[], &[&gone, &kubeconfig, &send]);
    mec_join::handle(&aws, &Settings::default(), input("verify", &masters, &[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lone_master_has_nothing_to_mint_or_join_and_nothing_to_wait_for() {
    let masters = vec![node(Role::Master, 0)];
    // No AWS call at all: no token stored, no command sent, nothing polled.
    let dead = mec_testkit::unreachable_aws();
    for phase in ["mint", "join"] {
        let out = mec_join::handle(&dead, &Settings::default(), input(phase, &masters, &[]))
            .await
            .unwrap();
        let JoinOutput::Sent(sent) = out else {
            panic!("{out:?}")
        };
        assert!(sent.commands.is_empty(), "{phase}");
        let mut status = status_input(&masters, &[], phase);
        status["commands"] = json!([]);
        let out = mec_join::handle(&dead, &Settings::default(), status)
            .await
            .unwrap();
        let JoinOutput::Progress(progress) = out else {
            panic!("{out:?}")
        };
        assert!(progress.done, "{phase}");
    }
    // Verify always sends, so its status needs the commands.
    let mut status = status_input(&masters, &[], "verify");
    status["commands"] = json!([]);
    let err = mec_join::handle(&dead, &Settings::default(), status)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("commands"), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_aws_call() {
    let dead = mec_testkit::unreachable_aws();
    let masters = vec![node(Role::Master, 0)];
    let mut no_phase = status_input(&masters, &[], "verify");
    no_phase.as_object_mut().unwrap().remove("phase");
    let mut bad_phase = status_input(&masters, &[], "verify");
    bad_phase["phase"] = json!("reboot");
    let mut no_masters = input("mint", &masters, &[]);
    no_masters["masters"] = json!([]);
    let cases = [
        (no_masters, "masters"),
        (no_phase, "phase"),
        (bad_phase, "phase"),
        (input("explode", &masters, &[]), "action"),
    ];
    for (value, field) in cases {
        let err = mec_join::handle(&dead, &Settings::default(), value.clone())
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

#[tokio::test]
async fn control_plane_joins_run_one_at_a_time_and_workers_all_at_once() {
    let masters: Vec<Node> = (0..3).map(|i| node(Role::Master, i)).collect();
    let workers: Vec<Node> = (0..2).map(|i| node(Role::Worker, i)).collect();
    // (asWorker, MaxConcurrency) of each SendCommand.
    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let send = mock!(aws_sdk_ssm::Client::send_command)
        .match_requests(move |req| {
            let params = req.parameters().cloned().unwrap_or_default();
            record.lock().unwrap().push((
                param(&params, "asWorker"),
                req.max_concurrency().map(str::to_string),
            ));
            true
        })
        .sequence()
        .output(|| {
            SendCommandOutput::builder()
                .command(Command::builder().command_id("cmd-join").build())
                .build()
        })
        .repeatedly()
        .build();
    let aws = mocks::aws(&[], &[&send]);
    mec_join::handle(
        &aws,
        &Settings::default(),
        input("join", &masters, &workers),
    )
    .await
    .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("false".to_string(), Some("1".to_string())),
            ("true".to_string(), None)
        ]
    );
}

#[tokio::test]
async fn ha_verify_names_the_control_plane_and_requires_high_availability() {
    let masters: Vec<Node> = (0..3).map(|i| node(Role::Master, i)).collect();
    let workers = vec![node(Role::Worker, 0)];
    let delete = mock!(aws_sdk_ssm::Client::delete_parameter)
        .then_output(|| DeleteParameterOutput::builder().build());
    let sent: Sent = Arc::default();
    let send = send_recorder(&sent);
    let kubeconfig = kubeconfig_parameter();
    let aws = mocks::aws(&[], &[&delete, &kubeconfig, &send]);
    mec_join::handle(
        &aws,
        &Settings::default(),
        input("verify", &masters, &workers),
    )
    .await
    .unwrap();
    assert_eq!(
        param(&sent.lock().unwrap()[0].1, "controlPlane"),
        "10.42.0.10,10.42.0.11,10.42.0.12"
    );

    let ready = "node mock-env-master-0 Ready\nnode mock-env-master-1 Ready\nnode mock-env-master-2 Ready\nnode mock-env-worker-0 Ready\nready 4/4\n";
    let with_ha = "node mock-env-master-0 Ready\nnode mock-env-master-1 Ready\nnode mock-env-master-2 Ready\nnode mock-env-worker-0 Ready\nready 4/4\ncontrol-plane 10.42.0.10 voter\nhigh-availability yes\n";
    let listed = verify_result(&masters[0], CommandInvocationStatus::Success, ready);
    let full = verify_output(with_ha);
    let aws = mocks::aws(&[], &[&listed, &full]);
    let out = mec_join::handle(
        &aws,
        &Settings::default(),
        status_input(&masters, &workers, "verify"),
    )
    .await
    .unwrap();
    assert!(matches!(out, JoinOutput::Progress(p) if p.done));

    // Every node Ready but no HA reported: not done.
    let listed = verify_result(&masters[0], CommandInvocationStatus::Success, ready);
    let full = verify_output(ready);
    let aws = mocks::aws(&[], &[&listed, &full]);
    let err = mec_join::handle(
        &aws,
        &Settings::default(),
        status_input(&masters, &workers, "verify"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "NodesNotReady");
    assert!(err.to_string().contains("high availability"), "{err}");
}

#[tokio::test]
async fn addons_send_catalogue_names_in_dependency_order_and_report_each() {
    let masters = vec![node(Role::Master, 0)];
    let workers = vec![node(Role::Worker, 0)];
    let mut value = input("addons", &masters, &workers);
    value["spec"]["addons"] = json!(["dns", {"name": "edgex", "optional": true}]);
    let sent: Sent = Arc::default();
    let send = send_recorder(&sent);
    let aws = mocks::aws(&[], &[&send]);
    mec_join::handle(&aws, &Settings::default(), value.clone())
        .await
        .unwrap();
    let (ids, params) = sent.lock().unwrap()[0].clone();
    assert_eq!(
        ids,
        vec![masters[0].instance_id.clone()],
        "the first master only"
    );
    assert_eq!(param(&params, "addons"), "dns,helm3,hostpath-storage,edgex");
    assert_eq!(
        param(&params, "optionalAddons"),
        "helm3,hostpath-storage,edgex"
    );
    let timeout: u32 = param(&params, "executionTimeout").parse().unwrap();
    assert!(timeout > 1200, "covers edgex's health wait: {timeout}");

    let mut status = status_input(&masters, &workers, "addons");
    status["spec"] = value["spec"].clone();
    let out = "addon dns READY\naddon helm3 READY\naddon hostpath-storage READY\naddon edgex FAILED not healthy after 1200s: pods pending\n";
    let listed = verify_result(&masters[0], CommandInvocationStatus::Success, out);
    let full = verify_output(out);
    let aws = mocks::aws(&[], &[&listed, &full]);
    let progress = mec_join::handle(&aws, &Settings::default(), status)
        .await
        .unwrap();
    let value = serde_json::to_value(&progress).unwrap();
    assert_eq!(value["done"], true);
    assert_eq!(
        value["addons"][0],
        json!({"name": "dns", "status": "READY", "optional": false})
    );
    assert_eq!(value["addons"][3]["status"], "FAILED");
    assert_eq!(value["addons"][3]["optional"], true);
    assert!(value["addons"][3]["message"]
        .as_str()
        .unwrap()
        .contains("not healthy"));
}

#[tokio::test]
async fn no_addons_send_nothing_and_report_an_empty_list() {
    let masters = vec![node(Role::Master, 0)];
    let mut value = input("addons", &masters, &[]);
    value["spec"]["addons"] = json!([]);
    let aws = mocks::aws(&[], &[]);
    let out = mec_join::handle(&aws, &Settings::default(), value.clone())
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&out).unwrap()["commands"], json!([]));
    let sent = serde_json::to_value(&out).unwrap();
    assert!(
        sent["deadline"].is_string(),
        "nothing sent: the deadline is now"
    );
    let mut status = input("status", &masters, &[]);
    status["spec"] = value["spec"].clone();
    status["phase"] = json!("addons");
    status["deadline"] = sent["deadline"].clone();
    let progress = mec_join::handle(&aws, &Settings::default(), status)
        .await
        .unwrap();
    let progress = serde_json::to_value(&progress).unwrap();
    assert_eq!(progress["done"], true);
    assert_eq!(progress["addons"], json!([]));
}
