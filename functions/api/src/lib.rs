//! The HTTP API for portals (docs/architecture.md, functions/api/openapi.json), behind an API Gateway HTTP API.
//!
//! Environments live in the Step Functions executions (mec_shared::status), exactly as the CLI
//! sees them: a create starts the provision machine, a delete the teardown machine, and a read
//! describes the newest execution. No database.

pub mod errors;
pub mod routes;
pub mod settings;

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use mec_shared::record::{EnvironmentRecord, EnvironmentSummary, Status};
use mec_shared::status::{Environments, Latest, Machine};
use mec_shared::{spec, EnvironmentSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::routes::{match_route, Matched, Operation};

/// Largest request body accepted; a spec is well under 8 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The answer of `GET /environments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentList {
    /// One entry per environment, newest first.
    pub environments: Vec<EnvironmentSummary>,
}

/// A handled request: status, JSON body, and the `Location` of the environment when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub location: Option<String>,
    pub allow: Vec<&'static str>,
}

impl Reply {
    fn record(status: u16, record: &EnvironmentRecord) -> Self {
        Self {
            status,
            body: json!(record),
            location: Some(location(&record.name)),
            allow: Vec::new(),
        }
    }
}

impl From<ApiError> for Reply {
    fn from(err: ApiError) -> Self {
        Self {
            status: err.status,
            body: json!(err.body()),
            location: None,
            allow: err.allow,
        }
    }
}

/// Where an environment's record is read.
pub fn location(name: &str) -> String {
    format!("/environments/{name}")
}

pub struct Api {
    pub environments: Environments,
}

impl Api {
    pub fn new(environments: Environments) -> Self {
        Self { environments }
    }

    /// Handles one request; every failure becomes an error answer, nothing panics.
    pub async fn handle(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let result = match match_route(method, path) {
            Matched::Route { operation, name } => {
                self.dispatch(operation, name.as_deref(), body).await
            }
            Matched::MethodNotAllowed(allow) => {
                let mut err = ApiError::new(
                    405,
                    "MethodNotAllowed",
                    format!(
                        "{method} is not allowed on {path}; allowed: {}",
                        allow.join(", ")
                    ),
                    None,
                );
                err.allow = allow;
                Err(err)
            }
            Matched::NotFound => Err(ApiError::new(
                404,
                "RouteNotFound",
                format!("no route {path}"),
                None,
            )),
        };
        result.unwrap_or_else(Reply::from)
    }

    async fn dispatch(
        &self,
        operation: Operation,
        name: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, ApiError> {
        let name = name.unwrap_or_default();
        match operation {
            Operation::Create => self.create(body).await,
            Operation::List => self.list().await,
            Operation::Get => self.get(name).await,
            Operation::Delete => self.delete(name).await,
        }
    }

    /// 202 and a CREATING record; the same spec again answers with the current record and starts
    /// nothing; another spec under a live name is 409.
    async fn create(&self, body: &[u8]) -> Result<Reply, ApiError> {
        let spec = parse_spec(body)?;
        let current = self.environments.latest(&spec.name).await?;
        if let Some(current) = current {
            match current.record.status {
                Status::Creating | Status::Ready => {
                    return if same_spec(&current, &spec) {
                        Ok(Reply::record(202, &current.record))
                    } else {
                        Err(ApiError::new(
                            409,
                            "NameTaken",
                            format!(
                                "{} exists with another spec: delete it first, or send the same spec",
                                spec.name
                            ),
                            Some("name"),
                        ))
                    };
                }
                Status::Deleting => {
                    return Err(ApiError::new(
                        409,
                        "EnvironmentDeleting",
                        format!(
                            "{} is being deleted: create it again once it is DELETED",
                            spec.name
                        ),
                        Some("name"),
                    ))
                }
                Status::Failed | Status::Deleted => {}
            }
        }
        let input = serde_json::to_value(&spec)
            .map_err(|e| ApiError::new(400, "InvalidSpec", e.to_string(), None))?;
        self.environments
            .start(Machine::Provision, &spec.name, &input)
            .await?;
        let now = now_rfc3339();
        Ok(Reply::record(
            202,
            &EnvironmentRecord {
                name: spec.name.clone(),
                status: Status::Creating,
                step: None,
                created_at: now.clone(),
                updated_at: now,
                vpc_id: None,
                nodes: Vec::new(),
                kubeconfig_parameter: None,
                api_endpoint: None,
                error: None,
                addons: Vec::new(),
                expires_at: None,
                rollback_removed: Vec::new(),
            },
        ))
    }

    async fn list(&self) -> Result<Reply, ApiError> {
        let environments = self.environments.list().await?;
        Ok(Reply {
            status: 200,
            body: json!(EnvironmentList { environments }),
            location: None,
            allow: Vec::new(),
        })
    }

    async fn get(&self, name: &str) -> Result<Reply, ApiError> {
        spec::validate_name(name)?;
        match self.environments.latest(name).await? {
            Some(latest) => Ok(Reply {
                location: None,
                ..Reply::record(200, &latest.record)
            }),
            None => Err(ApiError::not_found(name)),
        }
    }

    /// 202 and a DELETING record; a deleting or deleted environment answers with its record and
    /// starts nothing. A creating one is 409: stopping a create half-way would race its steps.
    async fn delete(&self, name: &str) -> Result<Reply, ApiError> {
        spec::validate_name(name)?;
        let Some(current) = self.environments.latest(name).await? else {
            return Err(ApiError::not_found(name));
        };
        match current.record.status {
            Status::Deleting | Status::Deleted => Ok(Reply::record(202, &current.record)),
            Status::Creating => Err(ApiError::new(
                409,
                "EnvironmentCreating",
                format!("{name} is being created: delete it once it is READY or FAILED"),
                Some("name"),
            )),
            Status::Ready | Status::Failed => {
                self.environments
                    .start(Machine::Teardown, name, &json!({ "name": name }))
                    .await?;
                let record = EnvironmentRecord {
                    status: Status::Deleting,
                    step: None,
                    error: None,
                    updated_at: now_rfc3339(),
                    ..current.record
                };
                Ok(Reply::record(202, &record))
            }
        }
    }
}

/// The body as a spec: JSON first (400 `InvalidJson`), then every rule (400 `InvalidSpec`).
fn parse_spec(body: &[u8]) -> Result<EnvironmentSpec, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            413,
            "BodyTooLarge",
            format!("the body is {} bytes; at most {MAX_BODY_BYTES}", body.len()),
            None,
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            400,
            "InvalidJson",
            format!("the body is not JSON: {e}"),
            None,
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            400,
            "InvalidSpec",
            "the body must be a JSON object (an environment spec)",
            None,
        ));
    }
    Ok(EnvironmentSpec::from_value(value)?)
}

/// True when the environment's current create ran with this very spec (defaults filled in).
fn same_spec(current: &Latest, spec: &EnvironmentSpec) -> bool {
    current.run.machine == Machine::Provision
        && current
            .input
            .clone()
            .and_then(|input| EnvironmentSpec::from_value(input).ok())
            .is_some_and(|running| &running == spec)
}

fn now_rfc3339() -> Option<String> {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

/// The Lambda side: an API Gateway (payload 2.0) request in, an HTTP response out.
pub async fn handle_http(api: &Api, request: Request) -> Response<Body> {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let reply = api.handle(&method, &path, request.body().as_ref()).await;
    tracing::info!(%method, %path, status = reply.status, "request");
    to_response(reply)
}

fn to_response(reply: Reply) -> Response<Body> {
    let mut response = Response::new(Body::Text(reply.body.to_string()));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(location) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert("location", location);
    }
    if !reply.allow.is_empty() {
        if let Ok(allow) = HeaderValue::from_str(&reply.allow.join(", ")) {
            headers.insert("allow", allow);
        }
    }
    response
}
