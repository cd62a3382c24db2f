//! Every route and every error of the API against a real moto server whose Step Functions engine
//! runs small stand-in state machines that keep a real DynamoDB registry: the executions, the
//! registry's conditional writes and the statuses are real; only the steps' work is left out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use mec_api::Api;
use mec_shared::environments::{Environments, Machines};
use mec_shared::registry::Registry;
use mec_testkit::Moto;
use serde_json::{json, Value};

const REGISTRY: &str = "t-environments";

/// Stand-ins of the pipeline's machines: the registry writes of statemachine/*.asl.json
/// (`Register`, `Claim`, `Record*`), with Pass/Wait/Fail states where the steps would work.
/// Creates at once: workers 7 stays CREATING (a long Wait), workers 9 fails.
const PROVISION: &str = r##"{
  "StartAt": "Register",
  "States": {
    "Register": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
      "Parameters": {"TableName": "t-environments",
        "Item": {"name": {"S.$": "$.name"}, "status": {"S": "CREATING"}, "execution": {"S.$": "$$.Execution.Id"},
                 "spec": {"S.$": "States.JsonToString($)"}, "created_at": {"S.$": "$$.Execution.StartTime"}, "updated_at": {"S.$": "$$.State.EnteredTime"}},
        "ConditionExpression": "attribute_not_exists(#name) OR #status IN (:failed, :deleted) OR #execution = :me",
        "ExpressionAttributeNames": {"#name": "name", "#status": "status", "#execution": "execution"},
        "ExpressionAttributeValues": {":failed": {"S": "FAILED"}, ":deleted": {"S": "DELETED"}, ":me": {"S.$": "$$.Execution.Id"}}},
      "ResultPath": null,
      "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "NameTaken"}],
      "Next": "Route"},
    "NameTaken": {"Type": "Fail", "Error": "NameTaken", "Cause": "another run owns the name"},
    "Route": {"Type": "Choice", "Choices": [
      {"Variable": "$.workers", "NumericEquals": 7, "Next": "Slow"},
      {"Variable": "$.workers", "NumericEquals": 9, "Next": "Broken"}], "Default": "Ready"},
    "Slow": {"Type": "Wait", "Seconds": 3600, "Next": "Ready"},
    "Broken": {"Type": "Pass", "Parameters": {"Error": "CapacityUnavailable", "Cause": "no EC2 capacity: t4g.medium"},
      "ResultPath": "$.error", "Next": "RecordFailure"},
    "RecordFailure": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
      "Parameters": {"TableName": "t-environments", "Key": {"name": {"S.$": "$.name"}},
        "UpdateExpression": "SET #status = :failed, #error = :error, #cause = :cause, removed = :removed, updated_at = :now",
        "ConditionExpression": "#execution = :me",
        "ExpressionAttributeNames": {"#status": "status", "#error": "error", "#cause": "cause", "#execution": "execution"},
        "ExpressionAttributeValues": {":failed": {"S": "FAILED"}, ":error": {"S.$": "$.error.Error"}, ":cause": {"S.$": "$.error.Cause"},
          ":removed": {"S": "[]"}, ":now": {"S.$": "$$.State.EnteredTime"}, ":me": {"S.$": "$$.Execution.Id"}}},
      "ResultPath": null, "Next": "Failed"},
    "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    "Ready": {"Type": "Pass", "Parameters": {
      "name.$": "$.name", "status": "READY", "vpc_id": "vpc-0123456789abcdef0",
      "kubeconfig_parameter": "/mec/env/kubeconfig", "api_endpoint": "https://198.51.100.7:16443",
      "addons": [], "expires_at": null,
      "masters": [{"instance_id": "i-0aaaaaaaaaaaaaaaa", "name": "env-master-0", "role": "master", "index": 0, "private_ip": "10.42.0.10", "public_ip": "198.51.100.7"}],
      "workers": []}, "ResultPath": "$.record", "Next": "RecordReady"},
    "RecordReady": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
      "Parameters": {"TableName": "t-environments", "Key": {"name": {"S.$": "$.name"}},
        "UpdateExpression": "SET #status = :ready, #record = :record, updated_at = :now",
        "ConditionExpression": "#execution = :me",
        "ExpressionAttributeNames": {"#status": "status", "#record": "record", "#execution": "execution"},
        "ExpressionAttributeValues": {":ready": {"S": "READY"}, ":record": {"S.$": "States.JsonToString($.record)"},
          ":now": {"S.$": "$$.State.EnteredTime"}, ":me": {"S.$": "$$.Execution.Id"}}},
      "ResultPath": null, "Next": "Done"},
    "Done": {"Type": "Pass", "OutputPath": "$.record", "End": true}
  }
}"##;

/// Deletes at once, except `slow-delete`, which stays DELETING.
const TEARDOWN: &str = r##"{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"name.$": "$.name"}, "Next": "Claim"},
    "Claim": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
      "Parameters": {"TableName": "t-environments", "Key": {"name": {"S.$": "$.name"}},
        "UpdateExpression": "SET #status = :deleting, #execution = :me, updated_at = :now, created_at = if_not_exists(created_at, :now)",
        "ConditionExpression": "attribute_not_exists(#name) OR #status <> :creating OR #execution = :me",
        "ExpressionAttributeNames": {"#name": "name", "#status": "status", "#execution": "execution"},
        "ExpressionAttributeValues": {":deleting": {"S": "DELETING"}, ":creating": {"S": "CREATING"},
          ":now": {"S.$": "$$.State.EnteredTime"}, ":me": {"S.$": "$$.Execution.Id"}}},
      "ResultPath": null,
      "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "StillCreating"}],
      "Next": "Route"},
    "StillCreating": {"Type": "Fail", "Error": "EnvironmentCreating", "Cause": "being created"},
    "Route": {"Type": "Choice", "Choices": [
      {"Variable": "$.name", "StringEquals": "slow-delete", "Next": "Slow"}], "Default": "RecordDeleted"},
    "Slow": {"Type": "Wait", "Seconds": 3600, "Next": "RecordDeleted"},
    "RecordDeleted": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
      "Parameters": {"TableName": "t-environments", "Key": {"name": {"S.$": "$.name"}},
        "UpdateExpression": "SET #status = :deleted, removed = :removed, updated_at = :now REMOVE #record",
        "ConditionExpression": "#execution = :me",
        "ExpressionAttributeNames": {"#status": "status", "#record": "record", "#execution": "execution"},
        "ExpressionAttributeValues": {":deleted": {"S": "DELETED"}, ":removed": {"S": "[]"},
          ":now": {"S.$": "$$.State.EnteredTime"}, ":me": {"S.$": "$$.Execution.Id"}}},
      "ResultPath": null, "Next": "Done"},
    "Done": {"Type": "Pass", "Result": {"complete": true}, "End": true}
  }
}"##;

struct World {
    _moto: Moto,
    api: Api,
    sfn: aws_sdk_sfn::Client,
    machines: Machines,
}

async fn world() -> World {
    let moto = Moto::start();
    moto.execute_state_machines();
    let sfn = aws_sdk_sfn::Client::new(&moto.sdk_config());
    let mut arns = Vec::new();
    for (name, definition) in [("t-provision", PROVISION), ("t-teardown", TEARDOWN)] {
        let out = sfn
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn("arn:aws:iam::123456789012:role/t-pipeline")
            .send()
            .await
            .unwrap();
        arns.push(out.state_machine_arn().to_string());
    }
    let machines = Machines {
        provision: arns[0].clone(),
        teardown: arns[1].clone(),
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    create_registry(&dynamodb).await;
    let api = Api::new(Environments::new(
        sfn.clone(),
        Registry::new(dynamodb, REGISTRY),
        machines.clone(),
    ));
    World {
        _moto: moto,
        api,
        sfn,
        machines,
    }
}

/// The registry table as Terraform creates it (infra/modules/pipeline/registry.tf).
async fn create_registry(dynamodb: &aws_sdk_dynamodb::Client) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    dynamodb
        .create_table()
        .table_name(REGISTRY)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("name")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("name")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

impl World {
    async fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let reply = self.api.handle(method, path, body.as_bytes()).await;
        (reply.status, reply.body)
    }

    async fn executions(&self, arn: &str) -> usize {
        self.sfn
            .list_executions()
            .state_machine_arn(arn)
            .send()
            .await
            .unwrap()
            .executions()
            .len()
    }

    /// Polls the record until its status is `want` (moto runs executions in a thread).
    async fn wait_for(&self, name: &str, want: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..100 {
            let (status, body) = self.call("GET", &format!("/environments/{name}"), "").await;
            assert_eq!(status, 200, "{body}");
            if body["status"] == want {
                return body;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} never became {want}: {last}");
    }
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str, field: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["field"], json!(field), "{body}");
    assert!(
        !body["error"]["message"].as_str().unwrap().is_empty(),
        "{body}"
    );
}

#[tokio::test]
async fn create_read_list_delete() {
    let w = world().await;
    let reply = w
        .api
        .handle(
            "POST",
            "/environments",
            br#"{"name": "lab-1", "workers": 1}"#,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.location.as_deref(), Some("/environments/lab-1"));
    assert_eq!(reply.body["status"], "CREATING");
    assert_eq!(reply.body["name"], "lab-1");

    let ready = w.wait_for("lab-1", "READY").await;
    assert_eq!(ready["vpc_id"], "vpc-0123456789abcdef0");
    assert_eq!(ready["api_endpoint"], "https://198.51.100.7:16443");
    assert_eq!(ready["nodes"][0]["role"], "master");
    assert_eq!(ready["nodes"][0]["private_ip"], "10.42.0.10");
    assert!(ready["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(ready["error"].is_null() && ready["step"].is_null());

    let (status, list) = w.call("GET", "/environments", "").await;
    assert_eq!(status, 200);
    assert_eq!(list["environments"][0]["name"], "lab-1");
    assert_eq!(list["environments"][0]["status"], "READY");

    let reply = w.api.handle("DELETE", "/environments/lab-1", b"").await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.location.as_deref(), Some("/environments/lab-1"));
    assert_eq!(reply.body["status"], "DELETING");
    w.wait_for("lab-1", "DELETED").await;

    // Deleting again answers with the record and starts nothing.
    let (status, body) = w.call("DELETE", "/environments/lab-1", "").await;
    assert_eq!((status, body["status"].clone()), (202, json!("DELETED")));
    assert_eq!(w.executions(&w.machines.teardown).await, 1);

    // A deleted name can be used again.
    let (status, body) = w
        .call("POST", "/environments", r#"{"name": "lab-1"}"#)
        .await;
    assert_eq!((status, body["status"].clone()), (202, json!("CREATING")));
    assert_eq!(w.executions(&w.machines.provision).await, 2);
}

#[tokio::test]
async fn same_spec_same_answer_other_spec_409() {
    let w = world().await;
    let (status, _) = w.call("POST", "/environments", r#"{"name": "idem"}"#).await;
    assert_eq!(status, 202);
    // The same spec, with a default spelled out, while CREATING or READY: no second execution.
    for _ in 0..2 {
        let (status, body) = w
            .call("POST", "/environments", r#"{"workers": 2, "name": "idem"}"#)
            .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["name"], "idem");
    }
    w.wait_for("idem", "READY").await;
    let (status, body) = w.call("POST", "/environments", r#"{"name": "idem"}"#).await;
    assert_eq!((status, body["status"].clone()), (202, json!("READY")));
    assert_eq!(w.executions(&w.machines.provision).await, 1);

    let (status, body) = w
        .call("POST", "/environments", r#"{"name": "idem", "workers": 3}"#)
        .await;
    assert_error(status, &body, 409, "NameTaken", Some("name"));
    assert_eq!(w.executions(&w.machines.provision).await, 1);
}

#[tokio::test]
async fn busy_environments_conflict() {
    let w = world().await;
    // CREATING: another spec is 409, a delete is 409 (it would race the create's steps).
    let (status, _) = w
        .call("POST", "/environments", r#"{"name": "slow", "workers": 7}"#)
        .await;
    assert_eq!(status, 202);
    let (status, body) = w
        .call("POST", "/environments", r#"{"name": "slow", "workers": 1}"#)
        .await;
    assert_error(status, &body, 409, "NameTaken", Some("name"));
    let (status, body) = w.call("DELETE", "/environments/slow", "").await;
    assert_error(status, &body, 409, "EnvironmentCreating", Some("name"));
    let (_, record) = w.call("GET", "/environments/slow", "").await;
    assert_eq!(record["status"], "CREATING");

    // DELETING: a create is 409, a delete answers with the record and starts nothing.
    w.call("POST", "/environments", r#"{"name": "slow-delete"}"#)
        .await;
    w.wait_for("slow-delete", "READY").await;
    let (status, _) = w.call("DELETE", "/environments/slow-delete", "").await;
    assert_eq!(status, 202);
    let (status, body) = w.call("DELETE", "/environments/slow-delete", "").await;
    assert_eq!((status, body["status"].clone()), (202, json!("DELETING")));
    assert_eq!(w.executions(&w.machines.teardown).await, 1);
    let (status, body) = w
        .call("POST", "/environments", r#"{"name": "slow-delete"}"#)
        .await;
    assert_error(status, &body, 409, "EnvironmentDeleting", Some("name"));
}

#[tokio::test]
async fn failed_environment_shows_its_error_and_can_be_deleted_or_retried() {
    let w = world().await;
    w.call(
        "POST",
        "/environments",
        r#"{"name": "broken", "workers": 9}"#,
    )
    .await;
    let failed = w.wait_for("broken", "FAILED").await;
    assert_eq!(failed["error"]["type"], "CapacityUnavailable");
    assert_eq!(failed["error"]["message"], "no EC2 capacity: t4g.medium");
    // A retry of a failed create starts a new execution.
    let (status, body) = w
        .call(
            "POST",
            "/environments",
            r#"{"name": "broken", "workers": 9}"#,
        )
        .await;
    assert_eq!((status, body["status"].clone()), (202, json!("CREATING")));
    assert_eq!(w.executions(&w.machines.provision).await, 2);
    w.wait_for("broken", "FAILED").await;
    let (status, body) = w.call("DELETE", "/environments/broken", "").await;
    assert_eq!((status, body["status"].clone()), (202, json!("DELETING")));
    w.wait_for("broken", "DELETED").await;
}

/// Method, path, body, and the status, code and field of the answer.
type BadRequest<'a> = (&'a str, &'a str, String, u16, &'a str, Option<&'a str>);

#[tokio::test]
async fn bad_requests_are_4xx_and_start_nothing() {
    let w = world().await;
    let huge = format!(
        r#"{{"name": "big", "tags": {{"x": "{}"}}}}"#,
        "a".repeat(70_000)
    );
    let cases: Vec<BadRequest> = vec![
        (
            "POST",
            "/environments",
            "{not json".into(),
            400,
            "InvalidJson",
            None,
        ),
        ("POST", "/environments", "".into(), 400, "InvalidJson", None),
        (
            "POST",
            "/environments",
            "[1, 2]".into(),
            400,
            "InvalidSpec",
            None,
        ),
        (
            "POST",
            "/environments",
            "null".into(),
            400,
            "InvalidSpec",
            None,
        ),
        (
            "POST",
            "/environments",
            "{}".into(),
            400,
            "InvalidSpec",
            Some("name"),
        ),
        (
            "POST",
            "/environments",
            r#"{"name": "ok-name", "workers": "two"}"#.into(),
            400,
            "InvalidSpec",
            Some("workers"),
        ),
        (
            "POST",
            "/environments",
            r#"{"name": "ok-name", "workers": 101}"#.into(),
            400,
            "InvalidSpec",
            Some("workers"),
        ),
        (
            "POST",
            "/environments",
            r#"{"name": "ok-name", "colour": "red"}"#.into(),
            400,
            "InvalidSpec",
            Some("colour"),
        ),
        (
            "POST",
            "/environments",
            r#"{"name": "Bad_Name"}"#.into(),
            400,
            "InvalidSpec",
            Some("name"),
        ),
        (
            "POST",
            "/environments",
            r#"{"name": "ok-name", "tags": {"k": 1}}"#.into(),
            400,
            "InvalidSpec",
            Some("tags.k"),
        ),
        ("POST", "/environments", huge, 413, "BodyTooLarge", None),
        (
            "GET",
            "/environments/nope",
            "".into(),
            404,
            "NotFound",
            Some("name"),
        ),
        (
            "GET",
            "/environments/Bad%20Name",
            "".into(),
            400,
            "InvalidSpec",
            Some("name"),
        ),
        (
            "GET",
            "/environments/a--b",
            "".into(),
            400,
            "InvalidSpec",
            Some("name"),
        ),
        (
            "DELETE",
            "/environments/nope",
            "".into(),
            404,
            "NotFound",
            Some("name"),
        ),
        (
            "DELETE",
            "/environments/x",
            "".into(),
            400,
            "InvalidSpec",
            Some("name"),
        ),
        (
            "PUT",
            "/environments/lab-1",
            "{}".into(),
            405,
            "MethodNotAllowed",
            None,
        ),
        (
            "DELETE",
            "/environments",
            "".into(),
            405,
            "MethodNotAllowed",
            None,
        ),
        (
            "GET",
            "/environments/",
            "".into(),
            404,
            "RouteNotFound",
            None,
        ),
        (
            "GET",
            "/environments/a/b",
            "".into(),
            404,
            "RouteNotFound",
            None,
        ),
        ("GET", "/", "".into(), 404, "RouteNotFound", None),
    ];
    for (method, path, body, status, code, field) in cases {
        let (got, answer) = w.call(method, path, &body).await;
        assert!(
            got == status,
            "{method} {path} {}: {got} {answer}",
            &body[..body.len().min(60)]
        );
        assert_error(got, &answer, status, code, field);
    }
    let reply = w.api.handle("PUT", "/environments/lab-1", b"{}").await;
    assert_eq!(reply.allow, vec!["GET", "DELETE"]);
    assert_eq!(w.executions(&w.machines.provision).await, 0);
    assert_eq!(w.executions(&w.machines.teardown).await, 0);
    let (status, list) = w.call("GET", "/environments", "").await;
    assert_eq!((status, list), (200, json!({"environments": []})));
}

/// The Lambda side: a real API Gateway HTTP API (payload 2.0) event, as lambda_http parses it.
#[tokio::test]
async fn api_gateway_events_in_http_responses_out() {
    let w = world().await;
    let event = |method: &str, path: &str, body: Option<&str>, base64: bool| {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": "api.example.com"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "domainPrefix": "api", "requestId": "r", "routeKey": "$default", "stage": "$default",
                "time": "28/Nov/2026:18:00:00 +0000", "timeEpoch": 1795888800000u64,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"}
            },
            "body": body, "isBase64Encoded": base64
        })
        .to_string()
    };
    let request = lambda_http::request::from_str(&event(
        "POST",
        "/environments",
        Some("eyJuYW1lIjogImV2ZW50cyJ9"), // {"name": "events"}
        true,
    ))
    .unwrap();
    let response = mec_api::handle_http(&w.api, request).await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["location"], "/environments/events");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["status"], "CREATING");

    let request =
        lambda_http::request::from_str(&event("GET", "/environments/events", None, false)).unwrap();
    let response = mec_api::handle_http(&w.api, request).await;
    assert_eq!(response.status(), 200);

    let request =
        lambda_http::request::from_str(&event("PATCH", "/environments/events", Some("{}"), false))
            .unwrap();
    let response = mec_api::handle_http(&w.api, request).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, DELETE");
}

/// When AWS cannot be reached the answer is a 503 error body, not a crash.
#[tokio::test]
async fn aws_unavailable_is_503() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_sfn::config::SharedCredentialsProvider::new(
            aws_sdk_sfn::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build();
    let arn = |n: &str| format!("arn:aws:states:us-east-1:123456789012:stateMachine:{n}");
    let api = Api::new(Environments::new(
        aws_sdk_sfn::Client::new(&config),
        Registry::new(aws_sdk_dynamodb::Client::new(&config), REGISTRY),
        Machines {
            provision: arn("p"),
            teardown: arn("t"),
        },
    ));
    let reply = api.handle("GET", "/environments", b"").await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "AwsUnavailable");
    // Bad input is still answered before any AWS call.
    let reply = api.handle("POST", "/environments", b"{").await;
    assert_eq!(reply.status, 400);
}
