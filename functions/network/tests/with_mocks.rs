//! What no emulator can refuse: a caller that may not opt in to an edge zone's group. SDK mocks
//! answer DescribeAvailabilityZones with a zone not opted in and ModifyAvailabilityZoneGroup with
//! UnauthorizedOperation; the step then fails with an error that says how to opt in, before
//! anything is created (no rule answers CreateVpc: a call to it would fail the test).

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_ec2::operation::describe_availability_zones::DescribeAvailabilityZonesOutput;
use aws_sdk_ec2::types::{AvailabilityZone, AvailabilityZoneOptInStatus};
use aws_smithy_mocks::mock;
use mec_testkit::mocks;
use serde_json::json;

#[tokio::test]
async fn a_caller_that_may_not_opt_in_is_told_how_and_nothing_is_created() {
    let zone = mock!(aws_sdk_ec2::Client::describe_availability_zones).then_output(|| {
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
    });
    let refused = mock!(aws_sdk_ec2::Client::modify_availability_zone_group)
        .then_http_response(|| mocks::ec2_error(403, "UnauthorizedOperation"));
    let aws = mocks::aws(&[&zone, &refused], &[]);
    let event = json!({"spec": {"name": "lab-edge", "edge": {"zone": "us-east-1-wl1-bos-wlz-1", "workers": 1}},
                       "run_id": "run-1"});
    let err = mec_network::handle(&aws, event).await.unwrap_err();
    assert_eq!(err.error_type(), "Configuration", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("us-east-1-wl1") && text.contains("modify-availability-zone-group"),
        "{text}"
    );
    assert_eq!(refused.num_calls(), 1);
}
