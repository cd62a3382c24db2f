//! Capacity fallback with SDK mocks: moto never runs out of capacity, so EC2's capacity errors
//! (raw HTTP answers, parsed by the SDK's real error handling) come from aws-smithy-mocks here.
//! Spot → on demand in the same zone; no capacity at all → the next zone; nothing left →
//! CapacityUnavailable; any other error stops at once.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ec2::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ec2::operation::describe_instance_types::DescribeInstanceTypesOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::run_instances::{RunInstancesInput, RunInstancesOutput};
use aws_sdk_ec2::types::{
    ArchitectureType, Image, Instance, InstanceTypeInfo, MarketType, Placement, ProcessorInfo,
};
use aws_smithy_mocks::{mock, Rule};
use mec_shared::launch::LaunchOutput;
use mec_shared::model::Market;
use mec_shared::{MecError, Settings};
use mec_testkit::mocks;
use serde_json::json;

const ZONES: [(&str, &str); 3] = [
    ("subnet-a", "us-east-1a"),
    ("subnet-b", "us-east-1b"),
    ("subnet-c", "us-east-1c"),
];

fn settings() -> Settings {
    Settings {
        node_instance_profile: Some("mec-node".into()),
        ami_override: Some("ami-1".into()),
        ..Settings::default()
    }
}

fn input(spot: bool, workers: u32) -> serde_json::Value {
    let subnets: Vec<_> = ZONES
        .iter()
        .map(|(id, az)| json!({"subnet_id": id, "availability_zone": az}))
        .collect();
    json!({
        "spec": {"name": "mock-env", "workers": workers, "spot": spot},
        "run_id": "run-1",
        "network": {"vpc_id": "vpc-1", "subnet_id": "subnet-a", "availability_zone": "us-east-1a",
            "internet_gateway_id": "igw-1", "route_table_id": "rtb-1",
            "security_group_id": "sg-1", "subnets": subnets}
    })
}

fn market(r: &RunInstancesInput) -> Market {
    match r.instance_market_options().and_then(|o| o.market_type()) {
        Some(MarketType::Spot) => Market::Spot,
        _ => Market::OnDemand,
    }
}

/// RunInstances in `subnet` and `market` fails with `code` (status 500 for capacity, as EC2
/// answers server errors, else 400), every time.
fn refuse(subnet: &'static str, wanted: Market, code: &'static str) -> Rule {
    let status = if code.starts_with("Insufficient") {
        500
    } else {
        400
    };
    mock!(aws_sdk_ec2::Client::run_instances)
        .match_requests(move |r| r.subnet_id() == Some(subnet) && market(r) == wanted)
        .sequence()
        .http_response(move || mocks::ec2_error(status, code))
        .repeatedly()
        .build()
}

/// RunInstances in `subnet` and `market` launches `count` instances in that subnet's zone.
fn launch(subnet: &'static str, wanted: Market, count: usize) -> Rule {
    let zone = ZONES.iter().find(|(s, _)| *s == subnet).unwrap().1;
    mock!(aws_sdk_ec2::Client::run_instances)
        .match_requests(move |r| r.subnet_id() == Some(subnet) && market(r) == wanted)
        .sequence()
        .output(move || {
            RunInstancesOutput::builder()
                .set_instances(Some(
                    (0..count)
                        .map(|i| {
                            Instance::builder()
                                .instance_id(format!("i-{:017x}", 0x100 + i))
                                .ami_launch_index(i as i32)
                                .placement(Placement::builder().availability_zone(zone).build())
                                .tags(mec_shared::tags::tag(
                                    mec_shared::tags::MARKET,
                                    wanted.as_str(),
                                ))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        })
        .repeatedly()
        .build()
}

/// Everything around RunInstances: no instances yet, an arm64 type, the AMI, tagging.
fn around() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_ec2::Client::describe_instances)
            .sequence()
            .output(|| DescribeInstancesOutput::builder().build())
            .repeatedly()
            .build(),
        mock!(aws_sdk_ec2::Client::describe_instance_types)
            .sequence()
            .output(|| {
                DescribeInstanceTypesOutput::builder()
                    .instance_types(
                        InstanceTypeInfo::builder()
                            .processor_info(
                                ProcessorInfo::builder()
                                    .supported_architectures(ArchitectureType::Arm64)
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            })
            .repeatedly()
            .build(),
        mock!(aws_sdk_ec2::Client::describe_images)
            .sequence()
            .output(|| {
                DescribeImagesOutput::builder()
                    .images(
                        Image::builder()
                            .image_id("ami-1")
                            .root_device_name("/dev/sda1")
                            .build(),
                    )
                    .build()
            })
            .repeatedly()
            .build(),
        mock!(aws_sdk_ec2::Client::create_tags)
            .sequence()
            .output(|| aws_sdk_ec2::operation::create_tags::CreateTagsOutput::builder().build())
            .repeatedly()
            .build(),
    ]
}

async fn run(spot: bool, workers: u32, rules: &[&Rule]) -> Result<LaunchOutput, MecError> {
    let base = around();
    let mut all: Vec<&Rule> = base.iter().collect();
    all.extend_from_slice(rules);
    let aws = mocks::aws(&all, &[]);
    mec_workers::handle(&aws, &settings(), input(spot, workers)).await
}

#[tokio::test]
async fn spot_without_capacity_falls_back_to_on_demand_in_the_same_zone() {
    for code in [
        "InsufficientInstanceCapacity",
        "MaxSpotInstanceCountExceeded",
        "SpotMaxPriceTooLow",
    ] {
        let no_spot = refuse("subnet-a", Market::Spot, code);
        let on_demand = launch("subnet-a", Market::OnDemand, 2);
        let out = run(true, 2, &[&no_spot, &on_demand]).await.unwrap();
        assert!(no_spot.num_calls() >= 1, "{code}");
        assert_eq!(on_demand.num_calls(), 1, "{code}");
        assert_eq!(out.nodes.len(), 2);
        for node in &out.nodes {
            assert_eq!(node.market, Some(Market::OnDemand), "{code}");
            assert_eq!(node.availability_zone.as_deref(), Some("us-east-1a"));
        }
    }
}

#[tokio::test]
async fn spot_with_capacity_stays_spot() {
    let spot = launch("subnet-a", Market::Spot, 2);
    let on_demand = launch("subnet-a", Market::OnDemand, 2);
    let out = run(true, 2, &[&spot, &on_demand]).await.unwrap();
    assert_eq!((spot.num_calls(), on_demand.num_calls()), (1, 0));
    assert!(out.nodes.iter().all(|n| n.market == Some(Market::Spot)));
}

#[tokio::test]
async fn a_zone_without_capacity_is_left_for_the_next() {
    let spot_a = refuse("subnet-a", Market::Spot, "InsufficientInstanceCapacity");
    let od_a = refuse("subnet-a", Market::OnDemand, "InsufficientInstanceCapacity");
    let spot_b = launch("subnet-b", Market::Spot, 1);
    let out = run(true, 1, &[&spot_a, &od_a, &spot_b]).await.unwrap();
    assert!(od_a.num_calls() >= 1);
    assert_eq!(
        spot_b.num_calls(),
        1,
        "spot is tried first in the next zone too"
    );
    assert_eq!(out.nodes[0].market, Some(Market::Spot));
    assert_eq!(
        out.nodes[0].availability_zone.as_deref(),
        Some("us-east-1b")
    );

    // On-demand workers skip straight to the next zone.
    let od_a = refuse("subnet-a", Market::OnDemand, "InsufficientInstanceCapacity");
    let od_b = refuse("subnet-b", Market::OnDemand, "InsufficientInstanceCapacity");
    let od_c = launch("subnet-c", Market::OnDemand, 1);
    let out = run(false, 1, &[&od_a, &od_b, &od_c]).await.unwrap();
    assert_eq!(
        out.nodes[0].availability_zone.as_deref(),
        Some("us-east-1c")
    );
    assert_eq!(out.nodes[0].market, Some(Market::OnDemand));
}

#[tokio::test]
async fn no_capacity_anywhere_is_capacity_unavailable_and_retryable() {
    let rules: Vec<Rule> = ZONES
        .iter()
        .flat_map(|(subnet, _)| {
            [Market::Spot, Market::OnDemand]
                .map(|m| refuse(subnet, m, "InsufficientInstanceCapacity"))
        })
        .collect();
    let refs: Vec<&Rule> = rules.iter().collect();
    let err = run(true, 2, &refs).await.unwrap_err();
    assert_eq!(err.error_type(), "CapacityUnavailable", "{err}");
    assert!(err.is_retryable());
    let text = err.to_string();
    for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        assert!(text.contains(&format!("spot in {zone}")), "{text}");
        assert!(text.contains(&format!("on-demand in {zone}")), "{text}");
    }
}

/// A spot launch the account may not make (the launch policy lacks the spot-instances-request
/// resource, or EC2 Spot's service-linked role is missing and may not be created) is bought on
/// demand instead: spot is a saving, never a reason to fail (issue #8, defect 5).
#[tokio::test]
async fn spot_without_permission_falls_back_to_on_demand() {
    for code in [
        "UnauthorizedOperation",
        "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
    ] {
        let denied = refuse("subnet-a", Market::Spot, code);
        let on_demand = launch("subnet-a", Market::OnDemand, 1);
        let out = run(true, 1, &[&denied, &on_demand]).await.unwrap();
        assert_eq!(on_demand.num_calls(), 1, "{code}");
        assert_eq!(out.nodes[0].market, Some(Market::OnDemand), "{code}");
    }
}

#[tokio::test]
async fn other_errors_do_not_fall_back() {
    let bad = refuse("subnet-a", Market::Spot, "InvalidParameterValue");
    let on_demand = launch("subnet-a", Market::OnDemand, 1);
    let err = run(true, 1, &[&bad, &on_demand]).await.unwrap_err();
    assert_eq!(err.error_type(), "AwsError", "{err}");
    assert_eq!(on_demand.num_calls(), 0);

    // An on-demand limit is no capacity problem: no other zone is tried.
    let limit = refuse("subnet-a", Market::OnDemand, "InstanceLimitExceeded");
    let next = launch("subnet-b", Market::OnDemand, 1);
    let err = run(false, 1, &[&limit, &next]).await.unwrap_err();
    assert!(err.to_string().contains("InstanceLimitExceeded"), "{err}");
    assert_eq!(next.num_calls(), 0);
}
