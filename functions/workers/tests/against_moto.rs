//! The workers step against a real moto server: batches, indexes, retries, a died launch.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ec2::types::ResourceType;
use mec_shared::launch::{find_instances, LaunchOutput};
use mec_shared::model::Network;
use mec_shared::tags::{self, Role};
use mec_testkit::{launch_input, settings, spec, Moto, INSTANCE_PROFILE};
use serde_json::json;

async fn setup(
    moto: &Moto,
    name: &str,
    workers: u32,
) -> (
    mec_shared::Aws,
    mec_shared::Settings,
    mec_shared::EnvironmentSpec,
    Network,
) {
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    let settings = settings(&aws).await;
    let spec = spec(name, workers);
    let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    (aws, settings, spec, network)
}

#[tokio::test]
async fn launches_every_worker_in_batches_exactly_once() {
    let moto = Moto::start();
    let (aws, mut settings, spec, network) = setup(&moto, "workers-batch", 5).await;
    settings.launch_batch_size = 2; // 5 workers = batches of 2, 2 and 1
    let input = launch_input(&spec, "r", &network);

    let first: LaunchOutput = mec_workers::handle(&aws, &settings, input.clone())
        .await
        .unwrap();
    let names: Vec<_> = first.nodes.iter().map(|n| n.name.clone()).collect();
    assert_eq!(
        names,
        (0..5)
            .map(|i| format!("workers-batch-worker-{i}"))
            .collect::<Vec<_>>()
    );
    assert!(first.nodes.iter().all(|n| n.role == Role::Worker));

    let again: LaunchOutput = mec_workers::handle(&aws, &settings, input).await.unwrap();
    assert_eq!(first, again, "a retry finds the same workers");
    assert_eq!(
        find_instances(&aws, "workers-batch", Some(Role::Worker))
            .await
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn zero_workers_launch_nothing() {
    let moto = Moto::start();
    let (aws, settings, spec, network) = setup(&moto, "workers-zero", 0).await;
    let out: LaunchOutput =
        mec_workers::handle(&aws, &settings, launch_input(&spec, "r", &network))
            .await
            .unwrap();
    assert!(out.nodes.is_empty());
    assert!(find_instances(&aws, "workers-zero", None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn instances_of_a_launch_that_died_before_tagging_are_adopted() {
    let moto = Moto::start();
    let (aws, settings, spec, network) = setup(&moto, "workers-died", 3).await;
    // An earlier attempt launched two workers and died before giving them their index tags.
    let image = settings.ami_override.clone().unwrap();
    aws.ec2
        .run_instances()
        .image_id(image)
        .min_count(2)
        .max_count(2)
        .subnet_id(&network.subnet_id)
        .tag_specifications(tags::specification(
            ResourceType::Instance,
            tags::resource_tags(
                "workers-died",
                Role::Worker,
                "workers-died-worker",
                &spec.tags,
            ),
        ))
        .send()
        .await
        .unwrap();

    let out: LaunchOutput =
        mec_workers::handle(&aws, &settings, launch_input(&spec, "r", &network))
            .await
            .unwrap();
    let indexes: Vec<u32> = out.nodes.iter().map(|n| n.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
    let live = find_instances(&aws, "workers-died", Some(Role::Worker))
        .await
        .unwrap();
    assert_eq!(live.len(), 3, "only the missing third worker is launched");
    assert!(live.iter().all(|i| i.index < 3));
}

#[tokio::test]
async fn spot_workers_ask_for_spot() {
    let moto = Moto::start();
    let (aws, settings, mut spec, network) = setup(&moto, "workers-spot", 1).await;
    spec.spot = true;
    let out: LaunchOutput =
        mec_workers::handle(&aws, &settings, launch_input(&spec, "r", &network))
            .await
            .unwrap();
    let described = aws
        .ec2
        .describe_instances()
        .instance_ids(&out.nodes[0].instance_id)
        .send()
        .await
        .unwrap();
    let instance = &described.reservations()[0].instances()[0];
    assert_eq!(
        instance.instance_lifecycle().map(|l| l.as_str()),
        Some("spot")
    );
}
