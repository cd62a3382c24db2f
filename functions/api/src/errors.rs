//! The API's error answers: `{"error": {"code", "message", "field"}}` with a fitting status.
//! A bad request is always a 4xx; 5xx only when AWS or the deployment fails.

use mec_shared::MecError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable name of the error, for programs (e.g. `InvalidSpec`, `NameTaken`).
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
    /// The field at fault (a path like `tags.team` or `api_allowed_cidrs[0]`), when one is.
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub detail: ErrorDetail,
    /// For 405: the methods the path allows.
    pub allow: Vec<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                field: field.map(str::to_string),
            },
            allow: Vec::new(),
        }
    }

    pub fn not_found(name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("no environment named {name}"),
            Some("name"),
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.detail.clone(),
        }
    }
}

impl From<MecError> for ApiError {
    fn from(err: MecError) -> Self {
        let message = err.to_string();
        match &err {
            MecError::InvalidSpec { field, .. } | MecError::InvalidInput { field, .. } => {
                Self::new(400, err.error_type(), message, Some(field))
            }
            // The pipeline's AWS calls failed: say so, and whether trying again may help.
            MecError::Throttled { .. } | MecError::AwsUnavailable { .. } => {
                Self::new(503, err.error_type(), message, None)
            }
            MecError::Configuration(_) => Self::new(500, err.error_type(), message, None),
            _ => Self::new(502, err.error_type(), message, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_are_400_with_the_field() {
        let e = ApiError::from(MecError::invalid_spec(
            "workers",
            "must be between 0 and 100",
        ));
        assert_eq!(e.status, 400);
        assert_eq!(e.detail.code, "InvalidSpec");
        assert_eq!(e.detail.field.as_deref(), Some("workers"));
    }

    #[test]
    fn aws_failures_are_5xx() {
        let throttled = MecError::Throttled {
            operation: "ListExecutions".into(),
            message: "slow down".into(),
        };
        assert_eq!(ApiError::from(throttled).status, 503);
        assert_eq!(
            ApiError::from(MecError::Configuration("x".into())).status,
            500
        );
    }
}
