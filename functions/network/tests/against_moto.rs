//! The network step against a real moto server over HTTP.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mec_shared::inventory::{self, ResourceKind};
use mec_shared::model::Network;
use mec_testkit::{spec, Moto};
use serde_json::json;

fn count(found: &[inventory::Resource], kind: ResourceKind) -> usize {
    found.iter().filter(|r| r.kind == kind).count()
}

#[tokio::test]
async fn builds_the_network_once_however_often_it_runs() {
    let moto = Moto::start();
    let aws = moto.aws();
    let spec = spec("net-once", 2);
    let input = json!({"spec": spec, "run_id": "run-1"});

    let first: Network = mec_network::handle(&aws, input.clone()).await.unwrap();
    let second: Network = mec_network::handle(&aws, input).await.unwrap();
    assert_eq!(first, second, "a second run must find, not create");

    let found = inventory::list(&aws, "net-once").await.unwrap();
    for kind in [
        ResourceKind::Vpc,
        ResourceKind::InternetGateway,
        ResourceKind::RouteTable,
        ResourceKind::SecurityGroup,
    ] {
        assert_eq!(count(&found, kind), 1, "{kind:?} in {found:?}");
    }
    // One public subnet per zone to fall back to, the primary first.
    assert_eq!(
        count(&found, ResourceKind::Subnet),
        mec_network::MAX_ZONES,
        "{found:?}"
    );
    assert_eq!(found.len(), 4 + mec_network::MAX_ZONES, "{found:?}");
    assert_eq!(first.subnets.len(), mec_network::MAX_ZONES);
    assert_eq!(first.subnets[0].subnet_id, first.subnet_id);
    assert_eq!(first.placements(), first.subnets);
    let zones: std::collections::BTreeSet<_> =
        first.subnets.iter().map(|s| &s.availability_zone).collect();
    assert_eq!(zones.len(), mec_network::MAX_ZONES, "one subnet per zone");

    let ec2 = &aws.ec2;
    let vpc = ec2
        .describe_vpcs()
        .vpc_ids(&first.vpc_id)
        .send()
        .await
        .unwrap();
    assert_eq!(vpc.vpcs()[0].cidr_block(), Some("10.42.0.0/16"));
    for attribute in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
    ] {
        let out = ec2
            .describe_vpc_attribute()
            .vpc_id(&first.vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .unwrap();
        let on = out
            .enable_dns_hostnames()
            .or(out.enable_dns_support())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attribute:?}");
    }

    let subnet = ec2
        .describe_subnets()
        .subnet_ids(&first.subnet_id)
        .send()
        .await
        .unwrap();
    let subnet = &subnet.subnets()[0];
    assert_eq!(subnet.cidr_block(), Some("10.42.0.0/20"));
    assert_eq!(subnet.map_public_ip_on_launch(), Some(true));
    assert_eq!(
        subnet.availability_zone(),
        Some(first.availability_zone.as_str())
    );

    let table = ec2
        .describe_route_tables()
        .route_table_ids(&first.route_table_id)
        .send()
        .await
        .unwrap();
    let table = &table.route_tables()[0];
    assert!(table
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
            && r.gateway_id() == Some(first.internet_gateway_id.as_str())));
    for subnet in &first.subnets {
        assert!(table
            .associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet.subnet_id.as_str())));
        let described = ec2
            .describe_subnets()
            .subnet_ids(&subnet.subnet_id)
            .send()
            .await
            .unwrap();
        let described = &described.subnets()[0];
        assert_eq!(described.map_public_ip_on_launch(), Some(true));
        assert_eq!(
            described.availability_zone(),
            Some(subnet.availability_zone.as_str())
        );
    }

    let igw = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&first.internet_gateway_id)
        .send()
        .await
        .unwrap();
    assert!(igw.internet_gateways()[0]
        .attachments()
        .iter()
        .any(|a| a.vpc_id() == Some(first.vpc_id.as_str())));

    let group = ec2
        .describe_security_groups()
        .group_ids(&first.security_group_id)
        .send()
        .await
        .unwrap();
    let group = &group.security_groups()[0];
    let mut from_cidrs = Vec::new();
    let mut self_ports = Vec::new();
    for permission in group.ip_permissions() {
        assert_ne!(permission.from_port(), Some(22), "no SSH");
        for range in permission.ip_ranges() {
            from_cidrs.push((
                permission.from_port().unwrap(),
                range.cidr_ip().unwrap().to_string(),
            ));
        }
        if permission
            .user_id_group_pairs()
            .iter()
            .any(|p| p.group_id() == Some(first.security_group_id.as_str()))
        {
            self_ports.push((
                permission.ip_protocol().unwrap().to_string(),
                permission.from_port().unwrap(),
                permission.to_port().unwrap(),
            ));
        }
    }
    assert_eq!(from_cidrs, vec![(16443, "203.0.113.0/24".to_string())]);
    self_ports.sort();
    let tcp = |from, to| ("tcp".to_string(), from, to);
    assert_eq!(
        self_ports,
        vec![
            tcp(10250, 10250),
            tcp(10255, 10255),
            tcp(10257, 10257),
            tcp(10259, 10259),
            tcp(12379, 12379),
            tcp(16443, 16443),
            tcp(19001, 19001),
            tcp(25000, 25000),
            tcp(30000, 32767),
            ("udp".to_string(), 4789, 4789),
            ("udp".to_string(), 30000, 32767),
        ],
        "MicroK8s' ports and the NodePort range, from the cluster's own group"
    );
}

#[tokio::test]
async fn environments_do_not_share_networks() {
    let moto = Moto::start();
    let aws = moto.aws();
    let a: Network = mec_network::handle(&aws, json!({"spec": spec("net-a", 0), "run_id": "r"}))
        .await
        .unwrap();
    let b: Network = mec_network::handle(&aws, json!({"spec": spec("net-b", 0), "run_id": "r"}))
        .await
        .unwrap();
    assert_ne!(a.vpc_id, b.vpc_id);
    assert_ne!(a.security_group_id, b.security_group_id);
}

#[tokio::test]
async fn a_different_cidr_for_an_existing_environment_is_refused() {
    let moto = Moto::start();
    let aws = moto.aws();
    let mut spec = spec("net-cidr", 0);
    mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    spec.vpc_cidr = "10.43.0.0/16".into();
    let err = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidSpec");
    assert!(err.to_string().contains("vpc_cidr"), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_aws_call() {
    // Nothing listens on this endpoint: any AWS call would fail as AwsUnavailable.
    let dead = mec_testkit::unreachable_aws();
    let cases = [
        (
            json!({"spec": {"name": "ok-name"}}),
            "InvalidInput",
            "run_id",
        ),
        (
            json!({"spec": {"name": "ok-name"}, "run_id": "r", "extra": 1}),
            "InvalidInput",
            "extra",
        ),
        (
            json!({"spec": {"name": "x"}, "run_id": "r"}),
            "InvalidSpec",
            "name",
        ),
        (
            json!({"spec": {"name": "ok-name", "workers": 500}, "run_id": "r"}),
            "InvalidSpec",
            "workers",
        ),
        (
            json!({"spec": {"name": "ok-name"}, "run_id": "bad id"}),
            "InvalidInput",
            "run_id",
        ),
        (json!("not an object"), "InvalidInput", "input"),
        (json!(null), "InvalidInput", "input"),
    ];
    for (input, error_type, field) in cases {
        let err = mec_network::handle(&dead, input.clone()).await.unwrap_err();
        assert_eq!(err.error_type(), error_type, "{input}: {err}");
        assert!(err.to_string().contains(field), "{input}: {err}");
    }
}

#[tokio::test]
async fn a_small_vpc_gets_as_many_zones_as_it_has_room_for() {
    let moto = Moto::start();
    let aws = moto.aws();
    for (name, cidr, zones) in [("net-24", "10.8.0.0/24", 1), ("net-23", "10.9.0.0/23", 2)] {
        let mut spec = spec(name, 0);
        spec.vpc_cidr = cidr.into();
        let input = json!({"spec": spec, "run_id": "r"});
        let first: Network = mec_network::handle(&aws, input.clone()).await.unwrap();
        let again: Network = mec_network::handle(&aws, input).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(first.subnets.len(), zones, "{cidr}: {first:?}");
        let found = inventory::list(&aws, name).await.unwrap();
        assert_eq!(count(&found, ResourceKind::Subnet), zones, "{cidr}");
    }
}

/// A create whose answer was lost was applied, but a describe by tag does not show it yet (EC2
/// is eventually consistent): the step's retry meets the conflict and adopts what exists instead
/// of failing or creating a second one. Stood in for here by resources that carry no tags yet.
#[tokio::test]
async fn what_a_lost_answer_created_is_adopted() {
    let moto = Moto::start();
    let aws = moto.aws();
    let spec = spec("net-lost", 0);
    // The VPC, found by its tag; the subnet and the group that an earlier attempt created, not
    // yet visible by tag.
    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(mec_shared::tags::specification(
            aws_sdk_ec2::types::ResourceType::Vpc,
            mec_shared::tags::resource_tags(
                "net-lost",
                mec_shared::tags::Role::Network,
                "net-lost-vpc",
                &Default::default(),
            ),
        ))
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let lost_subnet = aws
        .ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.42.0.0/20")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let lost_subnet_id = lost_subnet
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let lost_group = aws
        .ec2
        .create_security_group()
        .group_name("mec-net-lost-cluster")
        .description("mec MicroK8s cluster nodes")
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();

    let network: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    assert_eq!(network.vpc_id, vpc_id);
    assert!(
        network
            .subnets
            .iter()
            .any(|s| s.subnet_id == lost_subnet_id),
        "the subnet the lost answer created is used: {network:?}"
    );
    assert_eq!(network.security_group_id, lost_group.group_id().unwrap());
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        subnets.subnets().len(),
        mec_network::MAX_ZONES,
        "no second subnet for the adopted block"
    );
}

/// Two VPCs tagged for the environment (CreateVpc applied twice, the first answer lost): every
/// run settles on the same one, the one that holds the environment's subnets.
#[tokio::test]
async fn of_two_vpcs_the_one_with_the_subnets_is_kept() {
    let moto = Moto::start();
    let aws = moto.aws();
    let spec = spec("net-twice", 0);
    let first: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    let tags = mec_shared::tags::resource_tags(
        "net-twice",
        mec_shared::tags::Role::Network,
        "net-twice-vpc",
        &Default::default(),
    );
    aws.ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(mec_shared::tags::specification(
            aws_sdk_ec2::types::ResourceType::Vpc,
            tags,
        ))
        .send()
        .await
        .unwrap();
    let again: Network = mec_network::handle(&aws, json!({"spec": spec, "run_id": "r"}))
        .await
        .unwrap();
    assert_eq!(again, first);
}
