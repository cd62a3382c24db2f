//! One error type for every step, with stable names for the state machine.
//!
//! [`MecError::error_type`] is what a Lambda reports as `errorType`, and so the `Error` name that
//! the state machine's Retry and Catch rules match on. Retryable names describe a condition that
//! may pass (throttling, capacity, nodes still booting); the others are final.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
// The SDK's own lists (the ones its standard retry strategy classifies by), not copies.
use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};

/// Every `errorType` a mec Lambda can report.
pub const ERROR_TYPES: &[(&str, bool)] = &[
    ("InvalidSpec", false),
    ("InvalidInput", false),
    ("Configuration", false),
    ("Throttled", true),
    ("AwsUnavailable", true),
    ("CapacityUnavailable", true),
    ("NodesNotReady", true),
    ("ResourceInUse", true),
    ("CommandFailed", false),
    ("NodeLost", false),
    ("AwsError", false),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MecError {
    /// The environment spec breaks a rule.
    #[error("invalid spec: field `{field}` {rule}")]
    InvalidSpec { field: String, rule: String },
    /// A step's input (not the spec) is malformed.
    #[error("invalid input: field `{field}` {rule}")]
    InvalidInput { field: String, rule: String },
    /// The function is deployed with a missing or wrong setting.
    #[error("configuration: {0}")]
    Configuration(String),
    /// AWS throttled a call and the SDK's own retries ran out.
    #[error("throttled by AWS on {operation}: {message}")]
    Throttled { operation: String, message: String },
    /// AWS answered 5xx, timed out or could not be reached.
    #[error("AWS unavailable on {operation}: {message}")]
    AwsUnavailable { operation: String, message: String },
    /// EC2 has no capacity for the instance type right now.
    #[error("no EC2 capacity: {0}")]
    CapacityUnavailable(String),
    /// Nodes are not (yet) running, SSM-managed or Ready.
    #[error("nodes not ready: {0}")]
    NodesNotReady(String),
    /// A resource cannot be deleted yet because something still uses it.
    #[error("resource in use: {0}")]
    ResourceInUse(String),
    /// An SSM command failed on a node.
    #[error("command {document} failed on {node} ({status}): {excerpt}")]
    CommandFailed {
        document: String,
        node: String,
        status: String,
        excerpt: String,
    },
    /// A node of the environment was terminated or stopped under the pipeline's feet.
    #[error("node lost: {0}")]
    NodeLost(String),
    /// Any other AWS error: final.
    #[error("AWS error on {operation}: {code}: {message}")]
    AwsError {
        operation: String,
        code: String,
        message: String,
    },
}

impl MecError {
    pub fn invalid_spec(field: &str, rule: &str) -> Self {
        Self::InvalidSpec {
            field: field.to_string(),
            rule: rule.to_string(),
        }
    }

    pub fn invalid_input(field: &str, rule: &str) -> Self {
        Self::InvalidInput {
            field: field.to_string(),
            rule: rule.to_string(),
        }
    }

    /// The stable name reported as the Lambda `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidSpec { .. } => "InvalidSpec",
            Self::InvalidInput { .. } => "InvalidInput",
            Self::Configuration(_) => "Configuration",
            Self::Throttled { .. } => "Throttled",
            Self::AwsUnavailable { .. } => "AwsUnavailable",
            Self::CapacityUnavailable(_) => "CapacityUnavailable",
            Self::NodesNotReady(_) => "NodesNotReady",
            Self::ResourceInUse(_) => "ResourceInUse",
            Self::CommandFailed { .. } => "CommandFailed",
            Self::NodeLost(_) => "NodeLost",
            Self::AwsError { .. } => "AwsError",
        }
    }

    /// True when trying the same step again later may succeed.
    pub fn is_retryable(&self) -> bool {
        ERROR_TYPES
            .iter()
            .any(|(name, retryable)| *retryable && *name == self.error_type())
    }

    /// Maps an AWS SDK error to the mec error that says what to do about it.
    pub fn from_sdk<E>(operation: &str, err: SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().unwrap_or_default().to_string();
        let message = err
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| error_chain(&err));
        let operation = operation.to_string();
        match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                return Self::AwsUnavailable { operation, message }
            }
            SdkError::ConstructionFailure(_) => {
                return Self::AwsError {
                    operation,
                    code: "ConstructionFailure".into(),
                    message,
                }
            }
            _ => {}
        }
        if THROTTLING_ERRORS.contains(&code.as_str()) || status == Some(429) {
            Self::Throttled { operation, message }
        } else if CAPACITY_CODES.contains(&code.as_str()) {
            Self::CapacityUnavailable(format!("{operation}: {code}: {message}"))
        } else if code == "DependencyViolation" {
            Self::ResourceInUse(format!("{operation}: {message}"))
        } else if status.is_some_and(|s| s >= 500)
            || UNAVAILABLE_CODES.contains(&code.as_str())
            || TRANSIENT_ERRORS.contains(&code.as_str())
        {
            Self::AwsUnavailable { operation, message }
        } else {
            Self::AwsError {
                operation,
                code: if code.is_empty() {
                    "Unknown".into()
                } else {
                    code
                },
                message,
            }
        }
    }
}

const CAPACITY_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity",
    "UnfulfillableCapacity",
];

const UNAVAILABLE_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "Unavailable",
];

/// The whole `source()` chain of an error, for errors that carry no service message.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

impl From<MecError> for Diagnostic {
    fn from(err: MecError) -> Self {
        Diagnostic {
            error_type: err.error_type().to_string(),
            error_message: err.to_string(),
        }
    }
}

/// The `{type, message}` pair kept in an environment record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorInfo {
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
}

impl From<&MecError> for ErrorInfo {
    fn from(err: &MecError) -> Self {
        Self {
            error_type: err.error_type().to_string(),
            message: err.to_string(),
        }
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_listed_name() {
        let samples = [
            MecError::invalid_spec("name", "x"),
            MecError::invalid_input("action", "x"),
            MecError::Configuration("x".into()),
            MecError::Throttled {
                operation: "o".into(),
                message: "m".into(),
            },
            MecError::AwsUnavailable {
                operation: "o".into(),
                message: "m".into(),
            },
            MecError::CapacityUnavailable("x".into()),
            MecError::NodesNotReady("x".into()),
            MecError::ResourceInUse("x".into()),
            MecError::CommandFailed {
                document: "d".into(),
                node: "n".into(),
                status: "Failed".into(),
                excerpt: "e".into(),
            },
            MecError::NodeLost("x".into()),
            MecError::AwsError {
                operation: "o".into(),
                code: "c".into(),
                message: "m".into(),
            },
        ];
        assert_eq!(samples.len(), ERROR_TYPES.len());
        for err in samples {
            assert!(ERROR_TYPES.iter().any(|(n, _)| *n == err.error_type()));
        }
    }

    #[test]
    fn retryable_split() {
        assert!(MecError::Throttled {
            operation: "o".into(),
            message: "m".into()
        }
        .is_retryable());
        assert!(MecError::CapacityUnavailable("x".into()).is_retryable());
        assert!(MecError::NodesNotReady("x".into()).is_retryable());
        assert!(!MecError::invalid_spec("name", "x").is_retryable());
        assert!(!MecError::Configuration("x".into()).is_retryable());
    }

    #[test]
    fn diagnostic_carries_the_stable_name() {
        let d: Diagnostic = MecError::invalid_spec("workers", "must be between 0 and 100").into();
        assert_eq!(d.error_type, "InvalidSpec");
        assert!(d.error_message.contains("`workers`"));
    }
}
