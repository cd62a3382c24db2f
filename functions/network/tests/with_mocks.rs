//! What no emulator does: a caller that may not opt in to an edge zone's group, and an opt-in
//! that has not taken effect yet. SDK mocks answer DescribeAvailabilityZones with a zone not opted
//! in; the step fails before anything is created (no rule answers CreateVpc: a call to it would
//! fail the test), with an error that says how to opt in, or a retryable one.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
use aws_sdk_ec2::operation::describe_instance_type_offerings::DescribeInstanceTypeOfferingsOutput;
use aws_sdk_ec2::operation::modify_availability_zone_group::ModifyAvailabilityZoneGroupOutput;
use aws_sdk_ec2::types::{AvailabilityZone, AvailabilityZoneOptInStatus};
use aws_smithy_mocks::mock;
use mec_testkit::mocks;
use serde_json::json;

fn not_opted_in() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ec2::Client::describe_availability_zones).then_output(|| {
        DescribeAvailabilityZonesOutput::builder()
            .availability_zones(
                AvailabilityZone::builder()
                    .zone_name("us-east-1-wl1-bos-wlz-1")
                    .zone_type("wavelength-zone")
                    .group_name("us-east-1-wl1")
                    .opt_in_status(AvailabilityZoneOptInStatus::NotOptedIn)
                    .build(),
            )
            .build()
    })
}

fn event() -> serde_json::Value {
    json!({"spec": {"name": "lab-edge", "edge": {"zone": "us-east-1-wl1-bos-wlz-1", "workers": 1}},
           "run_id": "run-1"})
}

#[tokio::test]
async fn a_caller_that_may_not_opt_in_is_told_how_and_nothing_is_created() {
    let zone = not_opted_in();
    let refused = mock!(aws_sdk_ec2::Client::modify_availability_zone_group)
        .then_http_response(|| mocks::ec2_error(403, "UnauthorizedOperation"));
    let aws = mocks::aws(&[&zone, &refused], &[]);
    let err = mec_network::handle(&aws, event()).await.unwrap_err();
    assert_eq!(err.error_type(), "Configuration", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("us-east-1-wl1") && text.contains("modify-availability-zone-group"),
        "{text}"
    );
    assert_eq!(refused.num_calls(), 1);
}

#[tokio::test]
async fn an_opt_in_not_yet_in_effect_is_a_retryable_error_and_nothing_is_created() {
    let zone = not_opted_in();
    let opted = mock!(aws_sdk_ec2::Client::modify_availability_zone_group).then_output(|| {
        ModifyAvailabilityZoneGroupOutput::builder()
            .r#return(true)
            .build()
    });
    // Until the opt-in takes effect the zone offers no instance type.
    let nothing_yet = mock!(aws_sdk_ec2::Client::describe_instance_type_offerings)
        .then_output(|| DescribeInstanceTypeOfferingsOutput::builder().build());
    let aws = mocks::aws(&[&zone, &opted, &nothing_yet], &[]);
    let err = mec_network::handle(&aws, event()).await.unwrap_err();
    assert_eq!(err.error_type(), "AwsUnavailable", "{err}");
    assert!(err.is_retryable());
    assert!(nothing_yet.num_calls() > 1, "looked again before giving up");
}
