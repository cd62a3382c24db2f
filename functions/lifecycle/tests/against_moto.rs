//! The lifecycle step against a real moto server: tags on the VPC, the expiry schedule, retries,
//! and the teardown that takes the schedule with it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mec_lifecycle::LifecycleOutput;
use mec_shared::model::Network;
use mec_shared::{tags, Aws, Settings};
use mec_testkit::{spec, Moto};
use serde_json::{json, Value};

const EXECUTION: &str =
    "arn:aws:states:us-east-1:123456789012:execution:mec-provision:lab-ttl--c-1";
const TEARDOWN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:mec-teardown";

fn deployed() -> Settings {
    Settings {
        schedule_group: Some("mec".into()),
        scheduler_role_arn: Some("arn:aws:iam::123456789012:role/mec-scheduler".into()),
        teardown_state_machine_arn: Some(TEARDOWN.into()),
        ..Settings::default()
    }
}

async fn network(aws: &Aws, spec: &mec_shared::EnvironmentSpec) {
    let _: Network = mec_network::handle(aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
}

async fn vpc_tags(aws: &Aws, environment: &str) -> Vec<(String, String)> {
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(tags::environment_filter(environment))
        .send()
        .await
        .unwrap();
    vpcs.vpcs()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect()
}

fn input(spec: &mec_shared::EnvironmentSpec) -> Value {
    json!({"spec": spec, "execution_arn": EXECUTION, "started_at": "2026-11-28T18:00:00.500Z"})
}

#[tokio::test]
async fn a_ttl_tags_the_vpc_and_schedules_the_teardown_once() {
    let moto = Moto::start();
    let aws = moto.aws();
    aws.scheduler
        .create_schedule_group()
        .name("mec")
        .send()
        .await
        .unwrap();
    let mut spec = spec("lab-ttl", 0);
    spec.ttl_hours = Some(8);
    network(&aws, &spec).await;

    let out: LifecycleOutput = mec_lifecycle::handle(&aws, &deployed(), input(&spec))
        .await
        .unwrap();
    assert_eq!(out.expires_at.as_deref(), Some("2026-11-29T02:00:00Z"));
    assert_eq!(out.expiry_schedule.as_deref(), Some("lab-ttl-expiry"));
    // A retry of the step: same answer, still one schedule.
    let again = mec_lifecycle::handle(&aws, &deployed(), input(&spec))
        .await
        .unwrap();
    assert_eq!(again, out);

    let tags = vpc_tags(&aws, "lab-ttl").await;
    assert!(tags.contains(&("mec:execution".into(), EXECUTION.into())));
    assert!(tags.contains(&("mec:expires-at".into(), "2026-11-29T02:00:00Z".into())));
    let schedules = aws
        .scheduler
        .list_schedules()
        .group_name("mec")
        .send()
        .await
        .unwrap();
    assert_eq!(schedules.schedules().len(), 1);
    let schedule = aws
        .scheduler
        .get_schedule()
        .group_name("mec")
        .name("lab-ttl-expiry")
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-11-29T02:00:00)")
    );
    let target = schedule.target().unwrap();
    assert_eq!(
        target.arn(),
        "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
    );
    let start: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(start["StateMachineArn"], TEARDOWN);
    assert_eq!(start["Name"], "lab-ttl--d-<aws.scheduler.execution-id>");
    assert_eq!(start["Input"], r#"{"name":"lab-ttl"}"#);

    // Teardown deletes the schedule first, and says so.
    let out = mec_teardown::handle(&aws, &deployed(), json!({"name": "lab-ttl"}))
        .await
        .unwrap();
    assert!(
        out.removed.iter().any(|r| r.id == "mec/lab-ttl-expiry"),
        "{:?}",
        out.removed
    );
    let left = aws
        .scheduler
        .list_schedules()
        .group_name("mec")
        .send()
        .await
        .unwrap();
    assert!(left.schedules().is_empty());
}

#[tokio::test]
async fn without_a_ttl_only_the_run_is_recorded() {
    let moto = Moto::start();
    let aws = moto.aws();
    let spec = spec("lab-keep", 0);
    network(&aws, &spec).await;
    // No scheduler settings needed: nothing is scheduled.
    let out = mec_lifecycle::handle(&aws, &Settings::default(), input(&spec))
        .await
        .unwrap();
    assert_eq!(out.expires_at, None);
    assert_eq!(out.expiry_schedule, None);
    let tags = vpc_tags(&aws, "lab-keep").await;
    assert!(tags.iter().any(|(k, _)| k == "mec:execution"));
    assert!(!tags.iter().any(|(k, _)| k == "mec:expires-at"));
}

#[tokio::test]
async fn bad_input_and_missing_settings_are_named() {
    let moto = Moto::start();
    let aws = moto.aws();
    let mut spec = spec("lab-bad", 0);
    spec.ttl_hours = Some(1);
    network(&aws, &spec).await;

    let err = mec_lifecycle::handle(&aws, &Settings::default(), input(&spec))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Configuration");
    assert!(err.to_string().contains("MEC_SCHEDULE_GROUP"), "{err}");

    let mut bad = input(&spec);
    bad["started_at"] = json!("soon");
    let err = mec_lifecycle::handle(&aws, &deployed(), bad)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("started_at"), "{err}");

    let mut bad = input(&spec);
    bad["spec"]["ttl_hours"] = json!(0);
    let err = mec_lifecycle::handle(&aws, &deployed(), bad)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidSpec");

    let err = mec_lifecycle::handle(&aws, &deployed(), json!({"spec": spec}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");

    // Before the network exists there is nothing to tag: a final error, nothing scheduled.
    let mut early = spec.clone();
    early.name = "lab-early".into();
    let err = mec_lifecycle::handle(&aws, &deployed(), input(&early))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no VPC"), "{err}");
}
