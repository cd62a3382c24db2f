//! The HTTP API for portals (docs/architecture.md, functions/api/openapi.json), behind an API
//! Gateway HTTP API.
//!
//! Every rule lives in the shared service (mec_shared::environments), which the CLI uses too:
//! this module only maps requests to its calls and its outcomes to HTTP answers.

pub mod errors;
pub mod routes;
pub mod settings;

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use mec_shared::environments::{Environments, Outcome};
use mec_shared::record::{EnvironmentRecord, EnvironmentSummary};
use mec_shared::EnvironmentSpec;
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
        let outcome = match operation {
            Operation::Create => self.environments.create(&parse_spec(body)?).await?,
            Operation::List => return self.list().await,
            Operation::Get => self.environments.get(name).await?,
            Operation::Delete => self.environments.delete(name).await?,
        };
        Ok(reply(outcome))
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
}

/// The HTTP answer of an outcome: 202 for a create or delete (started, or already under way),
/// 200 for a read, 404 and 409 with the error body.
fn reply(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Started { record, .. } | Outcome::Unchanged(record) => Reply::record(202, &record),
        Outcome::Found(record) => Reply {
            location: None,
            ..Reply::record(200, &record)
        },
        Outcome::NotFound(name) => ApiError::not_found(&name).into(),
        Outcome::Conflict { conflict, record } => ApiError::new(
            409,
            conflict.code(),
            conflict.message(&record.name),
            Some("name"),
        )
        .into(),
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
