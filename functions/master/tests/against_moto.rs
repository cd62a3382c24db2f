//! The master step against a real moto server: what it launches, and that a retry launches nothing.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ec2::types::{HttpTokensState, Instance};
use mec_shared::launch::LaunchOutput;
use mec_shared::model::Network;
use mec_shared::tags::{self, Role};
use mec_testkit::{launch_input, settings, spec, Moto, INSTANCE_PROFILE};
use serde_json::json;

async fn describe(aws: &mec_shared::Aws, id: &str) -> Instance {
    let out = aws
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    out.reservations()[0].instances()[0].clone()
}

#[tokio::test]
async fn launches_a_hardened_master_once() {
    let moto = Moto::start();
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    let settings = settings(&aws).await;
    let spec = spec("master-once", 2);
    let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "run-1"}))
        .await
        .unwrap();
    let input = launch_input(&spec, "run-1", &network);

    let first: LaunchOutput = mec_master::handle(&aws, &settings, input.clone())
        .await
        .unwrap();
    let again: LaunchOutput = mec_master::handle(&aws, &settings, input).await.unwrap();
    assert_eq!(first.nodes.len(), 1);
    assert_eq!(
        first.nodes[0].instance_id, again.nodes[0].instance_id,
        "a retry must not launch again"
    );
    let live = mec_shared::launch::find_instances(&aws, "master-once", None)
        .await
        .unwrap();
    assert_eq!(live.len(), 1);

    let node = &first.nodes[0];
    assert_eq!(node.name, "master-once-master-0");
    assert_eq!(node.role, Role::Master);
    assert!(node.private_ip.is_some());

    let instance = describe(&aws, &node.instance_id).await;
    assert_eq!(instance.subnet_id(), Some(network.subnet_id.as_str()));
    assert!(instance
        .security_groups()
        .iter()
        .any(|g| g.group_id() == Some(network.security_group_id.as_str())));
    assert_eq!(
        instance.instance_type().map(|t| t.as_str()),
        Some("t4g.medium")
    );
    let metadata = instance.metadata_options().unwrap();
    assert_eq!(
        metadata.http_tokens(),
        Some(&HttpTokensState::Required),
        "IMDSv2 only"
    );
    // The snap download starts at boot: the user data is the prefetch script for the spec's channel.
    let user_data = aws
        .ec2
        .describe_instance_attribute()
        .instance_id(&node.instance_id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    assert_eq!(
        user_data.user_data().and_then(|v| v.value()),
        Some(mec_shared::user_data::prefetch(&spec.microk8s_channel).as_str())
    );
    assert!(instance
        .iam_instance_profile()
        .and_then(|p| p.arn())
        .unwrap()
        .ends_with("/mec-node"));
    let tags = instance.tags();
    assert_eq!(tags::value_of(tags, tags::ENVIRONMENT), Some("master-once"));
    assert_eq!(tags::value_of(tags, tags::ROLE), Some("master"));
    assert_eq!(tags::value_of(tags, tags::INDEX), Some("0"));
    assert_eq!(
        tags::value_of(tags, tags::NAME),
        Some("master-once-master-0")
    );
    assert_eq!(tags::value_of(tags, "team"), Some("edge"));

    let volumes = aws
        .ec2
        .describe_volumes()
        .filters(tags::environment_filter("master-once"))
        .send()
        .await
        .unwrap();
    assert_eq!(volumes.volumes().len(), 1);
    let volume = &volumes.volumes()[0];
    assert_eq!(volume.encrypted(), Some(true));
    assert_eq!(volume.size(), Some(30));
    assert_eq!(volume.volume_type().map(|t| t.as_str()), Some("gp3"));
}

#[tokio::test]
async fn three_masters_for_ha() {
    let moto = Moto::start();
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    let settings = settings(&aws).await;
    let mut spec = spec("master-ha", 0);
    spec.masters = 3;
    let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    let out: LaunchOutput = mec_master::handle(&aws, &settings, launch_input(&spec, "r", &network))
        .await
        .unwrap();
    let names: Vec<_> = out.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "master-ha-master-0",
            "master-ha-master-1",
            "master-ha-master-2"
        ]
    );
    // One zone per master: the quorum survives a zone.
    let zones: Vec<_> = out
        .nodes
        .iter()
        .map(|n| n.availability_zone.clone().unwrap())
        .collect();
    let expected: Vec<_> = network
        .subnets
        .iter()
        .map(|s| s.availability_zone.clone())
        .collect();
    assert_eq!(zones, expected);
    for node in &out.nodes {
        let instance = describe(&aws, &node.instance_id).await;
        let subnet = network
            .subnets
            .iter()
            .find(|s| Some(s.availability_zone.as_str()) == node.availability_zone.as_deref())
            .unwrap();
        assert_eq!(instance.subnet_id(), Some(subnet.subnet_id.as_str()));
    }
    let again: LaunchOutput =
        mec_master::handle(&aws, &settings, launch_input(&spec, "r", &network))
            .await
            .unwrap();
    assert_eq!(out, again, "a retry launches nothing");
}

#[tokio::test]
async fn an_unknown_instance_type_is_an_invalid_spec() {
    let moto = Moto::start();
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    let settings = settings(&aws).await;
    let spec = spec("master-type", 0);
    let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    let mut input = launch_input(&spec, "r", &network);
    input["spec"]["instance_type"] = json!("zz9.huge");
    let err = mec_master::handle(&aws, &settings, input)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidSpec", "{err}");
    assert!(err.to_string().contains("instance_type"), "{err}");
    assert!(
        mec_shared::launch::find_instances(&aws, "master-type", None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn missing_instance_profile_setting_is_a_configuration_error() {
    let moto = Moto::start();
    let aws = moto.aws();
    let mut settings = settings(&aws).await;
    settings.node_instance_profile = None;
    let spec = spec("master-conf", 0);
    let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    let err = mec_master::handle(&aws, &settings, launch_input(&spec, "r", &network))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Configuration");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_aws_call() {
    let dead = mec_testkit::unreachable_aws();
    let settings = mec_shared::Settings::default();
    let network = json!({"vpc_id": "vpc-1", "subnet_id": "subnet-1", "availability_zone": "us-east-1a",
        "internet_gateway_id": "igw-1", "route_table_id": "rtb-1", "security_group_id": "sg-1"});
    let cases = [
        (
            json!({"spec": {"name": "ok-name"}, "run_id": "r"}),
            "network",
        ),
        (
            json!({"spec": {"name": "ok-name", "masters": 2}, "run_id": "r", "network": network}),
            "masters",
        ),
        (
            json!({"spec": {"name": "ok-name"}, "run_id": "r", "network": {"vpc_id": "vpc-1"}}),
            "network.subnet_id",
        ),
    ];
    for (input, field) in cases {
        let err = mec_master::handle(&dead, &settings, input.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(err.error_type(), "InvalidInput" | "InvalidSpec"),
            "{input}: {err}"
        );
        assert!(err.to_string().contains(field), "{input}: {err}");
    }
}

/// Masters and workers of different architectures each get their own architecture's AMI, from
/// the parameter of that architecture.
#[tokio::test]
async fn each_role_gets_the_ami_of_its_instance_types_architecture() {
    let moto = Moto::start();
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    let images = aws.ec2.describe_images().send().await.unwrap();
    let ids: Vec<String> = images
        .images()
        .iter()
        .filter(|i| i.root_device_name() == Some("/dev/sda1"))
        .filter_map(|i| i.image_id().map(str::to_string))
        .take(2)
        .collect();
    let (x86_ami, arm_ami) = (ids[0].clone(), ids[1].clone());
    for (name, value) in [("/test/ami/amd64", &x86_ami), ("/test/ami/arm64", &arm_ami)] {
        aws.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }
    let settings = mec_shared::Settings {
        node_instance_profile: Some(INSTANCE_PROFILE.into()),
        ami_override: None,
        ami_parameter_arm64: "/test/ami/arm64".into(),
        ami_parameter_x86_64: "/test/ami/amd64".into(),
        ..mec_shared::Settings::default()
    };
    for (env, master_type, worker_type) in [
        ("arch-mixed", "t3.medium", "t4g.medium"),
        ("arch-flip", "m7g.large", "c5.large"),
    ] {
        let mut spec = spec(env, 2);
        spec.instance_type = master_type.into();
        spec.worker_instance_type = worker_type.into();
        spec.addons = vec![];
        let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
            .await
            .unwrap();
        let input = launch_input(&spec, "r", &network);
        let masters: LaunchOutput = mec_master::handle(&aws, &settings, input.clone())
            .await
            .unwrap();
        let workers =
            mec_shared::launch::handle_launch(&aws, &settings, Role::Worker, input.clone())
                .await
                .unwrap();
        let expected = |t: &str| {
            if t.contains("g.") {
                arm_ami.clone()
            } else {
                x86_ami.clone()
            }
        };
        for (nodes, instance_type) in [(&masters.nodes, master_type), (&workers.nodes, worker_type)]
        {
            assert!(!nodes.is_empty());
            for node in nodes {
                let instance = describe(&aws, &node.instance_id).await;
                assert_eq!(
                    instance.instance_type().map(|t| t.as_str()),
                    Some(instance_type)
                );
                assert_eq!(
                    instance.image_id(),
                    Some(expected(instance_type).as_str()),
                    "{env}: {} ({instance_type})",
                    node.name
                );
            }
        }
    }
}

/// Spot workers in the emulator (which always has capacity) stay spot, and say so.
#[tokio::test]
async fn spot_workers_are_recorded_as_spot_and_masters_as_on_demand() {
    let moto = Moto::start();
    moto.create_instance_profile(INSTANCE_PROFILE);
    let aws = moto.aws();
    let settings = settings(&aws).await;
    let mut spec = spec("spot-rec", 2);
    spec.spot = true;
    let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    let input = launch_input(&spec, "r", &network);
    let masters: LaunchOutput = mec_master::handle(&aws, &settings, input.clone())
        .await
        .unwrap();
    let workers = mec_shared::launch::handle_launch(&aws, &settings, Role::Worker, input.clone())
        .await
        .unwrap();
    let again = mec_shared::launch::handle_launch(&aws, &settings, Role::Worker, input)
        .await
        .unwrap();
    assert_eq!(workers, again, "a retry finds the same workers");
    use mec_shared::model::Market;
    assert_eq!(masters.nodes[0].market, Some(Market::OnDemand));
    for node in &workers.nodes {
        assert_eq!(node.market, Some(Market::Spot));
        assert_eq!(
            node.availability_zone.as_deref(),
            Some(network.availability_zone.as_str())
        );
        let instance = describe(&aws, &node.instance_id).await;
        assert_eq!(tags::value_of(instance.tags(), tags::MARKET), Some("spot"));
        assert_eq!(instance.subnet_id(), Some(network.subnet_id.as_str()));
    }
}
