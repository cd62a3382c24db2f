//! What every Lambda's `main` shares: structured logs and the runtime loop.

use std::future::Future;

use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::error::MecError;

/// JSON logs in Lambda (one object a line, with the current span's fields: environment, step);
/// readable text elsewhere. `RUST_LOG` sets the level (default `info`).
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time();
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.compact().init();
    }
}

/// Runs `handler` for every invocation. The event is handed over as raw JSON so that the handler,
/// not the runtime, reports a malformed event (as `InvalidInput`, naming the field).
pub async fn serve<F, Fut, O>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<O, MecError>>,
    O: Serialize,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        handler(event.payload)
    }))
    .await
}
