//! Teardown against a real moto server: whole, half-created and never-created environments.
//! "Nothing left" is checked by listing every resource type, not by trusting deletes.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ec2::types::ResourceType;
use aws_sdk_ssm::types::ParameterType;
use mec_shared::inventory::{self, ResourceKind};
use mec_shared::model::Network;
use mec_shared::tags::{self, Role};
use mec_shared::{Aws, Settings};
use mec_teardown::TeardownOutput;
use mec_testkit::{launch_input, settings, spec, Moto, INSTANCE_PROFILE};
use serde_json::json;

async fn teardown_until_complete(aws: &Aws, name: &str) -> Vec<inventory::Resource> {
    let mut removed = Vec::new();
    for _ in 0..5 {
        let out: TeardownOutput =
            mec_teardown::handle(aws, &Settings::default(), json!({"name": name}))
                .await
                .unwrap();
        removed.extend(out.removed);
        if out.complete {
            assert!(out.remaining.is_empty());
            return removed;
        }
    }
    panic!("teardown of {name} did not complete in 5 passes");
}

async fn create_environment(moto: &Moto, aws: &Aws, name: &str, workers: u32) {
    let settings = settings(aws).await;
    let spec = spec(name, workers);
    let network: Network = mec_network::handle(aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    let input = launch_input(&spec, "r", &network);
    mec_master::handle(aws, &settings, input.clone())
        .await
        .unwrap();
    mec_workers::handle(aws, &settings, input).await.unwrap();
    aws.ssm
        .put_parameter()
        .name(mec_shared::naming::kubeconfig_parameter(name))
        .value("apiVersion: v1")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let _ = moto;
}

#[tokio::test]
async fn removes_a_whole_environment_and_nothing_else() {
    let moto = Moto::start();
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    create_environment(&moto, &aws, "tear-whole", 2).await;
    create_environment(&moto, &aws, "tear-other", 1).await;
    let before = inventory::list(&aws, "tear-whole").await.unwrap();
    let other_before = inventory::list(&aws, "tear-other").await.unwrap();
    assert_eq!(
        before
            .iter()
            .filter(|r| r.kind == ResourceKind::Instance)
            .count(),
        3
    );

    let removed = teardown_until_complete(&aws, "tear-whole").await;
    assert!(
        inventory::list(&aws, "tear-whole")
            .await
            .unwrap()
            .is_empty(),
        "nothing tagged is left"
    );
    for kind in [
        ResourceKind::Instance,
        ResourceKind::SecurityGroup,
        ResourceKind::RouteTable,
        ResourceKind::InternetGateway,
        ResourceKind::Subnet,
        ResourceKind::Vpc,
        ResourceKind::Parameter,
    ] {
        assert!(
            removed.iter().any(|r| r.kind == kind),
            "{kind:?} reported removed: {removed:?}"
        );
    }
    assert_eq!(
        inventory::list(&aws, "tear-other").await.unwrap(),
        other_before,
        "the other environment is untouched"
    );

    // Already gone: a second teardown is complete at once and removes nothing.
    let again: TeardownOutput =
        mec_teardown::handle(&aws, &Settings::default(), json!({"name": "tear-whole"}))
            .await
            .unwrap();
    assert!(again.complete);
    assert!(again.removed.is_empty());
}

#[tokio::test]
async fn removes_a_half_created_environment() {
    let moto = Moto::start();
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    // A network step that died after the VPC and an internet gateway, attached.
    let tags_of = |suffix: &str| {
        tags::resource_tags(
            "tear-half",
            Role::Network,
            &format!("tear-half-{suffix}"),
            &Default::default(),
        )
    };
    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(tags::specification(ResourceType::Vpc, tags_of("vpc")))
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap();
    let igw = aws
        .ec2
        .create_internet_gateway()
        .tag_specifications(tags::specification(
            ResourceType::InternetGateway,
            tags_of("igw"),
        ))
        .send()
        .await
        .unwrap();
    let igw_id = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap();
    aws.ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw_id)
        .vpc_id(vpc_id)
        .send()
        .await
        .unwrap();
    // ...and a join that died after storing its token.
    aws.ssm
        .put_parameter()
        .name(mec_shared::naming::join_token_parameter("tear-half"))
        .value("x".repeat(32))
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let removed = teardown_until_complete(&aws, "tear-half").await;
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(inventory::list(&aws, "tear-half").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_environment_that_never_existed_is_already_torn_down() {
    let moto = Moto::start();
    let aws = moto.aws();
    let out: TeardownOutput =
        mec_teardown::handle(&aws, &Settings::default(), json!({"name": "never-was"}))
            .await
            .unwrap();
    assert!(out.complete);
    assert!(out.removed.is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_before_any_aws_call() {
    let dead = mec_testkit::unreachable_aws();
    for input in [
        json!({}),
        json!({"name": "X"}),
        json!({"name": "ok-name", "force": true}),
        json!([1]),
    ] {
        let err = mec_teardown::handle(&dead, &Settings::default(), input.clone())
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{input}: {err}");
    }
}
