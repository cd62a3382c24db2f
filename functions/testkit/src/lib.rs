//! Test support for the Lambdas' integration tests: a real moto server on a free loopback port
//! (one per test, killed on drop), AWS clients pointed at it, and the fixtures a launch needs.
//!
//! The server is the local world's (local/moto/server.py: moto with the fixes that make it answer
//! as AWS does), run by the project's virtualenv Python (`.venv/bin/python`, made by `make venv`)
//! or by `MEC_MOTO_PYTHON`. A missing server fails the test: it is never skipped.

#![allow(clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use mec_shared::model::Network;
use mec_shared::{Aws, EnvironmentSpec, Settings};

pub const INSTANCE_PROFILE: &str = "mec-node";

pub struct Moto {
    child: Child,
    pub endpoint: String,
    port: u16,
}

impl Moto {
    /// Starts a fresh moto server and waits until it answers.
    pub fn start() -> Self {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let binary = std::env::var("MEC_MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo.join(".venv/bin/python"));
        assert!(
            binary.exists(),
            "the virtualenv's Python (with moto) not found at {} — run `make venv` (or set MEC_MOTO_PYTHON)",
            binary.display()
        );
        let server = repo.join("local/moto/server.py");
        let port = free_port();
        let child = Command::new(&binary)
            .arg(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Step Functions' service integrations (DynamoDB, aws-sdk) call this server back.
            .env("MOTO_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.get("/moto-api/data.json").is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// SDK configuration for this server: fixed region and dummy credentials.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
                aws_sdk_ec2::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "mec-testkit",
                ),
            ))
            .build()
    }

    pub fn aws(&self) -> Aws {
        Aws::from_config(&self.sdk_config())
    }

    /// Creates the node instance profile (moto checks that RunInstances names an existing one).
    /// Through IAM's query API by hand: the tests need no IAM SDK crate for one call.
    pub fn create_instance_profile(&self, name: &str) {
        let body =
            format!("Action=CreateInstanceProfile&InstanceProfileName={name}&Version=2010-05-08");
        let response = self
            .post(
                "/",
                &body,
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x",
            )
            .expect("CreateInstanceProfile");
        assert!(
            response.contains("CreateInstanceProfileResponse"),
            "{response}"
        );
    }

    /// Makes Step Functions run state machines for real (moto's ASL engine), as the local world
    /// does. Call before creating a state machine: the modes keep separate stores.
    pub fn execute_state_machines(&self) {
        let body = r#"{"stepfunctions": {"execute_state_machine": true}}"#;
        // moto echoes only some of its settings back: the 2xx status says it took this one.
        self.request(&format!(
                "POST /moto-api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ))
        .expect("moto config");
    }

    fn get(&self, path: &str) -> std::io::Result<String> {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        ))
    }

    fn post(&self, path: &str, body: &str, authorization: &str) -> std::io::Result<String> {
        self.request(&format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    fn request(&self, raw: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(raw.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        if response.starts_with("HTTP/1.1 20") || response.starts_with("HTTP/1.0 20") {
            Ok(response)
        } else {
            Err(std::io::Error::other(response))
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A valid spec for `name` with `workers` workers and everything else default.
pub fn spec(name: &str, workers: u32) -> EnvironmentSpec {
    EnvironmentSpec::from_value(serde_json::json!({
        "name": name,
        "workers": workers,
        "api_allowed_cidrs": ["203.0.113.0/24"],
        "tags": {"team": "edge"}
    }))
    .expect("valid spec")
}

/// Settings for the emulator: one of moto's AMIs instead of Canonical's parameter (which an
/// emulator cannot have), and the test instance profile.
pub async fn settings(aws: &Aws) -> Settings {
    let images = aws
        .ec2
        .describe_images()
        .send()
        .await
        .expect("DescribeImages");
    let image = images
        .images()
        .iter()
        .find(|i| i.root_device_name() == Some("/dev/sda1"))
        .and_then(|i| i.image_id())
        .expect("moto has an AMI")
        .to_string();
    Settings {
        node_instance_profile: Some(INSTANCE_PROFILE.into()),
        ami_override: Some(image),
        ..Settings::default()
    }
}

/// The step input every launch step takes.
pub fn launch_input(spec: &EnvironmentSpec, run_id: &str, network: &Network) -> serde_json::Value {
    serde_json::json!({"spec": spec, "run_id": run_id, "network": network})
}

/// Clients pointed at a loopback port where nothing listens, without retries: a test that gets
/// a validation error from them proves no AWS call was made before the check.
pub fn unreachable_aws() -> Aws {
    let port = free_port();
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "mec-testkit"),
        ))
        .build();
    Aws::from_config(&config)
}

/// SDK mocks (aws-smithy-mocks) for what no emulator can do: SSM Run Command results, failures
/// on chosen nodes, throttling. Errors are raw HTTP answers, so the SDK's real error parsing runs.
pub mod mocks {
    use std::time::Duration;

    use aws_sdk_ec2::types::{Instance, InstanceState, InstanceStateName};
    use aws_smithy_mocks::{mock_client, Rule, RuleMode};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use mec_shared::model::Node;
    use mec_shared::tags::Role;
    use mec_shared::Aws;

    /// Clients answering from `ec2` and `ssm` rules; the SDK retries 3 times with tiny backoff.
    pub fn aws(ec2: &[&Rule], ssm: &[&Rule]) -> Aws {
        let retry = aws_sdk_ec2::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1));
        let ssm_retry = retry.clone();
        Aws {
            ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, ec2.iter().copied(), |c| c
                .retry_config(retry.clone())),
            ssm: mock_client!(aws_sdk_ssm, RuleMode::MatchAny, ssm.iter().copied(), |c| c
                .retry_config(ssm_retry.clone())),
            // No rule: a scheduler call in a mocked test fails loudly.
            scheduler: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, &[]),
        }
    }

    /// A JSON-protocol error answer (SSM), e.g. `("ThrottlingException", "Rate exceeded")`.
    pub fn json_error(status: u16, error_type: &str, message: &str) -> HttpResponse {
        let body = format!(r#"{{"__type":"{error_type}","message":"{message}"}}"#);
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(body),
        )
    }

    /// An EC2 (query protocol) error answer, e.g. `(500, "InsufficientInstanceCapacity")`.
    pub fn ec2_error(status: u16, code: &str) -> HttpResponse {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code>\
             <Message>{code} (mocked)</Message></Error></Errors><RequestID>mock</RequestID></Response>"
        );
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::from(body),
        )
    }

    pub fn node(role: Role, index: u32) -> Node {
        let base = if role == Role::Master { 10 } else { 100 };
        Node {
            instance_id: format!("i-{:017x}", base + index),
            name: mec_shared::naming::node_name("mock-env", role, index),
            role,
            index,
            private_ip: Some(format!("10.42.0.{}", base + index)),
            public_ip: None,
            market: None,
            availability_zone: None,
        }
    }

    pub fn instance(node: &Node, state: InstanceStateName) -> Instance {
        Instance::builder()
            .instance_id(&node.instance_id)
            .state(InstanceState::builder().name(state).build())
            .set_private_ip_address(node.private_ip.clone())
            .public_ip_address(format!("198.51.100.{}", node.index + 1))
            .build()
    }
}

/// The parameter names an SSM document declares, sorted: the steps' tests compare them with the
/// parameters the step sends.
pub fn document_parameters(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("document readable");
    let document: serde_yaml::Value = serde_yaml::from_str(&text).expect("document is YAML");
    assert_eq!(document["schemaVersion"], "2.2", "{}", path.display());
    let mut names: Vec<String> = document["parameters"]
        .as_mapping()
        .expect("a parameters mapping")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}
