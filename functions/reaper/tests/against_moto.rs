//! The reaper against a real moto server: environments in every state it must tell apart, a dry
//! run that starts nothing, and a real pass that starts one teardown per environment to reap.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use aws_sdk_ec2::types::ResourceType;
use mec_reaper::{Clients, ReaperOutput};
use mec_shared::tags::{self, Role};
use mec_shared::Settings;
use mec_testkit::Moto;
use serde_json::json;

const ROLE: &str = "arn:aws:iam::123456789012:role/mec-state-machine";

async fn machine(sfn: &aws_sdk_sfn::Client, name: &str) -> String {
    sfn.create_state_machine()
        .name(name)
        .role_arn(ROLE)
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string()
}

async fn start(sfn: &aws_sdk_sfn::Client, machine: &str, name: &str) -> String {
    sfn.start_execution()
        .state_machine_arn(machine)
        .name(format!("{name}--c-1"))
        .input(json!({ "name": name }).to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_string()
}

async fn execution_names(sfn: &aws_sdk_sfn::Client, machine: &str) -> Vec<String> {
    sfn.list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .unwrap()
        .executions()
        .iter()
        .map(|e| e.name().to_string())
        .collect()
}

async fn vpc(clients: &Clients, environment: &str, extra: &[(&str, &str)]) {
    let mut tag_list =
        tags::resource_tags(environment, Role::Network, environment, &Default::default());
    tag_list.extend(extra.iter().map(|(k, v)| tags::tag(k, v)));
    clients
        .aws
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(tags::specification(ResourceType::Vpc, tag_list))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn reaps_what_nobody_works_on_and_keeps_the_rest() {
    let moto = Moto::start();
    let config = moto.sdk_config();
    let clients = Clients {
        aws: moto.aws(),
        sfn: aws_sdk_sfn::Client::new(&config),
    };
    let provision = machine(&clients.sfn, "mec-provision").await;
    let teardown = machine(&clients.sfn, "mec-teardown").await;
    let settings = Settings {
        provision_state_machine_arn: Some(provision.clone()),
        teardown_state_machine_arn: Some(teardown.clone()),
        ..Settings::default()
    };

    let aborted = start(&clients.sfn, &provision, "r-aborted").await;
    clients
        .sfn
        .stop_execution()
        .execution_arn(&aborted)
        .send()
        .await
        .unwrap();
    let running = start(&clients.sfn, &provision, "r-running").await;
    let gone = format!(
        "{}:r-unknown--c-1",
        provision.replace(":stateMachine:", ":execution:")
    );

    vpc(&clients, "r-aborted", &[(tags::EXECUTION, &aborted)]).await;
    vpc(&clients, "r-running", &[(tags::EXECUTION, &running)]).await;
    vpc(
        &clients,
        "r-expired",
        &[
            (tags::EXECUTION, &gone),
            (tags::EXPIRES_AT, "2026-01-01T00:00:00Z"),
        ],
    )
    .await;
    vpc(&clients, "r-unowned", &[]).await;
    vpc(&clients, "r-unknown", &[(tags::EXECUTION, &gone)]).await;
    vpc(
        &clients,
        "r-future",
        &[
            (tags::EXECUTION, &gone),
            (tags::EXPIRES_AT, "2099-01-01T00:00:00Z"),
        ],
    )
    .await;
    vpc(
        &clients,
        "r-deleting",
        &[(tags::EXECUTION, &gone), (tags::STATUS, "DELETING")],
    )
    .await;

    let reapable: BTreeSet<&str> = ["r-aborted", "r-deleting", "r-expired", "r-unowned"].into();
    let dry: ReaperOutput = mec_reaper::handle(&clients, &settings, json!({"dry_run": true}))
        .await
        .unwrap();
    assert_eq!(dry.examined, 7);
    let names: BTreeSet<&str> = dry.reaped.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, reapable);
    assert!(dry.reaped.iter().all(|r| r.execution_arn.is_none()));
    assert!(
        execution_names(&clients.sfn, &teardown).await.is_empty(),
        "a dry run starts nothing"
    );

    // A scheduled invocation passes no input at all.
    let out = mec_reaper::handle(&clients, &settings, serde_json::Value::Null)
        .await
        .unwrap();
    let reasons: Vec<(&str, &str)> = out
        .reaped
        .iter()
        .map(|r| (r.name.as_str(), r.reason.as_str()))
        .collect();
    assert!(
        reasons.contains(&(
            "r-aborted",
            "its provisioning run ended ABORTED without a complete rollback"
        )),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(n, r)| *n == "r-expired" && r.contains("TTL expired")),
        "{reasons:?}"
    );
    let started = execution_names(&clients.sfn, &teardown).await;
    assert_eq!(started.len(), 4, "{started:?}");
    for name in reapable {
        assert!(
            started
                .iter()
                .any(|e| e.starts_with(&format!("{name}--d-"))),
            "{name}: {started:?}"
        );
    }
}

#[tokio::test]
async fn refuses_bad_input_and_missing_settings() {
    let moto = Moto::start();
    let config = moto.sdk_config();
    let clients = Clients {
        aws: moto.aws(),
        sfn: aws_sdk_sfn::Client::new(&config),
    };
    let err = mec_reaper::handle(&clients, &Settings::default(), json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Configuration");
    assert!(
        err.to_string().contains("MEC_PROVISION_STATE_MACHINE_ARN"),
        "{err}"
    );
    let settings = Settings {
        provision_state_machine_arn: Some("p".into()),
        teardown_state_machine_arn: Some("t".into()),
        ..Settings::default()
    };
    let err = mec_reaper::handle(&clients, &settings, json!({"dry_run": "yes"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("dry_run"), "{err}");
}
